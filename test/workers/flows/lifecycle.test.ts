/**
 * Run lifecycle verbs: a durable delay (the run parks as 'waiting' and an alarm wakes it), cancel
 * mid-run (approval waiting, slow http in flight), resume after a failure (only failed/cancelled/skipped
 * nodes run again; each success recorded once), rerun from a node with changed input (upstream reused).
 */
import { runDurableObjectAlarm } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { signup } from '../../support/workers/tenants';
import {
  allowLocalHttp,
  api,
  approval,
  createFlow,
  edge,
  endpoint,
  events,
  hits,
  http,
  newKey,
  node,
  ofType,
  ok,
  release,
  runStub,
  script,
  startRun,
  successCounts,
  transform,
  until,
  waitFor,
} from './_engine-kit';

describe('durable delay', () => {
  it('a 1 s delay parks the run as waiting, then the alarm completes it', async () => {
    const t = await signup('l-delay');
    const flowId = await createFlow(t, {
      nodes: [transform('a', '1'), { id: 'nap', type: 'delay', config: { ms: 1000 } }, transform('b', 'nodes.a.output + 1')],
      edges: [edge('a', 'nap'), edge('nap', 'b')],
    });
    const run = await startRun(t, flowId);
    const waiting = await waitFor(t, run.id, ['waiting', 'succeeded']);
    expect(waiting.status).toBe('waiting');
    expect(node(waiting, 'nap').status).toBe('waiting');
    expect(node(waiting, 'b').status).toBe('pending');
    // The wake-up is an alarm; firing it early must not end the delay early.
    const stub = runStub(run.id);
    await runDurableObjectAlarm(stub);
    const early = await ok(t, 'GET', `/v1/runs/${run.id}`);
    if (early.status !== 'succeeded') expect(node(early, 'nap').status).toBe('waiting');
    const done = await waitFor(t, run.id, ['succeeded', 'failed', 'cancelled'], 10_000);
    expect(done.status).toBe('succeeded');
    expect(node(done, 'b').output).toBe(2);
    const ev = await events(run.id);
    expect(ofType(ev, 'run.waiting')).toHaveLength(1);
    const napDone = ofType(ev, 'node.succeeded', 'nap')[0]!;
    expect(Date.parse(napDone.at) - Date.parse(ofType(ev, 'node.started', 'nap')[0]!.at)).toBeGreaterThanOrEqual(990);
    expect(await successCounts(run.id)).toEqual({ a: 1, nap: 1, b: 1 });
    // The D1 index followed (the tenant's hub writes it once the run reports): waiting, then succeeded.
    const listed = await until('the D1 index to say succeeded', async () => {
      const first = (await ok(t, 'GET', `/v1/runs?flowId=${flowId}`)).data[0];
      return first?.status === 'succeeded' ? first : undefined;
    });
    expect(listed).toMatchObject({ id: run.id, status: 'succeeded' });
  });
});

describe('approval', () => {
  it('an approval past its timeout fails the node (and the run)', async () => {
    const t = await signup('l-appr-timeout');
    const flowId = await createFlow(t, {
      nodes: [approval('gate', { timeoutMs: 1000 }), transform('after', '1')],
      edges: [edge('gate', 'after')],
    });
    const run = await startRun(t, flowId);
    await waitFor(t, run.id, ['waiting']);
    const done = await waitFor(t, run.id, undefined, 10_000);
    expect(done.status).toBe('failed');
    expect(node(done, 'gate')).toMatchObject({ status: 'failed' });
    expect(node(done, 'gate').error.kind).toBe('timeout');
    expect((await api(t, 'POST', `/v1/runs/${run.id}/signal`, { payload: 1 })).status).toBe(409);
  });

  it('two approvals waiting: an unnamed signal is 409 naming them; a named one goes to that node only', async () => {
    const t = await signup('l-appr-two');
    const flowId = await createFlow(t, {
      nodes: [approval('legal'), approval('finance'), transform('after', '[nodes.legal.output, nodes.finance.output]')],
      edges: [edge('legal', 'after'), edge('finance', 'after')],
    });
    const run = await startRun(t, flowId);
    await waitFor(t, run.id, ['waiting']);
    const unnamed = await api(t, 'POST', `/v1/runs/${run.id}/signal`, { payload: 'x' });
    expect(unnamed.status).toBe(409);
    expect(unnamed.body.detail).toMatch(/legal/);
    expect(unnamed.body.detail).toMatch(/finance/);
    expect((await api(t, 'POST', `/v1/runs/${run.id}/signal`, { node: 'nobody', payload: 'x' })).status).toBe(409);
    const afterLegal = await ok(t, 'POST', `/v1/runs/${run.id}/signal`, { node: 'legal', payload: 'L' });
    expect(node(afterLegal, 'legal').status).toBe('succeeded');
    expect(node(afterLegal, 'finance').status).toBe('waiting');
    await ok(t, 'POST', `/v1/runs/${run.id}/signal`, { node: 'finance', payload: 'F' });
    const done = await waitFor(t, run.id);
    expect(node(done, 'after').output).toEqual(['L', 'F']);
    expect(await successCounts(run.id)).toEqual({ legal: 1, finance: 1, after: 1 });
  });
});

