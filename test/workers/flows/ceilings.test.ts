/**
 * Issue 12 item 6: ceilings a tenant cannot raise by itself (docs/operations.md, "Ceilings"), each over
 * the real runtime: the plan's cap on maxActiveRuns, the tenant's budget of live child runs and the
 * nesting depth of child runs, the http node's response size, bounded expression evaluation, and node
 * outputs parsed once per run rather than once per launch.
 */
import { runDurableObjectAlarm, runInDurableObject } from 'cloudflare:test';
import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import { NodeOutputs } from '../../../durable-objects/flow-run/outputs';
import { nodes } from '../../../durable-objects/flow-run/store';
import { CHILD_CHECK_LIMIT, CHILD_RECHECK_MS, CHILD_RETRY_MS } from '../../../durable-objects/tenant-hub/run-admission';
import type { TenantHub } from '../../../durable-objects/tenant-hub/tenant-hub';
import {
  EXPRESSION_MAX_DEPTH,
  EXPRESSION_MAX_STEPS,
  EXPRESSION_MAX_STEPS_PER_SCOPE,
  HTTP_RESPONSE_MAX_BYTES,
  MAX_RUN_DEPTH,
  PLAN_CEILINGS,
} from '../../../src/flows/ceilings';
import { tenantRunLimit } from '../../../src/flows/runs-service';
import { driveAlarms } from '../../support/workers/durable-objects';
import { call, expectJson, expectProblem } from '../../support/workers/http';
import { signup, type TestTenant } from '../../support/workers/tenants';
import {
  allowLocalHttp,
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
  runStub,
  startRun,
  transform,
  until,
  waitFor,
} from './_engine-kit';

function hubOf(tenantId: string) {
  return env.TENANT_HUB.get(env.TENANT_HUB.idFromName(tenantId));
}

async function setPlan(t: TestTenant, plan: 'free' | 'pro'): Promise<void> {
  await env.DB.prepare('UPDATE tenants SET plan = ?1 WHERE id = ?2').bind(plan, t.tenantId).run();
}

describe('maxActiveRuns is capped by the plan', () => {
  it('PATCH /v1/tenant above the plan ceiling → 422 naming settings.maxActiveRuns; at the ceiling → 200', async () => {
    const t = await signup('ceil-runs');
    const patch = (maxActiveRuns: number) =>
      call('/v1/tenant', { method: 'PATCH', token: t.accessToken, body: { settings: { maxActiveRuns } } });
    const free = PLAN_CEILINGS.free.maxActiveRuns;
    const refused = await expectProblem(await patch(free + 1), 422);
    expect(refused.errors.map((e: { path: string }) => e.path)).toEqual(['settings.maxActiveRuns']);
    expect(refused.detail).toContain(`at most ${free} on the free plan`);
    expect((await expectJson(await call('/v1/tenant', { token: t.accessToken }))).settings.maxActiveRuns).toBeUndefined();
    expect((await expectJson(await patch(free))).settings.maxActiveRuns).toBe(free);

    // A pro tenant may go up to its own ceiling, not past it.
    await setPlan(t, 'pro');
    const pro = PLAN_CEILINGS.pro.maxActiveRuns;
    expect((await expectJson(await patch(pro))).settings.maxActiveRuns).toBe(pro);
    const over = await expectProblem(await patch(pro + 1), 422);
    expect(over.errors.map((e: { path: string }) => e.path)).toEqual(['settings.maxActiveRuns']);
  });

  it('admission never applies more than the plan allows, whatever the stored setting (e.g. kept from a downgrade)', async () => {
    const t = await signup('ceil-runs-clamp');
    await setPlan(t, 'pro');
    await ok(t, 'PATCH', '/v1/tenant', { settings: { maxActiveRuns: 150 } });
    expect(await tenantRunLimit(env, t.tenantId)).toBe(150);
    await setPlan(t, 'free');
    expect(await tenantRunLimit(env, t.tenantId)).toBe(PLAN_CEILINGS.free.maxActiveRuns);
  });
});

