import { runInDurableObject } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { call, json } from '../../support/workers/http';
import { signup } from '../../support/workers/tenants';
import { runStub, settled } from './_engine-kit';
import { createFlow, node, startRun } from './_support';

const t = (id: string, expression: string) => ({ id, type: 'transform', config: { expression } });

describe('flow engine', () => {
  it('runs a linear flow and exposes outputs', async () => {
    const owner = await signup('flows');
    const flowId = await createFlow(owner, {
      input: { type: 'object', properties: { n: { type: 'number' } }, required: ['n'] },
      nodes: [t('a', 'input.n + 1'), t('b', 'nodes.a.output * 2'), t('c', '{"result": nodes.b.output}')],
      edges: [
        { from: 'a', to: 'b' },
        { from: 'b', to: 'c' },
      ],
    });
    const run = await startRun(owner, flowId, { n: 4 });
    const done = await settled(owner, run.id);
    expect(done.status).toBe('succeeded');
    expect(node(done, 'b').output).toBe(10);
    expect(done.output).toEqual({ c: { result: 10 } });
    // Migration 4 dropped the never-used run_meta table.
    const tables = await runInDurableObject(runStub(run.id), (_i, state) =>
      state.storage.sql
        .exec<{ name: string }>(`SELECT name FROM sqlite_master WHERE type = 'table'`)
        .toArray()
        .map((r) => r.name),
    );
    expect(tables).toContain('nodes');
    expect(tables).not.toContain('run_meta');
  });

  it('diamond with a condition: untaken branch is skipped', async () => {
    const owner = await signup('cond');
    const flowId = await createFlow(owner, {
      nodes: [
        { id: 'check', type: 'condition', config: { expression: 'input.x > 5' } },
        t('big', '"big"'),
        t('small', '"small"'),
        t('join', '[nodes.big.output, nodes.small.output]'),
      ],
      edges: [
        { from: 'check', to: 'big', when: 'true' },
        { from: 'check', to: 'small', when: 'false' },
        { from: 'big', to: 'join' },
        { from: 'small', to: 'join' },
      ],
    });
    const done = await settled(owner, (await startRun(owner, flowId, { x: 9 })).id);
    expect(done.status).toBe('succeeded');
    expect(node(done, 'small').status).toBe('skipped');
    expect(node(done, 'big').status).toBe('succeeded');
    expect(node(done, 'join').output).toEqual(['big', null]);
  });

  it('approval waits for a signal', async () => {
    const owner = await signup('appr');
    const flowId = await createFlow(owner, {
      nodes: [{ id: 'ok', type: 'approval', config: {} }, t('after', 'nodes.ok.output.approved')],
      edges: [{ from: 'ok', to: 'after' }],
    });
    const run = await startRun(owner, flowId);
    expect((await settled(owner, run.id)).status).toBe('waiting');
    const sig = await call(`/v1/runs/${run.id}/signal`, { token: owner.accessToken, body: { payload: { approved: true } } });
    expect(sig.status).toBe(200);
    const done = await settled(owner, run.id);
    expect(done.status).toBe('succeeded');
    expect(node(done, 'after').output).toBe(true);
    expect((await json(await call(`/v1/runs/${run.id}/signal`, { token: owner.accessToken, body: {} }))).status).toBe(409);
  });
});