describe('cancel mid-run', () => {
  it('while an approval waits: run and open nodes cancelled; second cancel is 409; signal after cancel is 409', async () => {
    const t = await signup('l-cancel-appr');
    const flowId = await createFlow(t, {
      nodes: [transform('a', '1'), approval('gate'), transform('b', '2')],
      edges: [edge('a', 'gate'), edge('gate', 'b')],
    });
    const run = await startRun(t, flowId);
    await waitFor(t, run.id, ['waiting']);
    const cancelled = await ok(t, 'POST', `/v1/runs/${run.id}/cancel`, { reason: 'changed my mind' });
    expect(cancelled.status).toBe('cancelled');
    expect(node(cancelled, 'a').status).toBe('succeeded');
    expect(node(cancelled, 'gate').status).toBe('cancelled');
    expect(node(cancelled, 'b').status).toBe('cancelled');
    expect(cancelled.error).toMatch(/changed my mind/);
    const again = await api(t, 'POST', `/v1/runs/${run.id}/cancel`, {});
    expect(again.status).toBe(409);
    expect(again.body.code).toBe('conflict');
    expect((await api(t, 'POST', `/v1/runs/${run.id}/signal`, { payload: { ok: true } })).status).toBe(409);
    const ev = await events(run.id);
    expect(ofType(ev, 'run.cancelled')).toHaveLength(1);
    expect(ofType(ev, 'node.started', 'b')).toHaveLength(0);
    // The D1 index and the list agree.
    await until('D1 status cancelled', async () =>
      (await ok(t, 'GET', `/v1/runs?status=cancelled`)).data.some((r: any) => r.id === run.id) ? true : undefined,
    );
  });

  it('while an http request is in flight: the request is aborted and the node cancelled', async () => {
    const t = await signup('l-cancel-http');
    await allowLocalHttp(t);
    const key = newKey('held');
    const flowId = await createFlow(t, {
      nodes: [http('slow', endpoint(key, { hold: 1 })), transform('after', '1')],
      edges: [edge('slow', 'after')],
    });
    const run = await startRun(t, flowId);
    try {
      await until('the request to arrive', async () => ((await hits(key)).length ? true : undefined));
      const cancelled = await ok(t, 'POST', `/v1/runs/${run.id}/cancel`, {});
      expect(cancelled.status).toBe('cancelled');
      expect(node(cancelled, 'slow').status).toBe('cancelled');
      expect(node(cancelled, 'after').status).toBe('cancelled');
      expect((await api(t, 'POST', `/v1/runs/${run.id}/cancel`, {})).status).toBe(409);
      // The aborted attempt does not record anything afterwards.
      const later = await ok(t, 'GET', `/v1/runs/${run.id}`);
      expect(later.status).toBe('cancelled');
      expect(await successCounts(run.id)).toEqual({ slow: 0, after: 0 });
      await until('the held request to be dropped', async () => ((await hits(key))[0]!.closedEarly ? true : undefined));
      // The cancel's reports were written while the run's alarm was driving it (awaiting the request), so
      // they armed no alarm of their own: that alarm delivers them (or re-arms for them), and D1 follows.
      await until('D1 status cancelled', async () =>
        (await ok(t, 'GET', `/v1/runs?status=cancelled`)).data.some((r: any) => r.id === run.id) ? true : undefined,
      );
    } finally {
      await release(key);
    }
  });
});