describe('child runs: a per-tenant budget of live child runs', () => {
  const budget = PLAN_CEILINGS.free.liveChildRuns;
  const live = (t: TestTenant) => hubOf(t.tenantId).liveChildRuns(t.tenantId);

  it('a map wider than the budget waits for places its own children give back, and finishes every item', async () => {
    const t = await signup('ceil-children-wide');
    const child = await createFlow(t, { nodes: [transform('x', 'input.i * 2')] }, 'child');
    const n = budget + 10;
    const flowId = await createFlow(t, {
      nodes: [{ id: 'each', type: 'map', config: { items: `[1..${n}]`, flowId: child, input: '{"i": item}', concurrency: 100 } }],
    });
    const done = await waitFor(t, (await startRun(t, flowId)).id, undefined, 60_000);
    expect(done.status).toBe('succeeded');
    expect(node(done, 'each').output).toEqual(Array.from({ length: n }, (_, i) => ({ x: (i + 1) * 2 })));
    await until('every place back', async () => ((await live(t)) === 0 ? true : undefined));
  }, 90_000);

  it('a node that can start no child (the budget is held by other runs) fails with kind limit; ended children free places', async () => {
    const t = await signup('ceil-children');
    const gated = await createFlow(t, { nodes: [approval('gate')] }, 'gated');
    const n = budget + 10;
    const wide = await startRun(
      t,
      await createFlow(t, {
        nodes: [{ id: 'each', type: 'map', config: { items: `[1..${n}]`, flowId: gated, input: '{"i": item}', concurrency: 100 } }],
      }),
    );
    // The map holds every place; its other children wait, pending, for its own to end.
    await until('the map to hold the whole budget', async () => ((await live(t)) === budget ? true : undefined), 30_000);
    const holding = await ok(t, 'GET', `/v1/runs/${wide.id}`);
    expect(node(holding, 'each').status).toBe('waiting');

    const quick = await createFlow(t, { nodes: [transform('x', 'input.n * 2')] }, 'quick');
    const sub = await createFlow(t, { nodes: [{ id: 'sub', type: 'subflow', config: { flowId: quick, input: '{"n": 21}' } }] });
    const refused = await waitFor(t, (await startRun(t, sub)).id);
    expect(refused.status).toBe('failed');
    expect(node(refused, 'sub').error).toMatchObject({
      kind: 'limit',
      message: expect.stringContaining(`${budget} places for live child runs are taken`),
      details: { limit: 'live_child_runs', budget, live: budget, requested: 1 },
    });
    expect(await live(t)).toBe(budget);

    // Cancelling the map's run cancels its children, whose own reports give their places back.
    await ok(t, 'POST', `/v1/runs/${wide.id}/cancel`, {});
    await until('the cancelled children to free their places', async () => ((await live(t)) === 0 ? true : undefined), 30_000);
    const again = await waitFor(t, (await startRun(t, sub)).id);
    expect(again.status).toBe('succeeded');
    expect(node(again, 'sub').output).toEqual({ x: 42 });
    await until('the child to give its place back', async () => ((await live(t)) === 0 ? true : undefined));
  }, 120_000);

  it('places held by runs that are over or never started (an end never reported) are found and freed when none is left', async () => {
    const t = await signup('ceil-children-leak');
    // Places whose release was lost: taken 10 minutes ago by runs that do not exist. Their hub-alarm
    // check is not due yet (the next describe covers that path): here only the node's own repair acts.
    const ghosts = Array.from({ length: budget }, (_, i) => `run_ghost_${t.tenantId}_${i}`);
    const taken = Date.now() - 10 * 60_000;
    await runInDurableObject(hubOf(t.tenantId), (_hub, state) => {
      for (const id of ghosts)
        state.storage.sql.exec(
          `INSERT INTO child_runs (run_id, parent_run_id, admitted_at, check_at) VALUES (?, 'run_gone', ?, ?)`,
          id,
          taken,
          Date.now() + CHILD_RECHECK_MS,
        );
    });
    expect(await live(t)).toBe(budget);
    const child = await createFlow(t, { nodes: [transform('x', 'input.n * 2')] }, 'child');
    const flowId = await createFlow(t, { nodes: [{ id: 'sub', type: 'subflow', config: { flowId: child, input: '{"n": 21}' } }] });
    const done = await waitFor(t, (await startRun(t, flowId)).id);
    expect(done.status).toBe('succeeded');
    expect(node(done, 'sub').output).toEqual({ x: 42 });
    // The oldest ghosts were checked and freed; the child's own place went back when it ended.
    await until('the child to give its place back', async () => ((await live(t)) === budget - CHILD_CHECK_LIMIT ? true : undefined));
  });
});

