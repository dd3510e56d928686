/**
 * Retries and failure policies with the http node against the scripted endpoint
 * (test/support/node/flow-http.ts): flaky then success, retries exhausted under fail_fast (a slow
 * sibling is cancelled) and under continue (independent branches finish, downstream is skipped),
 * non-retryable 4xx, 429 with Retry-After, the tenant allow-list, and idempotency keys per attempt.
 */
import { describe, expect, it } from 'vitest';
import { signup } from '../../support/workers/tenants';
import {
  allowLocalHttp,
  createFlow,
  edge,
  endpoint,
  events,
  hits,
  http,
  newKey,
  node,
  ofType,
  release,
  startRun,
  successCounts,
  transform,
  waitFor,
} from './_engine-kit';

const RETRY3 = { retry: { maxAttempts: 3, backoffMs: 10 } };

describe('retries', () => {
  it('flaky endpoint (fails twice): succeeds on attempt 3 with two node.retrying events', async () => {
    const t = await signup('r-flaky');
    await allowLocalHttp(t);
    const key = newKey('flaky');
    const flowId = await createFlow(t, {
      nodes: [http('call', endpoint(key, { fail: 2 }), RETRY3), transform('after', 'nodes.call.output.body.n')],
      edges: [edge('call', 'after')],
    });
    const run = await startRun(t, flowId);
    const done = await waitFor(t, run.id);
    expect(done.status).toBe('succeeded');
    expect(node(done, 'call')).toMatchObject({ status: 'succeeded', attempts: 3, error: null });
    expect(node(done, 'call').output).toMatchObject({ status: 200, body: { key, n: 3 } });
    expect(node(done, 'after').output).toBe(3);
    const ev = await events(run.id);
    const retrying = ofType(ev, 'node.retrying', 'call');
    expect(retrying).toHaveLength(2);
    expect(retrying.map((e) => [e.data.attempt, e.data.nextAttempt, e.data.error.kind])).toEqual([
      [1, 2, 'http_5xx'],
      [2, 3, 'http_5xx'],
    ]);
    // Backoff with jitter: within [base/2, base·2^(n-1)].
    expect(retrying[0]!.data.delayMs).toBeGreaterThanOrEqual(5);
    expect(retrying[0]!.data.delayMs).toBeLessThanOrEqual(10);
    expect(retrying[1]!.data.delayMs).toBeGreaterThanOrEqual(10);
    expect(retrying[1]!.data.delayMs).toBeLessThanOrEqual(20);
    expect(ofType(ev, 'node.started', 'call').map((e) => e.data.attempt)).toEqual([1, 2, 3]);
    expect(ofType(ev, 'node.failed')).toHaveLength(0);
    // Invariant 5: one idempotency key per attempt, derived from run, node and attempt.
    expect((await hits(key)).map((h) => h.idempotencyKey)).toEqual([1, 2, 3].map((a) => `${run.id}:call:${a}`));
    expect(await successCounts(run.id)).toEqual({ call: 1, after: 1 });
  });

  it('non-retryable 4xx fails at once, even with a retry policy', async () => {
    const t = await signup('r-4xx');
    await allowLocalHttp(t);
    const key = newKey('404');
    const flowId = await createFlow(t, {
      nodes: [http('call', endpoint(key, { fail: 99, status: 404 }), RETRY3), transform('after', '1')],
      edges: [edge('call', 'after')],
    });
    const run = await startRun(t, flowId);
    const done = await waitFor(t, run.id);
    expect(done.status).toBe('failed');
    expect(node(done, 'call')).toMatchObject({ status: 'failed', attempts: 1 });
    expect(node(done, 'call').error.kind).toBe('http_4xx');
    expect(node(done, 'after').status).not.toBe('succeeded');
    expect(ofType(await events(run.id), 'node.retrying')).toHaveLength(0);
    expect(await hits(key)).toHaveLength(1);
  });

  it('429 with Retry-After: the retry waits at least what the server asked', async () => {
    const t = await signup('r-429');
    await allowLocalHttp(t);
    const key = newKey('429');
    const flowId = await createFlow(t, {
      nodes: [http('call', endpoint(key, { fail: 1, status: 429, retryAfter: 1 }), { retry: { maxAttempts: 2, backoffMs: 10 } })],
    });
    const run = await startRun(t, flowId);
    const done = await waitFor(t, run.id);
    expect(done.status).toBe('succeeded');
    const [retrying] = ofType(await events(run.id), 'node.retrying', 'call');
    expect(retrying!.data.error.kind).toBe('http_429');
    expect(retrying!.data.delayMs).toBeGreaterThanOrEqual(1000);
    expect(node(done, 'call').attempts).toBe(2);
  });

  it('retryOn limits which failures retry', async () => {
    const t = await signup('r-retryon');
    await allowLocalHttp(t);
    const key = newKey('on');
    const flowId = await createFlow(t, {
      nodes: [http('call', endpoint(key, { fail: 5, status: 503 }), { retry: { maxAttempts: 3, backoffMs: 10, retryOn: ['timeout'] } })],
    });
    const done = await waitFor(t, (await startRun(t, flowId)).id);
    expect(done.status).toBe('failed');
    expect(node(done, 'call').attempts).toBe(1);
    expect(await hits(key)).toHaveLength(1);
  });

  it('a host that is not on the tenant allow-list is refused without a request', async () => {
    const t = await signup('r-allow');
    const key = newKey('deny');
    const flowId = await createFlow(t, { nodes: [http('call', endpoint(key), RETRY3)] });
    const done = await waitFor(t, (await startRun(t, flowId)).id);
    expect(done.status).toBe('failed');
    expect(node(done, 'call').error.kind).toBe('forbidden');
    expect(node(done, 'call').attempts).toBe(1);
    expect(await hits(key)).toHaveLength(0);
  });
});

