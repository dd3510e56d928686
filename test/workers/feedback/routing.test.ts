/**
 * Routing by feedback, end to end: llm nodes answer through two fake providers, their outputs are
 * rated through the API (node targets carry the answering provider), and an llm node with
 * `providers: { policy: "feedback", … }` then sends its request to the better-rated provider, as
 * the fake server's request log shows; below `minSamples` the static order applies. The order and
 * the scores behind it are in the node's `started` event.
 */
import { describe, expect, it } from 'vitest';
import { orderByScores } from '../../../src/flows/llm/routing';
import { signup, type TestTenant } from '../../support/workers/tenants';
import { events, ofType } from '../flows/_engine-kit';
import { addFakeProvider, newTag, received } from '../flows/llm-fixtures';
import { createFlow, createKey, finishedRun, type Json, post } from './_support';

function llmFlow(providers: unknown) {
  return { nodes: [{ id: 'ask', type: 'llm', config: { providers, model: 'fast', prompt: '{{ input.q }}' } }] };
}

/** Runs `flowId` once and rates its llm node's answer. */
async function runAndRate(t: TestTenant, flowId: string, helpful: boolean): Promise<Json> {
  const run = await finishedRun(t, flowId, { q: 'where is the station' });
  expect(run.status).toBe('succeeded');
  const f = await post(t, '/v1/feedback', { target: { type: 'node', id: run.id, nodeId: 'ask' }, key: 'helpful', score: helpful });
  expect(f.attributes).toMatchObject({ nodeId: 'ask', provider: run.nodes[0].output.provider, model: 'fake-gpt-mini' });
  return run;
}

async function startedRouting(runId: string): Promise<Json> {
  const [started] = ofType(await events(runId), 'node.started', 'ask');
  return started!.data;
}

describe('routing by feedback', () => {
  it('orders providers by their rolling score: the better-rated one gets the request; below minSamples the static order applies', async () => {
    const t = await signup('fb-routing');
    await createKey(t, { key: 'helpful', type: 'boolean' });
    const [tagA, tagB] = [newTag(), newTag()];
    await addFakeProvider(t, 'alpha', tagA, 'ok');
    await addFakeProvider(t, 'beta', tagB, 'ok');
    const policy = { policy: 'feedback', names: ['alpha', 'beta'], key: 'helpful', window: '7d', minSamples: 3 };
    const routed = await createFlow(t, llmFlow(policy));

    // No ratings yet: the static order, alpha first. Its answers are rated unhelpful.
    const first = await runAndRate(t, routed, false);
    expect(await startedRouting(first.id)).toEqual({
      attempt: 1,
      routing: { policy: 'feedback', key: 'helpful', window: '7d', minSamples: 3, order: ['alpha', 'beta'], scores: {}, reordered: false },
    });
    await runAndRate(t, routed, false);
    await runAndRate(t, routed, false);
    // Beta answers through a flow that names it alone; its answers are rated helpful.
    const betaOnly = await createFlow(t, llmFlow(['beta']));
    for (let i = 0; i < 3; i++) await runAndRate(t, betaOnly, true);
    expect([(await received(tagA)).length, (await received(tagB)).length]).toEqual([3, 3]);

    // Both have 3 samples (= minSamples): beta (all helpful) now goes first.
    const run = await finishedRun(t, routed, { q: 'again' });
    expect(run.nodes[0].output.provider).toBe('beta');
    expect([(await received(tagA)).length, (await received(tagB)).length]).toEqual([3, 4]);
    expect((await startedRouting(run.id)).routing).toEqual({
      policy: 'feedback',
      key: 'helpful',
      window: '7d',
      minSamples: 3,
      order: ['beta', 'alpha'],
      scores: { alpha: { count: 3, score: 0 }, beta: { count: 3, score: 1 } },
      reordered: true,
    });

    // Asking for 4 samples: neither qualifies, the static order applies and alpha gets the request.
    const strict = await createFlow(t, llmFlow({ ...policy, minSamples: 4 }));
    const fallback = await finishedRun(t, strict, { q: 'once more' });
    expect(fallback.nodes[0].output.provider).toBe('alpha');
    expect([(await received(tagA)).length, (await received(tagB)).length]).toEqual([4, 4]);
    expect((await startedRouting(fallback.id)).routing).toMatchObject({ order: ['alpha', 'beta'], reordered: false });
  }, 60_000);

  it('the ordering rule: rated providers refill their own slots best first, unrated ones keep theirs, ties keep static order', () => {
    const s = (provider: string, count: number, score: number) => ({ provider, count, score });
    expect(orderByScores(['a', 'b', 'c'], [s('a', 5, 0.2), s('c', 5, 0.9)], 5)).toEqual(['c', 'b', 'a']);
    expect(orderByScores(['a', 'b', 'c'], [s('a', 5, 0.2), s('c', 4, 0.9)], 5)).toEqual(['a', 'b', 'c']);
    expect(orderByScores(['a', 'b', 'c'], [s('a', 9, 0.5), s('b', 9, 0.5), s('c', 9, 0.7)], 5)).toEqual(['c', 'a', 'b']);
    expect(orderByScores(['a', 'b'], [], 1)).toEqual(['a', 'b']);
  });

  it('validates the policy in the flow definition (field paths)', async () => {
    const t = await signup('fb-routing-422');
    const res = await post(
      t,
      '/v1/flows/validate',
      { definition: llmFlow({ policy: 'feedback', names: [], key: 'helpful', window: '2w' }) },
      200,
    );
    expect(res.valid).toBe(false);
    expect(res.problems.map((p: Json) => p.path)).toEqual(['nodes[0].config.providers.names', 'nodes[0].config.providers.window']);
  });
});
