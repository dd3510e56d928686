/**
 * Experiments on a saved agent: each example runs the agent's pinned version as a child run (its
 * input mapped to the conversation: a string, `{ prompt }`, `{ messages }`), evaluators grade the
 * answer's `text` / `json`, scores land as eval feedback carrying the agent's id, and compare over
 * two agent versions flags exactly the regression seeded in v2. The provider is the scripted fake.
 * A fan-out above the queue threshold starts the agent's children through the queue.
 */
import { describe, expect, it } from 'vitest';
import { QUEUE_FANOUT_THRESHOLD } from '../../../src/flows/child-jobs';
import { eventually } from '../../support/shared/time';
import { call, expectJson, expectProblem } from '../../support/workers/http';
import { signup, type TestTenant } from '../../support/workers/tenants';
import { createAgent, newTag, received, scriptedProvider } from '../agents/_support';
import { addFakeProvider } from '../flows/llm-fixtures';
import { get, type Json, post } from './_support';

async function finished(t: TestTenant, id: string): Promise<Json> {
  return eventually(
    async () => {
      const e = await get(t, `/v1/experiments/${id}`);
      return e.status === 'running' ? undefined : e;
    },
    { what: `experiment ${id} to finish`, timeoutMs: 90_000 },
  );
}

/** The three input shapes an agent target maps to its conversation. */
const EXAMPLES = [
  { input: 'Capital of France?', expected: 'Paris' },
  { input: { prompt: 'Capital of Germany?' }, expected: 'Berlin' },
  {
    input: { messages: [{ role: 'system', content: 'Answer with one word.' }], prompt: 'Capital of Spain?' },
    expected: 'Madrid',
  },
];

