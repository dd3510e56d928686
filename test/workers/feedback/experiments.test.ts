/**
 * Datasets and experiments through the API: versioned examples (given, from a run, from a rating's
 * correction); an experiment runs each example as a child run of a flow version on the engine and
 * grades it with every evaluator type (the llm judge is the fake provider's deterministic `judge`
 * step), a failed child is an errored example, scores land as feedback with `source: eval`, two runs
 * of the same experiment agree exactly, and `compare` flags exactly the regression seeded in v2.
 */

import { runDurableObjectAlarm, runInDurableObject } from 'cloudflare:test';
import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import type { TenantHub } from '../../../durable-objects/tenant-hub/tenant-hub';
import { newId } from '../../../src/lib/ids';
import { tenantHubStub } from '../../../src/lib/stubs';
import { eventually } from '../../support/shared/time';
import { call, expectJson, expectProblem } from '../../support/workers/http';
import { openSse } from '../../support/workers/sse';
import { signup, type TestTenant } from '../../support/workers/tenants';
import { createHook, receivedAtLeast } from '../events/_support';
import { addFakeProvider, newTag, received } from '../flows/llm-fixtures';
import { createFlow, createKey, echoRun, get, type Json, post } from './_support';

/** v1 adds; v2 answers 2 + x wrongly (the seeded regression). 'x' + 1 fails the run (an errored example). */
const V1 = { nodes: [{ id: 'sum', type: 'transform', config: { expression: '$string(input.a + input.b)' } }] };
const V2 = { nodes: [{ id: 'sum', type: 'transform', config: { expression: 'input.a = 2 ? "5" : $string(input.a + input.b)' } }] };

const EXAMPLES = [
  { input: { a: 1, b: 2 }, expected: '3', metadata: { note: 'easy' } },
  { input: { a: 2, b: 2 }, expected: '4' },
  { input: { a: 10, b: 5 }, expected: '15' },
  { input: { a: 'x', b: 1 }, expected: '1' },
];

function evaluators(judgeProvider: string) {
  return [
    { type: 'exact' },
    { type: 'contains', key: 'has_digit', value: '' + '1' },
    { type: 'regex', pattern: '^\\d+$' },
    { type: 'json_schema', schema: { type: 'string', maxLength: 2 } },
    { type: 'numeric_tolerance', key: 'close', tolerance: 0.5 },
    { type: 'llm_judge', key: 'judged', providers: [judgeProvider], model: 'fast', rubric: 'The output is the sum of a and b.' },
    { type: 'latency', maxMs: 600_000 },
    { type: 'cost', maxUsd: 1 },
  ];
}

async function finished(t: TestTenant, id: string): Promise<Json> {
  return eventually(
    async () => {
      const e = await get(t, `/v1/experiments/${id}`);
      return e.status === 'running' ? undefined : e;
    },
    { what: `experiment ${id} to finish`, timeoutMs: 60_000 },
  );
}

/** The scores without what varies between runs of the same example (run ids, timings are graded, not compared). */
function grades(e: Json): Json[] {
  return e.results.map((r: Json) => ({
    exampleId: r.exampleId,
    status: r.status,
    output: r.output,
    scores: Object.fromEntries(
      Object.entries(r.scores as Json).map(([k, s]) => [
        k,
        { ...s, detail: k === 'latency' || k === 'cost' ? '-' : s.detail, value: k === 'latency' ? '-' : s.value },
      ]),
    ),
  }));
}