describe('child runs: nesting depth', () => {
  it(`a flow that calls itself stops at depth ${MAX_RUN_DEPTH}: that run's subflow node fails with kind limit`, async () => {
    const t = await signup('ceil-depth');
    const flowId = await createFlow(t, { nodes: [transform('x', '1')] });
    await ok(t, 'PUT', `/v1/flows/${flowId}`, {
      name: 'self',
      definition: { nodes: [{ id: 'sub', type: 'subflow', config: { flowId } }] },
    });
    const root = await startRun(t, flowId);
    expect((await waitFor(t, root.id, undefined, 30_000)).status).toBe('failed');
    const deepest = root.id + '.sub.0'.repeat(MAX_RUN_DEPTH);
    const run = await until('the deepest run to fail', async () => {
      const r = await ok(t, 'GET', `/v1/runs/${deepest}`);
      return r.status === 'failed' ? r : undefined;
    });
    expect(run.parent).toMatchObject({ depth: MAX_RUN_DEPTH, nodeId: 'sub' });
    expect(node(run, 'sub').error).toMatchObject({
      kind: 'limit',
      details: { limit: 'run_depth', max: MAX_RUN_DEPTH, depth: MAX_RUN_DEPTH + 1 },
    });
    // No run one level deeper was ever created, and every level failed.
    expect((await call(`/v1/runs/${deepest}.sub.0`, { token: t.accessToken })).status).toBe(404);
    await until('every level to be summarized as failed', async () => {
      const all = (await ok(t, 'GET', `/v1/runs?flowId=${flowId}&limit=100`)).data as Array<{ status: string }>;
      return all.length === MAX_RUN_DEPTH + 1 && all.every((r) => r.status === 'failed') ? true : undefined;
    });
    expect(await hubOf(t.tenantId).liveChildRuns(t.tenantId)).toBe(0);
  }, 60_000);
});

