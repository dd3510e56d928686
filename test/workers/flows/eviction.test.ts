/**
 * Crash safety (design invariant 2 and 5): the FlowRun object is torn down while a node's http request
 * is in flight. The run resumes from its persisted state when the alarm runs again, completes, and
 * records each node's success exactly once; the re-sent request carries the same idempotency key.
 */
import { abortAllDurableObjects, runDurableObjectAlarm } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { signup } from '../../support/workers/tenants';
import {
  allowLocalHttp,
  createFlow,
  edge,
  endpoint,
  events,
  getRun,
  hits,
  http,
  newKey,
  node,
  ofType,
  release,
  runStub,
  startRun,
  successCounts,
  transform,
  until,
  waitFor,
} from './_engine-kit';

async function flowWithHeldCall(tag: string, timeoutMs = 15_000) {
  const t = await signup(tag);
  await allowLocalHttp(t);
  const key = newKey(tag);
  const flowId = await createFlow(t, {
    nodes: [
      transform('a', 'input.x'),
      http('call', endpoint(key, { hold: 1 }), {}, { method: 'POST', body: '{"x": nodes.a.output}', timeoutMs }),
      transform('c', 'nodes.call.output.body.n'),
      transform('side', '"side"'),
    ],
    edges: [edge('a', 'call'), edge('call', 'c')],
  });
  return { t, key, flowId };
}

/**
 * Drives the run until it is terminal: its pending alarm (the platform retries an alarm whose handler
 * died), or — when no alarm is left, as after a test-triggered alarm was torn down — kick(), which is
 * what the cron sweeper does for a stuck run.
 */
async function driveToEnd(t: Parameters<typeof waitFor>[0], runId: string) {
  const stub = runStub(runId);
  return until(
    'the run to finish',
    async () => {
      const ran = await runDurableObjectAlarm(stub).catch(() => false);
      const run = await getRun(t, runId);
      if (['succeeded', 'failed', 'cancelled'].includes(run.status)) return run;
      if (!ran) await stub.kick();
      return undefined;
    },
    15_000,
  );
}

describe('eviction mid-step', () => {
  it('abortAllDurableObjects while the http node is in flight: the run completes, every success recorded once', async () => {
    const { t, key, flowId } = await flowWithHeldCall('evict-abort');
    const run = await startRun(t, flowId, { x: 5 });
    await until('the request to arrive', async () => ((await hits(key)).length ? true : undefined));
    const mid = await waitFor(t, run.id, ['running']);
    expect(node(mid, 'call').status).toBe('running');

    // Tear the object down mid-step (in-memory state and the in-flight fetch are gone; storage stays).
    await abortAllDurableObjects();
    await release(key);

    const done = await driveToEnd(t, run.id);
    expect(done.status).toBe('succeeded');
    expect(await successCounts(run.id)).toEqual({ a: 1, call: 1, c: 1, side: 1 });
    // At least once: the call was made again after the crash, as the same attempt (same idempotency key).
    const h = await hits(key);
    expect(h.length).toBeGreaterThanOrEqual(2);
    expect(new Set(h.map((x) => x.idempotencyKey))).toEqual(new Set([`${run.id}:call:1`]));
    expect(node(done, 'c').output).toBe(h.at(-1)!.n);
    const ev = await events(run.id);
    expect(ofType(ev, 'node.succeeded', 'call')).toHaveLength(1);
    expect(ofType(ev, 'node.started', 'call').some((e) => e.data.resumed === true)).toBe(true);
    expect(ofType(ev, 'node.started', 'a')).toHaveLength(1);
    expect(ofType(ev, 'run.completed')).toHaveLength(1);
    // The event log stayed gap-free across the crash.
    expect(ev.map((e) => e.seq)).toEqual(ev.map((_, i) => i + 1));
  });

  it('torn down twice (first attempt, then the resumed one): still completes with one success per node', async () => {
    const { t, key, flowId } = await flowWithHeldCall('evict-twice');
    const run = await startRun(t, flowId, { x: 3 });
    await until('the first request', async () => ((await hits(key)).length >= 1 ? true : undefined));
    await abortAllDurableObjects();
    // The re-driven attempt reaches the endpoint (still held) and is torn down again.
    const redriving = runDurableObjectAlarm(runStub(run.id)).catch(() => false);
    await until('the second request', async () => ((await hits(key)).length >= 2 ? true : undefined));
    await abortAllDurableObjects();
    await redriving;
    await release(key);
    const done = await driveToEnd(t, run.id);
    expect(done.status, JSON.stringify(done.nodes.map((n: any) => [n.id, n.status, n.error?.message]))).toBe('succeeded');
    expect(await successCounts(run.id)).toEqual({ a: 1, call: 1, c: 1, side: 1 });
    expect(new Set((await hits(key)).map((x) => x.idempotencyKey))).toEqual(new Set([`${run.id}:call:1`]));
    expect(ofType(await events(run.id), 'node.succeeded', 'call')).toHaveLength(1);
  });

  it('the sweeper path: kick() re-arms a run whose alarm was lost, and it completes', async () => {
    const { t, key, flowId } = await flowWithHeldCall('evict-kick');
    const run = await startRun(t, flowId, { x: 2 });
    await until('the request to arrive', async () => ((await hits(key)).length ? true : undefined));
    await abortAllDurableObjects();
    await release(key);
    const stub = runStub(run.id);
    // What the cron sweeper does for a run that looks stuck: kick() re-arms it from its persisted state.
    expect(await stub.kick()).toMatch(/running|waiting|succeeded/);
    const done = await driveToEnd(t, run.id);
    expect(done.status).toBe('succeeded');
    expect(await successCounts(run.id)).toEqual({ a: 1, call: 1, c: 1, side: 1 });
  });
});