describe('resume after failure', () => {
  it('only failed and skipped/cancelled nodes run again; each success is recorded once', async () => {
    const t = await signup('l-resume');
    await allowLocalHttp(t);
    const key = newKey('resume');
    const flowId = await createFlow(t, {
      nodes: [
        transform('a', 'input.x'),
        transform('side', '"side"'),
        http('call', endpoint(key, { fail: 99 }), { retry: { maxAttempts: 2, backoffMs: 10 } }),
        transform('c', 'nodes.call.output.body.n + nodes.a.output'),
      ],
      edges: [edge('a', 'call'), edge('call', 'c')],
    });
    const run = await startRun(t, flowId, { x: 1000 });
    const failed = await waitFor(t, run.id);
    expect(failed.status).toBe('failed');
    expect(node(failed, 'call')).toMatchObject({ status: 'failed', attempts: 2 });
    expect(node(failed, 'c').status).toMatch(/cancelled|skipped/);
    expect(node(failed, 'a').status).toBe('succeeded');

    // A succeeded run cannot be resumed; a failed one can.
    await script(key, { fail: 0 });
    const resumed = await api(t, 'POST', `/v1/runs/${run.id}/resume`);
    expect(resumed.status).toBe(200);
    const done = await waitFor(t, run.id);
    expect(done.status).toBe('succeeded');
    expect(node(done, 'call').status).toBe('succeeded');
    expect(node(done, 'c').output).toBe(1003);
    expect(done.error).toBeNull();
    expect(await successCounts(run.id)).toEqual({ a: 1, side: 1, call: 1, c: 1 });
    const ev = await events(run.id);
    // Succeeded nodes were not started again.
    expect(ofType(ev, 'node.started', 'a')).toHaveLength(1);
    expect(ofType(ev, 'node.started', 'side')).toHaveLength(1);
    expect(ofType(ev, 'node.started', 'c')).toHaveLength(1);
    expect(ofType(ev, 'run.resumed').length).toBeGreaterThanOrEqual(1);
    expect(ofType(ev, 'run.completed')).toHaveLength(1);
    expect((await hits(key)).length).toBe(3);
    expect((await api(t, 'POST', `/v1/runs/${run.id}/resume`)).status).toBe(409);
  });

  it('a resumed node gets its retry budget again', async () => {
    const t = await signup('l-resume-retry');
    await allowLocalHttp(t);
    const key = newKey('budget');
    const flowId = await createFlow(t, { nodes: [http('call', endpoint(key, { fail: 2 }), { retry: { maxAttempts: 2, backoffMs: 10 } })] });
    const run = await startRun(t, flowId);
    expect((await waitFor(t, run.id)).status).toBe('failed');
    // Fails once more after the resume, then succeeds: within a fresh budget of 2 attempts.
    await script(key, { fail: 3 });
    expect((await api(t, 'POST', `/v1/runs/${run.id}/resume`)).status).toBe(200);
    const done = await waitFor(t, run.id);
    expect(done.status, JSON.stringify(node(done, 'call'))).toBe('succeeded');
    expect(await successCounts(run.id)).toEqual({ call: 1 });
  });

  it('a cancelled run resumes too; the approval waits again', async () => {
    const t = await signup('l-resume-cancel');
    const flowId = await createFlow(t, {
      nodes: [transform('a', '1'), approval('gate'), transform('b', 'nodes.gate.output.v')],
      edges: [edge('a', 'gate'), edge('gate', 'b')],
    });
    const run = await startRun(t, flowId);
    await waitFor(t, run.id, ['waiting']);
    await ok(t, 'POST', `/v1/runs/${run.id}/cancel`, {});
    await ok(t, 'POST', `/v1/runs/${run.id}/resume`);
    await waitFor(t, run.id, ['waiting']);
    await ok(t, 'POST', `/v1/runs/${run.id}/signal`, { payload: { v: 7 } });
    const done = await waitFor(t, run.id);
    expect(done.status).toBe('succeeded');
    expect(node(done, 'b').output).toBe(7);
    expect(await successCounts(run.id)).toEqual({ a: 1, gate: 1, b: 1 });
  });
});