describe('child runs: leaked places are repaired by the hub alarm', () => {
  it('frees the place of a run that is over or never started past the grace period; keeps a live one', async () => {
    const t = await signup('ceil-children-leak');
    const hub = hubOf(t.tenantId);
    const done = await waitFor(t, (await startRun(t, await createFlow(t, { nodes: [transform('x', '1')] }))).id);
    expect(done.status).toBe('succeeded');
    const gated = await startRun(t, await createFlow(t, { nodes: [approval('gate')] }));
    await until('the gated run to wait', async () =>
      (await ok(t, 'GET', `/v1/runs/${gated.id}`)).status === 'waiting' ? true : undefined,
    );
    // The faults: places held by a run whose end never reached the hub, by one that never started, and a live one.
    const never = `run_never_${crypto.randomUUID().replaceAll('-', '')}`;
    const granted = await hub.admitChildRuns(t.tenantId, 'run_some_parent', [done.id, never, gated.id], PLAN_CEILINGS.free.liveChildRuns);
    expect(granted.granted).toHaveLength(3);
    // Within the grace period the alarm keeps every place.
    await runDurableObjectAlarm(hub);
    expect(await hub.liveChildRuns(t.tenantId)).toBe(3);
    // Past it (every check made due), the alarm frees the two leaked places and checks the live one later.
    // (Driven until settled: a check that could not reach its run under load is simply retried.)
    const places = () =>
      runInDurableObject(hub, (_i: TenantHub, state) =>
        state.storage.sql.exec<{ run_id: string; check_at: number }>(`SELECT run_id, check_at FROM child_runs`).toArray(),
      );
    const makeDue = () =>
      runInDurableObject(hub, async (_i: TenantHub, state) => {
        state.storage.sql.exec(`UPDATE child_runs SET check_at = ?`, Date.now() - 1);
        await state.storage.setAlarm(Date.now());
      });
    await makeDue();
    const before = Date.now();
    const left = await driveAlarms(hub, async () => {
      const rows = await places();
      return rows.length === 1 ? rows : undefined;
    });
    expect(left.map((r) => r.run_id)).toEqual([gated.id]);
    expect(left[0]!.check_at).toBeGreaterThanOrEqual(before + CHILD_RETRY_MS);
    // Once the live run ends (its report lost or not), the next due check frees its place too.
    await ok(t, 'POST', `/v1/runs/${gated.id}/cancel`, {});
    await until('the gated run to end', async () =>
      (await ok(t, 'GET', `/v1/runs/${gated.id}`)).status === 'cancelled' ? true : undefined,
    );
    await makeDue();
    await driveAlarms(hub, async () => ((await hub.liveChildRuns(t.tenantId)) === 0 ? true : undefined));
  }, 60_000);
});

describe('http node: response size', () => {
  it(`stops reading a streamed body past ${HTTP_RESPONSE_MAX_BYTES} bytes and fails (kind limit, not retried)`, async () => {
    const t = await signup('ceil-http');
    await allowLocalHttp(t);
    const key = newKey('big');
    const total = 64 * 1024 * 1024;
    const flowId = await createFlow(t, {
      nodes: [http('fetch', endpoint(key, { bytes: total }), { retry: { maxAttempts: 3, backoffMs: 0 } })],
    });
    const done = await waitFor(t, (await startRun(t, flowId)).id);
    expect(done.status).toBe('failed');
    const n = node(done, 'fetch');
    expect(n.attempts).toBe(1);
    expect(n.error).toMatchObject({ kind: 'limit', details: { limit: 'http_response_bytes', max: HTTP_RESPONSE_MAX_BYTES } });
    // The server saw the client leave long before the end of the body.
    const [hit] = await until('the server to see the client leave', async () => {
      const h = await hits(key);
      return h[0]?.closedEarly ? h : undefined;
    });
    expect(hit!.sentBytes).toBeLessThan(total / 4);
  });

  it('a declared Content-Length past the limit fails before reading; a body under it is read whole', async () => {
    const t = await signup('ceil-http-declared');
    await allowLocalHttp(t);
    const big = newKey('declared');
    const small = newKey('small');
    const flowId = await createFlow(t, {
      nodes: [
        http('big', endpoint(big, { bytes: HTTP_RESPONSE_MAX_BYTES + 1, declare: 1 })),
        http('small', endpoint(small, { bytes: HTTP_RESPONSE_MAX_BYTES })),
      ],
      policy: { onFailure: 'continue' },
    });
    const done = await waitFor(t, (await startRun(t, flowId)).id);
    expect(node(done, 'big').error).toMatchObject({ kind: 'limit', message: expect.stringContaining('content-length') });
    expect(node(done, 'small').status).toBe('succeeded');
    expect((node(done, 'small').output.body as string).length).toBe(HTTP_RESPONSE_MAX_BYTES);
  });
});

