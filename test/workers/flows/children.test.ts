/**
 * subflow and map: nodes whose work is child runs (each its own FlowRun object). A child flow
 * (transform) used by a subflow node and by a map node over 5 items with concurrency 2 → outputs
 * collected in item order; a failing child fails the map node (and, under fail_fast, the run).
 */
import { describe, expect, it } from 'vitest';
import { signup, type TestTenant } from '../../support/workers/tenants';
import { createFlow, edge, events, node, ofType, ok, startRun, successCounts, transform, waitFor } from './_engine-kit';

async function childFlow(t: TestTenant): Promise<string> {
  return createFlow(
    t,
    {
      input: { type: 'object', properties: { n: { type: 'number' } }, required: ['n'] },
      nodes: [
        transform('check', 'input.n = 13 ? $error("unlucky " & $string(input.n)) : input.n'),
        transform('double', 'nodes.check.output * 2'),
      ],
      edges: [edge('check', 'double')],
    },
    'child',
  );
}

describe('subflow', () => {
  it('runs the child flow with the evaluated input and takes its output', async () => {
    const t = await signup('sub');
    const child = await childFlow(t);
    const flowId = await createFlow(t, {
      nodes: [
        transform('prep', 'input.x + 1'),
        { id: 'sub', type: 'subflow', config: { flowId: child, input: '{"n": nodes.prep.output}' } },
        transform('after', 'nodes.sub.output.double'),
      ],
      edges: [edge('prep', 'sub'), edge('sub', 'after')],
    });
    const run = await startRun(t, flowId, { x: 20 });
    const done = await waitFor(t, run.id);
    expect(done.status).toBe('succeeded');
    expect(node(done, 'sub').output).toEqual({ double: 42 });
    expect(node(done, 'after').output).toBe(42);
    expect(await successCounts(run.id)).toEqual({ prep: 1, sub: 1, after: 1 });
    // The child is a run of its own, linked to its parent, and finished.
    const children = (await ok(t, 'GET', `/v1/runs?flowId=${child}`)).data as any[];
    expect(children).toHaveLength(1);
    expect(children[0]).toMatchObject({ parentRunId: run.id, status: 'succeeded' });
    const childRun = await ok(t, 'GET', `/v1/runs/${children[0].id}`);
    expect(childRun.parent).toMatchObject({ runId: run.id, nodeId: 'sub', index: 0 });
  });

  it("a child run whose input breaks the child's schema fails the subflow node", async () => {
    const t = await signup('sub-bad');
    const child = await childFlow(t);
    const flowId = await createFlow(t, {
      nodes: [{ id: 'sub', type: 'subflow', config: { flowId: child, input: '{"n": "not a number"}' } }],
    });
    const done = await waitFor(t, (await startRun(t, flowId)).id);
    expect(done.status).toBe('failed');
    expect(node(done, 'sub').status).toBe('failed');
  });
});