describe('rerun from a node', () => {
  it('with changed input: upstream outputs reused, fromNode and downstream recomputed; the old run unchanged', async () => {
    const t = await signup('l-rerun');
    const flowId = await createFlow(t, {
      input: { type: 'object', properties: { x: { type: 'number' }, k: { type: 'number' } }, required: ['x', 'k'] },
      nodes: [
        transform('a', 'input.x'),
        transform('side', '"s" & $string(input.x)'),
        transform('b', 'nodes.a.output * input.k'),
        transform('c', 'nodes.b.output + 1'),
        transform('d', '[nodes.c.output, nodes.side.output]'),
      ],
      edges: [edge('a', 'b'), edge('b', 'c'), edge('c', 'd'), edge('side', 'd')],
    });
    const first = await waitFor(t, (await startRun(t, flowId, { x: 2, k: 10 })).id);
    expect(first.status).toBe('succeeded');
    expect(node(first, 'd').output).toEqual([21, 's2']);

    const res = await api(t, 'POST', `/v1/runs/${first.id}/rerun`, { fromNode: 'b', input: { x: 999, k: 100 } });
    expect(res.status).toBe(201);
    const second = res.body;
    expect(second.id).not.toBe(first.id);
    const done = await waitFor(t, second.id);
    expect(done.status).toBe('succeeded');
    // a is upstream of b: reused from the first run (its old output, although x changed).
    expect(node(done, 'a')).toMatchObject({ status: 'succeeded', reused: true, output: 2 });
    // b and everything downstream ran again with the new input.
    expect(node(done, 'b')).toMatchObject({ reused: false, output: 200 });
    expect(node(done, 'c')).toMatchObject({ reused: false, output: 201 });
    // side is not upstream of b: recomputed with the new input.
    expect(node(done, 'side')).toMatchObject({ reused: false, output: 's999' });
    expect(node(done, 'd').output).toEqual([201, 's999']);
    expect(done.input).toEqual({ x: 999, k: 100 });
    const ev = await events(second.id);
    expect(ofType(ev, 'node.started', 'a')).toHaveLength(0);
    expect(await successCounts(second.id)).toEqual({ a: 1, side: 1, b: 1, c: 1, d: 1 });
    // The list links the rerun to its origin; the first run is unchanged.
    const listed = await until('the rerun in the D1 index', async () => {
      const data = (await ok(t, 'GET', `/v1/runs?flowId=${flowId}`)).data as any[];
      return data.some((r) => r.id === second.id) ? data : undefined;
    });
    expect(listed.find((r) => r.id === second.id)).toMatchObject({ rerunOf: first.id });
    expect(await ok(t, 'GET', `/v1/runs/${first.id}`)).toEqual(first);
  });

  it('without input: the original input is used', async () => {
    const t = await signup('l-rerun-same');
    const flowId = await createFlow(t, {
      nodes: [transform('a', 'input.v'), transform('b', 'nodes.a.output & "!"')],
      edges: [edge('a', 'b')],
    });
    const first = await waitFor(t, (await startRun(t, flowId, { v: 'hey' })).id);
    const res = await api(t, 'POST', `/v1/runs/${first.id}/rerun`, { fromNode: 'a' });
    expect(res.status).toBe(201);
    const done = await waitFor(t, res.body.id);
    expect(done.input).toEqual({ v: 'hey' });
    expect(node(done, 'a').reused).toBe(false);
    expect(node(done, 'b').output).toBe('hey!');
  });

  it('unknown fromNode and input that breaks the schema are 422', async () => {
    const t = await signup('l-rerun-bad');
    const flowId = await createFlow(t, {
      input: { type: 'object', properties: { n: { type: 'number' } }, required: ['n'] },
      nodes: [transform('a', 'input.n')],
    });
    const first = await waitFor(t, (await startRun(t, flowId, { n: 1 })).id);
    const unknown = await api(t, 'POST', `/v1/runs/${first.id}/rerun`, { fromNode: 'ghost' });
    expect(unknown.status).toBe(422);
    expect(unknown.body.errors[0]).toMatchObject({ path: 'fromNode' });
    const badInput = await api(t, 'POST', `/v1/runs/${first.id}/rerun`, { fromNode: 'a', input: { n: 'x' } });
    expect(badInput.status).toBe(422);
    expect(badInput.body.errors[0]).toMatchObject({ path: 'input.n' });
  });
});