describe('expressions are bounded', () => {
  it.each([
    ['a tail-recursive loop', '($f := function($n){ $f($n+1) }; $f(0))', `exceeded ${EXPRESSION_MAX_STEPS} steps`],
    ['unbounded recursion', '($f := function($n){ 1 + $f($n+1) }; $f(0))', `deeper than ${EXPRESSION_MAX_DEPTH} levels`],
  ])('%s fails the node (kind expression, not retried) instead of spinning the run', async (_label, expression, says) => {
    const t = await signup('ceil-expr');
    const flowId = await createFlow(t, {
      nodes: [transform('spin', expression, { retry: { maxAttempts: 5, backoffMs: 0 } }), transform('after', '1')],
      edges: [edge('spin', 'after')],
    });
    const run = await startRun(t, flowId);
    const done = await waitFor(t, run.id, undefined, 30_000);
    expect(done.status).toBe('failed');
    const spin = node(done, 'spin');
    expect(spin.attempts).toBe(1);
    expect(spin.error).toMatchObject({ kind: 'expression', message: expect.stringContaining(says) });
    expect(ofType(await events(run.id), 'node.retrying')).toEqual([]);
  });

  it("a map's per-item expressions share one budget per attempt: past it the node fails (kind expression)", async () => {
    const t = await signup('ceil-expr-map');
    const child = await createFlow(t, { nodes: [transform('x', 'input')] }, 'child');
    const flowId = await createFlow(t, {
      nodes: [
        {
          id: 'each',
          type: 'map',
          config: { items: '[1..1000]', flowId: child, input: '{"n": $sum($map([1..3000], function($x){ $x }))}' },
        },
      ],
    });
    const done = await waitFor(t, (await startRun(t, flowId)).id, undefined, 30_000);
    expect(done.status).toBe('failed');
    expect(node(done, 'each').error).toMatchObject({
      kind: 'expression',
      message: expect.stringContaining(`exceeded ${EXPRESSION_MAX_STEPS_PER_SCOPE} steps in total`),
    });
    expect((await ok(t, 'GET', `/v1/runs?flowId=${child}`)).data).toEqual([]);
  });

  it('a heavy but finite expression still evaluates', async () => {
    const t = await signup('ceil-expr-ok');
    const flowId = await createFlow(t, { nodes: [transform('sum', '$sum($map([1..20000], function($x){ $x * 2 }))')] });
    const done = await waitFor(t, (await startRun(t, flowId)).id);
    expect(node(done, 'sum').output).toBe(20000 * 20001);
  });
});

describe('node outputs are parsed once per stored value', () => {
  it('building scopes again reuses the parsed outputs; a new output is parsed once', async () => {
    const t = await signup('ceil-parse');
    const fan = Array.from({ length: 8 }, (_, i) => transform(`use${i}`, `$count(nodes.big.output) + ${i}`));
    const flowId = await createFlow(t, {
      nodes: [transform('big', '[1..5000].{"i": $, "s": "item " & $string($)}'), ...fan],
      edges: fan.map((f) => edge('big', f.id)),
    });
    const run = await startRun(t, flowId);
    expect((await waitFor(t, run.id)).status).toBe('succeeded');
    await runInDurableObject(runStub(run.id), (_instance, state) => {
      const sql = state.storage.sql;
      const outputs = new NodeOutputs();
      const first = outputs.scope(nodes(sql));
      expect(outputs.parses).toBe(9);
      for (let launch = 0; launch < 20; launch++) expect(outputs.scope(nodes(sql)).big!.output).toBe(first.big!.output);
      expect(outputs.parses).toBe(9);
      // A write of one output (a success, a resume) is seen at once, and only that output is parsed again.
      sql.exec(`UPDATE nodes SET output = ? WHERE id = 'use3'`, JSON.stringify({ replaced: true }));
      expect(outputs.scope(nodes(sql)).use3!.output).toEqual({ replaced: true });
      expect(outputs.parses).toBe(10);
      sql.exec(`UPDATE nodes SET output = NULL WHERE id = 'use4'`);
      expect(outputs.scope(nodes(sql)).use4!.output).toBeNull();
      expect(outputs.parses).toBe(10);
    });
  });
});