describe('map', () => {
  it('over 5 items with concurrency 2: every child runs once, outputs in item order', async () => {
    const t = await signup('map');
    const child = await childFlow(t);
    const flowId = await createFlow(t, {
      nodes: [
        { id: 'each', type: 'map', config: { items: 'input.list', flowId: child, input: '{"n": item + index * 100}', concurrency: 2 } },
        transform('sum', '$sum(nodes.each.output.double)'),
      ],
      edges: [edge('each', 'sum')],
    });
    const run = await startRun(t, flowId, { list: [1, 2, 3, 4, 5] });
    const done = await waitFor(t, run.id, undefined, 20_000);
    expect(done.status).toBe('succeeded');
    const expected = [1, 2, 3, 4, 5].map((x, i) => ({ double: (x + i * 100) * 2 }));
    expect(node(done, 'each').output).toEqual(expected);
    expect(node(done, 'sum').output).toBe(expected.reduce((a, b) => a + b.double, 0));
    expect(await successCounts(run.id)).toEqual({ each: 1, sum: 1 });
    // Five child runs, each finished once; the parent heard from each exactly once.
    const children = (await ok(t, 'GET', `/v1/runs?flowId=${child}&limit=100`)).data as any[];
    expect(children).toHaveLength(5);
    expect(children.every((c) => c.parentRunId === run.id && c.status === 'succeeded')).toBe(true);
    const childEvents = ofType(await events(run.id), 'node.child', 'each');
    expect(childEvents.map((e) => e.data.index).sort()).toEqual([0, 1, 2, 3, 4]);
  }, 30_000);

  it('many children finishing close together (30 items, concurrency 6): none is lost, outputs in order', async () => {
    const t = await signup('map-many');
    const child = await childFlow(t);
    const flowId = await createFlow(t, {
      nodes: [{ id: 'each', type: 'map', config: { items: '[1..30]', flowId: child, input: '{"n": item * 10}', concurrency: 6 } }],
    });
    const run = await startRun(t, flowId);
    const done = await waitFor(t, run.id, undefined, 40_000);
    expect(done.status).toBe('succeeded');
    expect(node(done, 'each').output).toEqual(Array.from({ length: 30 }, (_, i) => ({ double: (i + 1) * 20 })));
    const kids = (await ok(t, 'GET', `/v1/runs?flowId=${child}&limit=100`)).data as any[];
    expect(kids).toHaveLength(30);
  }, 60_000);

  it('never runs more children at once than its concurrency', async () => {
    const t = await signup('map-bound');
    // Children wait for approval, so the parent cannot move past the bound without a signal.
    const gated = await createFlow(t, { nodes: [{ id: 'gate', type: 'approval', config: {} }] }, 'gated-child');
    const flowId = await createFlow(t, {
      nodes: [{ id: 'each', type: 'map', config: { items: '[1,2,3,4,5]', flowId: gated, input: '{"i": item}', concurrency: 2 } }],
    });
    const run = await startRun(t, flowId);
    // Child state as its own FlowRun object sees it (authoritative: a child is terminal there before the parent hears of it).
    const childStates = async () => {
      const kids = (await ok(t, 'GET', `/v1/runs?flowId=${gated}&limit=100`)).data as any[];
      return Promise.all(
        kids.map(async (k) => ({ id: k.id as string, status: (await ok(t, 'GET', `/v1/runs/${k.id}`)).status as string })),
      );
    };
    const signalled = new Set<string>();
    let maxOpen = 0;
    while (signalled.size < 5) {
      const deadline = Date.now() + 10_000;
      let open: Array<{ id: string; status: string }> = [];
      for (;;) {
        const states = await childStates();
        open = states.filter((k) => !['succeeded', 'failed', 'cancelled'].includes(k.status));
        maxOpen = Math.max(maxOpen, open.length);
        const fresh = open.filter((k) => !signalled.has(k.id));
        if (fresh.length > 0 && fresh.every((k) => k.status === 'waiting')) {
          open = fresh;
          break;
        }
        if (Date.now() > deadline) throw new Error(`children stuck: ${JSON.stringify(states)}`);
        await new Promise((r) => setTimeout(r, 50));
      }
      await ok(t, 'POST', `/v1/runs/${open[0]!.id}/signal`, { payload: { n: signalled.size } });
      signalled.add(open[0]!.id);
    }
    expect(maxOpen).toBe(2);
    const done = await waitFor(t, run.id, undefined, 15_000);
    expect(done.status).toBe('succeeded');
    expect(node(done, 'each').output).toHaveLength(5);
  }, 60_000);

  it('a failing child fails the map node and, under fail_fast, the run', async () => {
    const t = await signup('map-fail');
    const child = await childFlow(t);
    const flowId = await createFlow(t, {
      nodes: [
        { id: 'each', type: 'map', config: { items: 'input.list', flowId: child, input: '{"n": item}', concurrency: 2 } },
        transform('after', '1'),
      ],
      edges: [edge('each', 'after')],
    });
    const run = await startRun(t, flowId, { list: [1, 13, 3] });
    const done = await waitFor(t, run.id, undefined, 20_000);
    expect(done.status).toBe('failed');
    const each = node(done, 'each');
    expect(each.status).toBe('failed');
    expect(JSON.stringify(each.error)).toMatch(/child/);
    expect(node(done, 'after').status).not.toBe('succeeded');
    const children = (await ok(t, 'GET', `/v1/runs?flowId=${child}&limit=100`)).data as any[];
    const failed = children.filter((c) => c.status === 'failed');
    expect(failed).toHaveLength(1);
    expect(failed[0].error).toMatch(/unlucky 13/);
  }, 30_000);

  it('an empty list succeeds with an empty output and starts no child', async () => {
    const t = await signup('map-empty');
    const child = await childFlow(t);
    const flowId = await createFlow(t, { nodes: [{ id: 'each', type: 'map', config: { items: 'input.list', flowId: child } }] });
    const done = await waitFor(t, (await startRun(t, flowId, { list: [] })).id);
    expect(done.status).toBe('succeeded');
    expect(node(done, 'each').output).toEqual([]);
    expect((await ok(t, 'GET', `/v1/runs?flowId=${child}`)).data).toHaveLength(0);
  });

  it('cancelling the parent cancels its running children', async () => {
    const t = await signup('map-cancel');
    const gated = await createFlow(t, { nodes: [{ id: 'gate', type: 'approval', config: {} }] }, 'gated-child');
    const flowId = await createFlow(t, {
      nodes: [{ id: 'each', type: 'map', config: { items: '[1,2,3]', flowId: gated, input: '{"i": item}', concurrency: 3 } }],
    });
    const run = await startRun(t, flowId);
    const until = Date.now() + 10_000;
    let kids: any[];
    for (;;) {
      kids = (await ok(t, 'GET', `/v1/runs?flowId=${gated}`)).data;
      if (kids.filter((k: any) => k.status === 'waiting').length >= 3) break;
      if (Date.now() > until) throw new Error(`children: ${JSON.stringify(kids.map((k: any) => k.status))}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    const cancelled = await ok(t, 'POST', `/v1/runs/${run.id}/cancel`, {});
    expect({ status: cancelled.status, error: cancelled.error, each: node(cancelled, 'each').status }).toEqual({
      status: 'cancelled',
      error: expect.any(String),
      each: 'cancelled',
    });
    for (const k of kids) expect((await waitFor(t, k.id)).status).toBe('cancelled');
    // Still cancelled once the children's reports have come back.
    expect((await waitFor(t, run.id)).status).toBe('cancelled');
    expect(ofType(await events(run.id), 'run.failed')).toHaveLength(0);
  }, 30_000);
});