describe('datasets', () => {
  it('are versioned: each POST of examples is a version; a version lists exactly its examples', async () => {
    const t = await signup('ds-versions');
    const d = await post(t, '/v1/datasets', { name: 'sums', description: 'Additions' });
    expect(d).toMatchObject({ name: 'sums', version: 0, exampleCount: 0 });
    const v1 = await post(t, `/v1/datasets/${d.id}/examples`, { examples: EXAMPLES.slice(0, 2) });
    expect(v1.dataset).toMatchObject({ version: 1, exampleCount: 2 });
    const v2 = await post(t, `/v1/datasets/${d.id}/examples`, EXAMPLES[2]);
    expect(v2.dataset).toMatchObject({ version: 2, exampleCount: 3 });
    expect(v2.examples).toEqual([expect.objectContaining({ input: { a: 10, b: 5 }, expected: '15', metadata: {}, version: 2 })]);
    expect((await get(t, `/v1/datasets/${d.id}/examples?version=1`)).data.map((e: Json) => e.expected)).toEqual(['3', '4']);
    const page = await get(t, `/v1/datasets/${d.id}/examples?limit=2`);
    expect(page).toMatchObject({ version: 2, data: [{ expected: '3' }, { expected: '4' }] });
    expect((await get(t, `/v1/datasets/${d.id}/examples?cursor=${page.nextCursor}`)).data.map((e: Json) => e.expected)).toEqual(['15']);
    await expectProblem(await call(`/v1/datasets/${d.id}/examples?version=3`, { token: t.accessToken }), 404);
    await expectProblem(await call(`/v1/datasets/${d.id}/examples`, { token: t.accessToken, body: { expected: 'no input' } }), 422);
    expect((await get(t, '/v1/datasets')).data.map((x: Json) => x.id)).toEqual([d.id]);
    expect((await call(`/v1/datasets/${d.id}`, { method: 'DELETE', token: t.accessToken })).status).toBe(204);
    await expectProblem(await call(`/v1/datasets/${d.id}`, { token: t.accessToken }), 404);
  });

  it('takes examples from a run (input, answer) and from a rating (its correction as expected)', async () => {
    const t = await signup('ds-from');
    await createKey(t, { key: 'helpful', type: 'boolean' });
    const d = await post(t, '/v1/datasets', { name: 'from production' });
    const run = await echoRun(t, { q: 'capital of France?' });
    const fromRun = await post(t, `/v1/datasets/${d.id}/examples`, { fromRunId: run.id });
    expect(fromRun.examples[0]).toMatchObject({
      input: { q: 'capital of France?' },
      expected: { q: 'capital of France?' },
      metadata: { sourceRunId: run.id },
    });
    const noFix = await post(t, '/v1/feedback', { target: { type: 'run', id: run.id }, key: 'helpful', score: false });
    const p = await expectProblem(
      await call(`/v1/datasets/${d.id}/examples`, { token: t.accessToken, body: { fromFeedbackId: noFix.id } }),
      422,
    );
    expect(p.errors.map((e: Json) => e.path)).toEqual(['fromFeedbackId']);
    const fixed = await post(
      t,
      '/v1/feedback',
      { target: { type: 'run', id: run.id }, key: 'helpful', score: false, correction: 'Paris' },
      200,
    );
    const fromFeedback = await post(t, `/v1/datasets/${d.id}/examples`, { fromFeedbackId: fixed.id });
    expect(fromFeedback.examples[0]).toMatchObject({
      input: { q: 'capital of France?' },
      expected: 'Paris',
      metadata: { sourceFeedbackId: fixed.id, sourceRunId: run.id },
    });
    expect(fromFeedback.dataset.version).toBe(2);
    await expectProblem(
      await call(`/v1/datasets/${d.id}/examples`, { token: t.accessToken, body: { fromRunId: 'run_01hzy0000000000000000000000' } }),
      404,
    );
  });
});