describe('experiments on an agent', () => {
  it('run each example as the agent, grade its text, store scores with agentId, and compare two versions', async () => {
    const t = await signup('exp-agent');
    const tag = newTag();
    // v1's provider answers all three right; v2's gets Germany wrong. One example at a time: replies in order.
    await scriptedProvider(t, tag, 'good', [{ text: 'Paris' }, { text: 'Berlin' }, { text: 'Madrid' }]);
    await scriptedProvider(t, tag, 'bad', [{ text: 'Paris' }, { text: 'Munich' }, { text: 'Madrid' }]);
    const body = { name: 'geo', instructions: 'Name the capital.', providers: ['good'], model: 'fast' };
    const agent = await createAgent(t, body);
    await expectJson(await call(`/v1/agents/${agent.id}`, { method: 'PUT', token: t.accessToken, body: { ...body, providers: ['bad'] } }));
    const d = await post(t, '/v1/datasets', { name: 'capitals' });
    await post(t, `/v1/datasets/${d.id}/examples`, { examples: EXAMPLES });

    const evaluators = [
      { type: 'exact', field: 'text' },
      { type: 'contains', key: 'mentions', field: 'text', value: 'i', ignoreCase: true },
    ];
    const create = (version?: number) =>
      post(t, '/v1/experiments', {
        datasetId: d.id,
        target: { agentId: agent.id, ...(version ? { version } : {}) },
        evaluators,
        concurrency: 1,
      });
    const first = await create(1);
    expect(first).toMatchObject({ status: 'running', target: { kind: 'agent', agentId: agent.id, version: 1 } });
    const base = await finished(t, first.id);
    expect(base.status).toBe('completed');
    expect(base.results.map((r: Json) => [r.status, r.output])).toEqual([
      ['ok', { text: 'Paris' }],
      ['ok', { text: 'Berlin' }],
      ['ok', { text: 'Madrid' }],
    ]);
    expect(base.summary).toMatchObject({ examples: 3, ok: 3, errored: 0, evaluators: { exact: { mean: 1, passRate: 1 } } });
    // The mapping: each example's conversation as the provider received it (after the agent's own system prompt).
    const asked = await received(tag, 'good');
    expect(asked).toHaveLength(3);
    const tail = (r: Json) => r.body.messages.filter((m: Json) => m.role !== 'system' || m.content === 'Answer with one word.');
    expect(asked.map((r) => tail(r))).toEqual([
      [{ role: 'user', content: 'Capital of France?' }],
      [{ role: 'user', content: 'Capital of Germany?' }],
      [
        { role: 'system', content: 'Answer with one word.' },
        { role: 'user', content: 'Capital of Spain?' },
      ],
    ]);
    // Each example is a child run of the experiment's run, on the agent's version.
    const child = await get(t, `/v1/runs/${base.results[0].runId}`);
    expect(child).toMatchObject({ status: 'succeeded', flowId: agent.id, flowVersion: 1 });

    // Scores are eval feedback on each example's run, carrying the agent's id.
    const evals = await get(t, `/v1/feedback?source=eval&key=exact&limit=100`);
    expect(evals.data).toHaveLength(3);
    for (const f of evals.data)
      expect(f).toMatchObject({
        source: 'eval',
        actor: { type: 'experiment', id: first.id },
        attributes: { agentId: agent.id, provider: 'good', flowId: null },
      });

    // The latest version (2, unpinned) answers Munich: compare flags that example, and nothing else.
    const second = await create();
    expect(second.target).toEqual({ kind: 'agent', agentId: agent.id, version: 2 });
    const head = await finished(t, second.id);
    expect(head.results.map((r: Json) => r.output.text)).toEqual(['Paris', 'Munich', 'Madrid']);
    const cmp = await get(t, `/v1/experiments/compare?base=${first.id}&head=${head.id}`);
    const seeded = base.results[1].exampleId;
    expect(cmp.regressions).toEqual([{ exampleId: seeded, key: 'exact', base: 1, head: 0, kind: 'score' }]);
    expect(cmp.improvements).toEqual([]);
    expect(cmp.keys.exact).toEqual({ base: 1, head: 2 / 3, delta: 2 / 3 - 1 });
    expect(cmp.keys.mentions.delta).toBe(0);
    // Stats by agent: all six exact scores are the agent's.
    const byAgent = await get(t, '/v1/feedback/stats?key=exact&groupBy=agentId');
    expect(byAgent.buckets.map((b: Json) => [b.group, b.count])).toEqual([[agent.id, 6]]);
  }, 150_000);

  it('start a large fan-out of agent runs through the queue', async () => {
    const t = await signup('exp-agent-q');
    const tag = newTag();
    // The `ok` step echoes the last user message: the answer is the example's prompt whatever the order.
    await addFakeProvider(t, 'echo', tag, 'ok');
    const agent = await createAgent(t, { name: 'echo', providers: ['echo'], model: 'fast' });
    const n = QUEUE_FANOUT_THRESHOLD + 1;
    const d = await post(t, '/v1/datasets', { name: 'many' });
    await post(t, `/v1/datasets/${d.id}/examples`, {
      examples: Array.from({ length: n }, (_, i) => ({ input: `word${i}`, expected: `word${i}` })),
    });
    const e = await post(t, '/v1/experiments', {
      datasetId: d.id,
      target: { agentId: agent.id },
      evaluators: [{ type: 'exact', field: 'text' }],
      concurrency: 10,
    });
    const done = await finished(t, e.id);
    expect(done.summary).toMatchObject({ examples: n, ok: n, errored: 0, evaluators: { exact: { mean: 1 } } });
    expect(done.results.map((r: Json) => r.output.text)).toEqual(Array.from({ length: n }, (_, i) => `word${i}`));
  }, 150_000);

  it('refuses an agent target that cannot run, naming the field', async () => {
    const t = await signup('exp-agent-422');
    const agent = await createAgent(t, { name: 'a', instructions: 'Help.' });
    const d = await post(t, '/v1/datasets', { name: 'one' });
    await post(t, `/v1/datasets/${d.id}/examples`, { input: 'hi' });
    const flowId = (
      await post(t, '/v1/flows', { name: 'f', definition: { nodes: [{ id: 'x', type: 'transform', config: { expression: 'input' } }] } })
    ).id;
    const cases: Array<[Json, number, string | null]> = [
      [{ agentId: agent.id, version: 2 }, 422, 'target.version'],
      [{ agentId: '' }, 422, 'target.agentId'],
      [{ agentId: agent.id, flowId }, 422, 'target.agentId'],
      [{}, 422, 'target.flowId'],
      [{ agentId: 'agt_01hzy0000000000000000000000' }, 404, null],
    ];
    for (const [target, status, field] of cases) {
      const p = await expectProblem(
        await call('/v1/experiments', { token: t.accessToken, body: { datasetId: d.id, target, evaluators: [{ type: 'exact' }] } }),
        status,
      );
      if (field) expect({ target, fields: p.errors.map((e: Json) => e.path) }).toEqual({ target, fields: [field] });
    }
  });
});
