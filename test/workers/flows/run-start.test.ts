/**
 * Starting a run in one round trip (issue 20): the FlowRun stores, admits and starts the run, and writes
 * its own D1 index row through its report outbox; until that row lands the run's object answers for it
 * (to its own tenant only). The request's stages come back in Server-Timing in test.
 */
import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config';
import { getDb } from '../../../src/db/client';
import { TenantScope } from '../../../src/db/tenant-scope';
import { getRun as getRunApi } from '../../../src/flows/runs-api';
import type { ServiceCtx } from '../../../src/lib/context';
import { eventually } from '../../support/shared/time';
import { call, expectJson, expectProblem } from '../../support/workers/http';
import { signup } from '../../support/workers/tenants';
import { approval, createFlow, ok, startRun, transform } from './_engine-kit';

const indexRow = (id: string) =>
  env.DB.prepare('SELECT tenant_id, flow_id, flow_version, status, created_by, rerun_of, parent_run_id FROM runs WHERE id = ?')
    .bind(id)
    .first<Record<string, unknown>>();

describe('run start', () => {
  it('the run writes its own index row (who started it, rerun of what) and its status follows', async () => {
    const t = await signup('run-start-index');
    const flowId = await createFlow(t, {
      nodes: [transform('a', '1'), transform('b', 'nodes.a.output + 1')],
      edges: [{ from: 'a', to: 'b' }],
    });
    const run = await startRun(t, flowId);
    const row = await eventually(async () => ((await indexRow(run.id))?.status === 'succeeded' ? indexRow(run.id) : undefined), {
      what: 'the index row, succeeded',
    });
    expect(row).toMatchObject({
      tenant_id: t.tenantId,
      flow_id: flowId,
      flow_version: 1,
      created_by: t.userId,
      rerun_of: null,
      parent_run_id: null,
    });
    const rerun = await ok(t, 'POST', `/v1/runs/${run.id}/rerun`, { fromNode: 'b' }, 201);
    const rerunRow = await eventually(() => indexRow(rerun.id).then((r) => r ?? undefined), { what: 'the rerun index row' });
    expect(rerunRow).toMatchObject({ rerun_of: run.id, created_by: t.userId });
  });

  it('before its index row lands, a run answers its own tenant from its object and is 404 to another', async () => {
    const t = await signup('run-start-fresh');
    const other = await signup('run-start-other');
    const flowId = await createFlow(t, { nodes: [approval('gate')] });
    const run = await startRun(t, flowId);
    await eventually(() => indexRow(run.id).then((r) => r ?? undefined), { what: 'the index row' });
    // As if the index row had not landed yet.
    await env.DB.prepare('DELETE FROM runs WHERE id = ?').bind(run.id).run();
    const seen = await expectJson(await call(`/v1/runs/${run.id}`, { token: t.accessToken }));
    expect(seen).toMatchObject({ id: run.id, tenantId: t.tenantId, status: 'waiting' });
    await expectProblem(await call(`/v1/runs/${run.id}`, { token: other.accessToken }), 404);
    await expectProblem(await call(`/v1/runs/${run.id}/cancel`, { token: other.accessToken, body: {} }), 404);
    expect((await call(`/v1/runs?limit=100`, { token: t.accessToken }).then((r) => r.json())) as { data: unknown[] }).toMatchObject({
      data: [],
    });
  });

  it("GET /v1/runs/{id} is answered by the run's object alone: D1 is read only when the object has nothing", async () => {
    const t = await signup('run-get-one-trip');
    const other = await signup('run-get-other');
    const run = await startRun(t, await createFlow(t, { nodes: [approval('gate')] }));
    await eventually(() => indexRow(run.id).then((r) => r ?? undefined), { what: 'the index row' });
    // A D1 binding that counts the statements it is asked to prepare.
    const counted = (tenantId: string) => {
      const calls: string[] = [];
      const DB = new Proxy(env.DB, {
        get(target, prop) {
          const value = Reflect.get(target, prop);
          if (typeof value !== 'function') return value;
          return (...args: unknown[]) => {
            calls.push(String(prop));
            return (value as (...a: unknown[]) => unknown).apply(target, args);
          };
        },
      });
      const db = getDb(DB);
      const ctx = { env: { ...env, DB }, db, scope: new TenantScope(db, tenantId), tenantId, now: new Date(), config: loadConfig(env) };
      return { ctx: ctx as unknown as ServiceCtx, calls };
    };
    const own = counted(t.tenantId);
    expect(await getRunApi(own.ctx, { id: run.id })).toMatchObject({ id: run.id, tenantId: t.tenantId, status: 'waiting' });
    expect(own.calls).toEqual([]);
    // Another tenant's run: not found, still without D1.
    const foreign = counted(other.tenantId);
    await expect(getRunApi(foreign.ctx, { id: run.id })).rejects.toMatchObject({ status: 404 });
    expect(foreign.calls).toEqual([]);
    // No such run: the object holds nothing, so D1 says whether it ever was (404 here, 410 past retention).
    const missing = counted(t.tenantId);
    await expect(getRunApi(missing.ctx, { id: 'run_doesnotexist0000000000000' })).rejects.toMatchObject({ status: 404 });
    expect(missing.calls.length).toBeGreaterThan(0);
    await ok(t, 'POST', `/v1/runs/${run.id}/cancel`, {});
  });

  it('a new version applies to the next start at once; a deleted flow starts nothing', async () => {
    const t = await signup('run-start-version');
    const flowId = await createFlow(t, { nodes: [transform('a', '1')] });
    expect((await startRun(t, flowId)).flowVersion).toBe(1);
    await ok(t, 'PUT', `/v1/flows/${flowId}`, { name: 'v2', definition: { nodes: [transform('a', '2')] } });
    expect((await startRun(t, flowId)).flowVersion).toBe(2);
    await ok(t, 'DELETE', `/v1/flows/${flowId}`, undefined, 204);
    await expectProblem(await call(`/v1/flows/${flowId}/runs`, { token: t.accessToken, body: { input: {} } }), 404);
  });

  it('answers carry their stages in Server-Timing outside staging and production', async () => {
    const t = await signup('run-start-timing');
    const res = await call('/v1/tasks', { token: t.accessToken, body: { title: 'timed' } });
    await expectJson(res, 201);
    const names = (res.headers.get('server-timing') ?? '').split(',').map((p) => p.trim().split(';')[0]);
    expect(names).toEqual(expect.arrayContaining(['credential', 'ratelimit', 'hub', 'total']));
    const flowId = await createFlow(t, { nodes: [transform('a', '1')] });
    const started = await call(`/v1/flows/${flowId}/runs`, { token: t.accessToken, body: { input: {} } });
    await expectJson(started, 201);
    expect(started.headers.get('server-timing')).toMatch(/version;dur=[\d.]+, flowrun;dur=[\d.]+/);
  });
});