describe('experiments', () => {
  it('grade every example on the engine, store scores as eval feedback, repeat exactly, and compare flags exactly the seeded regression', async () => {
    const t = await signup('exp');
    const tag = newTag();
    await addFakeProvider(t, 'grader', tag, 'judge');
    const hook = await createHook(t, { tag: 'exp', eventTypes: ['experiment.completed'] });
    const flowId = await createFlow(t, V1);
    await expectJson(await call(`/v1/flows/${flowId}`, { method: 'PUT', token: t.accessToken, body: { name: 'sum', definition: V2 } }));
    const d = await post(t, '/v1/datasets', { name: 'sums' });
    await post(t, `/v1/datasets/${d.id}/examples`, { examples: EXAMPLES });

    const create = (version: number) =>
      post(t, '/v1/experiments', { datasetId: d.id, target: { flowId, version }, evaluators: evaluators('grader'), concurrency: 2 });
    const first = await create(1);
    expect(first).toMatchObject({ status: 'running', datasetVersion: 1, target: { kind: 'flow', flowId, version: 1 }, summary: null });
    // Progress streams while it runs: the run's events, one node.child per example.
    const { sse } = await openSse(`/v1/experiments/${first.id}/events`, t.accessToken);
    const e1 = await finished(t, first.id);
    const frames = await sse.rest();
    expect(frames.filter((f) => f.event === 'node.child').length).toBeGreaterThanOrEqual(EXAMPLES.length);
    expect(frames.at(-1)?.event).toBe('run.completed');

    expect(e1.status).toBe('completed');
    expect(e1.results.map((r: Json) => [r.status, r.output])).toEqual([
      ['ok', '3'],
      ['ok', '4'],
      ['ok', '15'],
      ['errored', null],
    ]);
    expect(e1.results[3].error).toMatch(/./);
    const ok = e1.results[0].scores;
    expect(ok).toMatchObject({
      exact: { score: 1, passed: true },
      has_digit: { score: 0, passed: false },
      regex: { score: 1, passed: true },
      json_schema: { score: 1, passed: true },
      close: { score: 1, passed: true, value: 3 },
      judged: { score: 1, passed: true, detail: 'the output matches the expected answer' },
      latency: { score: 1, passed: true },
      cost: { score: 1, passed: true, value: 0 },
    });
    expect(e1.results[2].scores).toMatchObject({ has_digit: { score: 1 }, json_schema: { score: 1 } });
    expect(e1.summary).toMatchObject({
      examples: 4,
      ok: 3,
      errored: 1,
      evaluators: {
        exact: { type: 'exact', count: 3, errored: 1, mean: 1, passRate: 1 },
        has_digit: { count: 3, mean: 1 / 3 },
        judged: { type: 'llm_judge', count: 3, mean: 1 },
      },
    });
    // The judge asked the tenant's provider, at temperature 0, once per graded example.
    const asked = await received(tag);
    expect(asked).toHaveLength(3);
    expect(asked.every((r) => r.body?.temperature === 0)).toBe(true);
    // Scores are feedback with source eval, on each example's run, rated by the experiment.
    const evals = await get(t, `/v1/feedback?source=eval&key=exact&limit=100`);
    expect(evals.data).toHaveLength(3);
    expect(evals.data[0]).toMatchObject({
      source: 'eval',
      actor: { type: 'experiment', id: first.id },
      attributes: { flowId, flowVersion: 1 },
    });
    expect((await get(t, '/v1/feedback-keys/exact')).type).toBe('numeric');

    // The same experiment again: the same grades.
    const again = await finished(t, (await create(1)).id);
    expect(grades(again)).toEqual(grades(e1));
    expect(again.summary).toEqual(e1.summary);

    // v2 answers 2 + 2 = 5: compare flags that example, and nothing else, as a regression.
    const head = await finished(t, (await create(2)).id);
    const cmp = await get(t, `/v1/experiments/compare?base=${first.id}&head=${head.id}`);
    const seeded = e1.results[1].exampleId;
    expect(cmp.regressions).toEqual([
      { exampleId: seeded, key: 'exact', base: 1, head: 0, kind: 'score' },
      { exampleId: seeded, key: 'close', base: 1, head: 0, kind: 'score' },
      { exampleId: seeded, key: 'judged', base: 1, head: 0, kind: 'score' },
    ]);
    expect(cmp.improvements).toEqual([]);
    expect(cmp.keys.exact).toEqual({ base: 1, head: 2 / 3, delta: 2 / 3 - 1 });
    const same = await get(t, `/v1/experiments/compare?base=${first.id}&head=${again.id}`);
    expect([same.regressions, same.improvements]).toEqual([[], []]);
    // Stats per flow version show the drop too.
    const byVersion = await get(t, '/v1/feedback/stats?key=exact&groupBy=flowVersion');
    expect(byVersion.buckets.map((b: Json) => [b.group, b.count, b.mean])).toEqual([
      [1, 6, 1],
      [2, 3, 2 / 3],
    ]);

    // experiment.completed, signed like every event.
    const got = await receivedAtLeast(hook.name, 3, 20_000);
    expect(got.every((r) => r.verifiedWith[0] === 0)).toBe(true);
    expect(got.map((r) => r.payload!.data.experiment.id).sort()).toEqual([first.id, again.id, head.id].sort());
    expect(got.find((r) => r.payload!.data.experiment.id === first.id)!.payload!.data.experiment).toMatchObject({
      status: 'completed',
      summary: e1.summary,
    });
    expect((await get(t, '/v1/experiments')).data.map((x: Json) => x.id)).toEqual([head.id, again.id, first.id]);
  }, 120_000);

  it('refuses what cannot run, naming the field', async () => {
    const t = await signup('exp-422');
    const flowId = await createFlow(t, V1);
    const empty = await post(t, '/v1/datasets', { name: 'empty' });
    const d = await post(t, '/v1/datasets', { name: 'one' });
    await post(t, `/v1/datasets/${d.id}/examples`, EXAMPLES[0]);
    await createKey(t, { key: 'stars', type: 'numeric', min: 1, max: 5 });
    const cases: Array<[Json, number, string | null]> = [
      [{ datasetId: empty.id, target: { flowId }, evaluators: [{ type: 'exact' }] }, 422, 'datasetId'],
      [{ datasetId: d.id, target: { flowId }, evaluators: [{ type: 'regex', pattern: '(' }] }, 422, 'evaluators[0].pattern'],
      [{ datasetId: d.id, target: { flowId }, evaluators: [{ type: 'exact' }, { type: 'exact' }] }, 422, 'evaluators[1].key'],
      [{ datasetId: d.id, target: { flowId }, evaluators: [{ type: 'exact', key: 'stars' }] }, 422, 'evaluators[0].key'],
      [
        { datasetId: d.id, target: { flowId }, evaluators: [{ type: 'llm_judge', providers: ['nope'], model: 'fast', rubric: 'r' }] },
        422,
        'evaluators[0].providers',
      ],
      [{ datasetId: d.id, target: { flowId, agentId: 'agt_1' }, evaluators: [{ type: 'exact' }] }, 422, 'target.agentId'],
      [{ datasetId: d.id, target: { agentId: 'agt_1' }, evaluators: [{ type: 'exact' }] }, 404, null],
      [{ datasetId: d.id, target: { flowId: 'flw_01hzy0000000000000000000000' }, evaluators: [{ type: 'exact' }] }, 404, null],
      [{ datasetId: d.id, target: { flowId, version: 9 }, evaluators: [{ type: 'exact' }] }, 404, null],
    ];
    for (const [body, status, field] of cases) {
      const p = await expectProblem(await call('/v1/experiments', { token: t.accessToken, body }), status);
      if (field)
        expect({ body, fields: p.errors.map((e: Json) => e.path) }).toMatchObject({ body, fields: expect.arrayContaining([field]) });
    }
    await expectProblem(await call('/v1/experiments/compare?base=exp_a&head=exp_b', { token: t.accessToken }), 404);
    // The experiment's own node types are the platform's: a tenant's flow cannot use them.
    for (const type of ['experiment_examples', 'experiment_evaluate']) {
      const res = await post(t, '/v1/flows/validate', { definition: { nodes: [{ id: 'x', type, config: {} }] } }, 200);
      expect(res.problems).toEqual([expect.objectContaining({ path: 'nodes[0].type', code: 'unknown_type' })]);
      // The tenant's known types are listed; the platform's internal ones are not.
      const known = String(res.problems[0].message.split('known: ')[1]).split(', ');
      expect(known).toEqual(expect.arrayContaining(['agent', 'approval', 'http', 'llm', 'map', 'subflow', 'tool', 'transform']));
      expect(known.filter((k) => k.startsWith('experiment_'))).toEqual([]);
    }
  });

  it('an experiment whose run never started (the start failed after the record was written) is failed by the hub alarm', async () => {
    const t = await signup('exp-lost');
    const hook = await createHook(t, { tag: 'exp-lost', eventTypes: ['experiment.completed'] });
    const flowId = await createFlow(t, V1);
    const d = await post(t, '/v1/datasets', { name: 'sums' });
    await post(t, `/v1/datasets/${d.id}/examples`, { examples: EXAMPLES.slice(0, 1) });
    const healthy = await post(t, '/v1/experiments', { datasetId: d.id, target: { flowId }, evaluators: [{ type: 'exact' }] });
    // The fault: the record is in the hub, but starting its run failed (the FlowRun never got its state).
    const hub = tenantHubStub(env, t.tenantId);
    const { results: _r, ...record } = healthy;
    const lost = { ...record, id: newId('exp'), runId: newId('run'), createdAt: new Date().toISOString() };
    expect(await hub.createExperiment(t.tenantId, lost as never)).toMatchObject({ ok: true });
    await expectProblem(await call(`/v1/runs/${lost.runId}`, { token: t.accessToken }), 404);
    // Before the grace period the alarm leaves it running.
    await runDurableObjectAlarm(hub);
    expect(await get(t, `/v1/experiments/${lost.id}`)).toMatchObject({ status: 'running' });
    // Past the grace period (both checks made due), the alarm fails it; the healthy one is untouched.
    await runInDurableObject(hub, (_i: TenantHub, state) => {
      state.storage.sql.exec(`UPDATE experiments SET start_check_at = ? WHERE start_check_at IS NOT NULL`, Date.now() - 1);
    });
    await runDurableObjectAlarm(hub);
    const failed = await get(t, `/v1/experiments/${lost.id}`);
    expect(failed).toMatchObject({ status: 'failed', summary: null, results: [] });
    expect(failed.error).toContain('never started');
    expect((await finished(t, healthy.id)).status).toBe('completed');
    // experiment.completed with status failed, once (a later alarm finds nothing to check).
    await runDurableObjectAlarm(hub);
    const got = await receivedAtLeast(hook.name, 2, 20_000);
    const forLost = got.filter((r) => r.payload!.data.experiment.id === lost.id);
    expect(forLost).toHaveLength(1);
    expect(forLost[0]!.payload!.data.experiment).toMatchObject({ status: 'failed', error: failed.error });
    const pending = await runInDurableObject(hub, (_i: TenantHub, state) =>
      state.storage.sql.exec(`SELECT COUNT(*) AS n FROM experiments WHERE start_check_at IS NOT NULL`).one(),
    );
    expect(pending.n).toBe(0);
  }, 60_000);

  it('a cancelled experiment ends cancelled with its run; compare refuses it', async () => {
    const t = await signup('exp-cancel');
    const slow = await createFlow(t, { nodes: [{ id: 'wait', type: 'approval', config: {} }] });
    const d = await post(t, '/v1/datasets', { name: 'waits' });
    await post(t, `/v1/datasets/${d.id}/examples`, { examples: [{ input: {} }, { input: {} }] });
    const e = await post(t, '/v1/experiments', {
      datasetId: d.id,
      target: { flowId: slow },
      evaluators: [{ type: 'latency', maxMs: 1000 }],
    });
    await eventually(async () => ((await get(t, `/v1/runs/${e.runId}`)).status === 'running' ? true : undefined), {
      what: 'the run to start',
    });
    await expectJson(await call(`/v1/experiments/${e.id}/cancel`, { token: t.accessToken, body: {} }));
    const done = await finished(t, e.id);
    expect(done).toMatchObject({ status: 'cancelled', summary: null, results: [] });
    await expectProblem(await call(`/v1/experiments/${e.id}/cancel`, { token: t.accessToken, body: {} }), 409);
    await expectProblem(await call(`/v1/experiments/compare?base=${e.id}&head=${e.id}`, { token: t.accessToken }), 409);
  });
});