describe('retries exhausted', () => {
  it('fail_fast: the run fails and a slow sibling still in flight is cancelled', async () => {
    const t = await signup('r-ff');
    await allowLocalHttp(t);
    const bad = newKey('bad');
    const slow = newKey('slow');
    const flowId = await createFlow(t, {
      nodes: [http('bad', endpoint(bad, { fail: 99 }), RETRY3), http('slow', endpoint(slow, { hold: 1 })), transform('after', '1')],
      edges: [edge('bad', 'after'), edge('slow', 'after')],
      policy: { onFailure: 'fail_fast' },
    });
    const run = await startRun(t, flowId);
    try {
      const done = await waitFor(t, run.id, undefined, 10_000);
      expect(done.status).toBe('failed');
      expect(node(done, 'bad')).toMatchObject({ status: 'failed', attempts: 3 });
      expect(node(done, 'bad').error.kind).toBe('http_5xx');
      expect(node(done, 'slow').status).toBe('cancelled');
      expect(node(done, 'after').status).toBe('cancelled');
      const ev = await events(run.id);
      expect(ofType(ev, 'node.retrying', 'bad')).toHaveLength(2);
      expect(ofType(ev, 'node.failed', 'bad')).toHaveLength(1);
      expect(ofType(ev, 'node.cancelled', 'slow')).toHaveLength(1);
      expect(ofType(ev, 'run.failed')).toHaveLength(1);
      expect(done.error).toMatch(/bad/);
      // The slow request was aborted, not answered.
      const slowHits = await hits(slow);
      expect(slowHits).toHaveLength(1);
      expect(slowHits[0]!.answered).toBeNull();
      expect(await hits(bad)).toHaveLength(3);
    } finally {
      await release(slow);
    }
  });

  it('continue: an independent branch still succeeds, downstream of the failure is skipped, the run fails', async () => {
    const t = await signup('r-cont');
    await allowLocalHttp(t);
    const bad = newKey('bad');
    const good = newKey('good');
    const flowId = await createFlow(t, {
      nodes: [
        http('bad', endpoint(bad, { fail: 99 }), RETRY3),
        transform('afterBad', '"never"'),
        transform('afterAfterBad', '"never"'),
        http('good', endpoint(good, { delayMs: 200 })),
        transform('afterGood', 'nodes.good.output.body.n'),
      ],
      edges: [edge('bad', 'afterBad'), edge('afterBad', 'afterAfterBad'), edge('good', 'afterGood')],
      policy: { onFailure: 'continue' },
    });
    const run = await startRun(t, flowId);
    const done = await waitFor(t, run.id);
    expect(done.status).toBe('failed');
    expect(node(done, 'bad')).toMatchObject({ status: 'failed', attempts: 3 });
    expect(node(done, 'afterBad').status).toBe('skipped');
    expect(node(done, 'afterAfterBad').status).toBe('skipped');
    expect(node(done, 'good').status).toBe('succeeded');
    expect(node(done, 'afterGood')).toMatchObject({ status: 'succeeded', output: 1 });
    expect(done.error).toMatch(/bad/);
    // The run's output still carries the sinks that succeeded.
    expect(done.output).toEqual({ afterGood: 1 });
    expect(await successCounts(run.id)).toEqual({ bad: 0, afterBad: 0, afterAfterBad: 0, good: 1, afterGood: 1 });
  });
});

describe('timeouts', () => {
  it('a node timeout aborts the attempt and retries it as a timeout', async () => {
    const t = await signup('r-node-timeout');
    await allowLocalHttp(t);
    const key = newKey('nto');
    const flowId = await createFlow(t, {
      nodes: [http('call', endpoint(key, { hold: 1 }), { timeoutMs: 300, retry: { maxAttempts: 2, backoffMs: 10 } })],
    });
    const run = await startRun(t, flowId);
    try {
      const done = await waitFor(t, run.id);
      expect(done.status).toBe('failed');
      expect(node(done, 'call')).toMatchObject({ status: 'failed', attempts: 2 });
      expect(node(done, 'call').error.kind).toBe('timeout');
      expect(ofType(await events(run.id), 'node.retrying', 'call')[0]!.data.error.kind).toBe('timeout');
      const h = await hits(key);
      expect(h).toHaveLength(2);
      expect(h.every((x) => x.answered === null)).toBe(true);
    } finally {
      await release(key);
    }
  });

  it('the run timeout ends a run whose node is still in flight', async () => {
    const t = await signup('r-run-timeout');
    await allowLocalHttp(t);
    const key = newKey('rto');
    const flowId = await createFlow(t, {
      nodes: [http('call', endpoint(key, { hold: 1 }), {}, { timeoutMs: 60_000 }), transform('after', '1')],
      edges: [edge('call', 'after')],
      policy: { timeoutMs: 1000 },
    });
    const run = await startRun(t, flowId);
    try {
      // Well before the node's own 60 s timeout.
      const done = await waitFor(t, run.id, undefined, 8000);
      expect(done.status).toBe('failed');
      expect(done.error).toMatch(/timed out/);
      expect(node(done, 'call').status).toBe('cancelled');
      expect(node(done, 'after').status).toBe('cancelled');
    } finally {
      await release(key);
    }
  });
});
