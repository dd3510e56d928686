// A map over more items than QUEUE_FANOUT_THRESHOLD starts its children through the EVENTS queue.
import { describe, expect, it } from 'vitest';
import { QUEUE_FANOUT_THRESHOLD } from '../../../src/flows/child-jobs';
import { signup } from '../../support/workers/tenants';
import { events as runEvents } from './_engine-kit';
import { createFlow, node, startRun, waitFor } from './_support';

describe('large map fan-out', () => {
  it('runs every child through the queue, bounded by concurrency, and collects outputs in order', async () => {
    const owner = await signup('fanout');
    const child = await createFlow(
      owner,
      { nodes: [{ id: 'sq', type: 'transform', config: { expression: 'input.n * input.n' } }], edges: [] },
      'square',
    );
    const items = Array.from({ length: QUEUE_FANOUT_THRESHOLD + 5 }, (_, n) => n);
    const parent = await createFlow(owner, {
      nodes: [{ id: 'each', type: 'map', config: { items: 'input.items', flowId: child, input: '{"n": item}', concurrency: 8 } }],
      edges: [],
    });
    const run = await startRun(owner, parent, { items });
    const done = await waitFor(owner, run.id, undefined, 60_000);
    expect(done.status).toBe('succeeded');
    expect(node(done, 'each').output).toEqual(items.map((n) => ({ sq: n * n })));
    const events = await runEvents(run.id);
    expect(events.filter((e) => e.type === 'node.fanout').length).toBeGreaterThan(1);
    expect(events.filter((e) => e.type === 'node.child').length).toBe(items.length);
  });
});
