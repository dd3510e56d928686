/**
 * Flow runs under faults of their own object: an alarm handler that throws k times in a row, and
 * objects reset in the middle of a step. Lost and duplicated are read from outside: each run's state
 * and event log from the API (GET /v1/runs/{id}, GET /v1/runs/{id}/events), the D1 summaries from
 * GET /v1/runs, the `run.succeeded` webhooks from the receiver (signatures verified), and the
 * tenant hub's run slots (TenantHub.runSlots over RPC: a leaked slot is a lost release).
 */
import { seedTenant, sleep, until } from '../lib/api.mjs';
import { mapLimit, ms, stats } from '../lib/stats.mjs';

const GATED = {
  nodes: [
    { id: 'gate', type: 'approval', config: {} },
    { id: 'after', type: 'transform', config: { expression: 'nodes.gate.output' } },
  ],
  edges: [{ from: 'gate', to: 'after' }],
};

/** workerd retries a failed alarm 2, 4, 8, 16, 32 and 64 s later, then gives up (six retries). */
const PLATFORM_RETRY_S = [2, 4, 8, 16, 32, 64];
const SWEEP_AHEAD_MS = 6 * 60_000;

const TERMINAL = new Set(['succeeded', 'failed', 'cancelled']);

async function statuses(c, ids) {
  return mapLimit(ids, 8, async (id) => (await c.req('GET', `/v1/runs/${id}`)).body?.status ?? 'unknown');
}

/**
 * What every run should show once recovered, read from outside. `lost`: a run not succeeded, a D1
 * summary that disagrees, a missing `run.succeeded` webhook, a slot not released. `duplicated`: a
 * node success or `run.completed` recorded twice in the event log, a `run.succeeded` webhook
 * answered 2xx more than once.
 */
export async function checkRuns({ w, rx, c, hook, flowIds, runIds }) {
  const problems = [];
  let lost = 0;
  let duplicated = 0;
  const summaries = new Map();
  for (const flowId of flowIds) for (const r of await c.all(`/v1/runs?flowId=${flowId}`)) summaries.set(r.id, r.status);
  const okWebhooks = new Map();
  for (const r of rx.records(hook)) {
    if (r.status === null || r.status < 200 || r.status >= 300 || r.payload?.type !== 'run.succeeded') continue;
    const id = r.payload.data?.run?.id;
    okWebhooks.set(id, (okWebhooks.get(id) ?? 0) + 1);
  }
  let nodeStarts = 0;
  await mapLimit(runIds, 6, async (id) => {
    const run = (await c.req('GET', `/v1/runs/${id}`)).body;
    if (run?.status !== 'succeeded') {
      lost += 1;
      problems.push(`${id}: status ${run?.status}`);
    }
    if (summaries.get(id) !== 'succeeded') {
      lost += 1;
      problems.push(`${id}: D1 summary ${summaries.get(id)}`);
    }
    const hooks = okWebhooks.get(id) ?? 0;
    if (hooks === 0) {
      lost += 1;
      problems.push(`${id}: no run.succeeded webhook`);
    }
    duplicated += Math.max(0, hooks - 1);
    const events = await c.runEvents(id);
    const count = (type) => {
      const m = new Map();
      for (const e of events) if (e.type === type) m.set(e.nodeId ?? '', (m.get(e.nodeId ?? '') ?? 0) + 1);
      return m;
    };
    for (const [, n] of count('node.succeeded')) if (n > 1) duplicated += n - 1;
    for (const [, n] of count('run.completed')) if (n > 1) duplicated += n - 1;
    nodeStarts += events.filter((e) => e.type === 'node.started').length;
  });
  const slots = await w.hub(c.tenantId).runSlots(c.tenantId, 1000);
  const leaked = slots.filter((s) => runIds.includes(s.runId));
  lost += leaked.length;
  if (leaked.length) problems.push(`${leaked.length} run slots not released`);
  return { lost, duplicated, problems: problems.slice(0, 20), nodeStarts, webhooks: rx.tally(hook, []) };
}

export const alarmThrows = {
  name: 'alarm-throws',
  injects:
    'A FlowRun alarm handler throws k times in a row (k = 1..7; test-only switch FlowRun.injectFaultForTest, ENVIRONMENT=test only) when the run resumes after an approval. workerd retries a failed alarm 6 times (2 s … 64 s); at k = 7 it gives up and only the cron sweeper (reconcile-runs, run as of 6 minutes later) can recover the run.',
  async run({ w, rx, quick, log }) {
    const ks = quick ? [1, 2, 3] : [1, 2, 3, 4, 5, 6, 7];
    const perK = quick ? 2 : 3;
    const c = await seedTenant(w, 'alarm', { maxActiveRuns: ks.length * perK });
    const hookName = 'alarm-runs';
    const hook = await c.createHook(rx.hookUrl(hookName), ['run.succeeded']);
    rx.register(hookName, hook.secret);
    const flowId = await c.createFlow('chaos alarm', GATED);
    const runs = [];
    for (const k of ks)
      for (let j = 0; j < perK; j++) runs.push({ k, id: (await c.startRun(flowId, { k, j })).id, doneMs: null, via: 'alarm retries' });
    const ids = runs.map((r) => r.id);
    const parked = await until(async () => ((await statuses(c, ids)).every((s) => s === 'waiting') ? true : undefined), {
      timeoutMs: 30_000,
    });
    if (!parked) throw new Error('runs did not reach their approval');
    await Promise.all(runs.map((r) => w.flowRun(r.id).injectFaultForTest({ kind: 'alarm_throws', times: r.k })));
    const signalled = Date.now();
    await mapLimit(runs, 8, (r) => c.must('POST', `/v1/runs/${r.id}/signal`, { payload: 'go' }, 200));
    log(`alarm-throws: ${runs.length} runs signalled, alarms armed to throw k = ${ks.join(',')} times`);

    const refresh = async (list) => {
      const st = await statuses(
        c,
        list.map((r) => r.id),
      );
      st.forEach((s, i) => {
        if (TERMINAL.has(s) && list[i].doneMs === null) list[i].doneMs = Date.now() - signalled;
      });
    };
    // Until every run is done, or the platform has made every retry it will (its throws are used up) and
    // still not finished the run: that is the platform giving up (k = 7), left to the sweeper.
    const givenUp = new Set();
    const deadline = signalled + 4 * PLATFORM_RETRY_S.reduce((a, b) => a + b, 0) * 1000;
    while (Date.now() < deadline) {
      await refresh(runs);
      for (const r of runs.filter((x) => x.doneMs === null && x.k > PLATFORM_RETRY_S.length && !givenUp.has(x)))
        if ((await w.flowRun(r.id).injectFaultForTest({ kind: 'inspect' })).alarmThrowsLeft === 0) givenUp.add(r);
      if (runs.every((r) => r.doneMs !== null || givenUp.has(r))) break;
      await sleep(1_000);
    }
    // The last throw was the platform's last retry; had it one more, it would come within seconds of this.
    if (givenUp.size) await sleep(5_000);
    await refresh(runs);
    const stuck = runs.filter((r) => r.doneMs === null);
    let sweeps = 0;
    if (stuck.length) {
      log(
        `alarm-throws: ${stuck.length} runs stuck ${ms(Date.now() - signalled)} after the signal, their alarm retries used up; cron sweeper as of +6 min`,
      );
      for (const r of stuck) r.via = 'sweeper';
      // The cron runs every minute; here every 5 s, each as of 6 minutes later (the reconciler looks at summaries unchanged for 5).
      await until(
        async () => {
          await w.sweep(Date.now() + SWEEP_AHEAD_MS);
          sweeps += 1;
          await sleep(1_000);
          await refresh(stuck);
          return stuck.every((r) => r.doneMs !== null) ? true : undefined;
        },
        { timeoutMs: 60_000, intervalMs: 4_000 },
      );
    }
    // Reports are delivered after the run finished; give them a moment before reading the receivers.
    await until(async () => (rx.tally(hookName, ids, (p) => p?.data?.run?.id).lost === 0 ? true : undefined), { timeoutMs: 30_000 });
    const check = await checkRuns({ w, rx, c, hook: hookName, flowIds: [flowId], runIds: ids });
    const perKDone = ks.map((k) => {
      const list = runs.filter((r) => r.k === k);
      const done = list.filter((r) => r.doneMs !== null).map((r) => r.doneMs);
      return {
        k,
        runs: list.length,
        recovered: done.length,
        medianMs: stats(done).p50,
        via: list[0].via,
        platformGaveUp: list.filter((r) => givenUp.has(r)).length,
      };
    });
    const fig = perKDone.map(
      (p) =>
        `k=${p.k} ${p.recovered === p.runs ? ms(p.medianMs) : `${p.recovered}/${p.runs}`}${p.via === 'sweeper' ? ` (retries used up; sweeper)` : ''}`,
    );
    return {
      figures: `${runs.length} runs, recovered after ${fig.join(', ')}`,
      lost: check.lost,
      duplicated: check.duplicated,
      details: { perK: perKDone, sweeps, problems: check.problems, webhooks: check.webhooks },
    };
  },
};

export const objectReset = {
  name: 'object-reset',
  injects:
    "N FlowRun objects are reset (ctx.abort(), test-only switch FlowRun.injectFaultForTest) while their http node's request is in flight (the far end holds it open); the platform retries the dead alarm and the engine re-runs the node with the same Idempotency-Key.",
  async run({ w, rx, hold, quick, log }) {
    const n = quick ? 30 : 100;
    const c = await seedTenant(w, 'reset', { maxActiveRuns: n, httpAllowlist: ['127.0.0.1'] });
    const hookName = 'reset-runs';
    const hook = await c.createHook(rx.hookUrl(hookName), ['run.succeeded']);
    rx.register(hookName, hook.secret);
    const flowId = await c.createFlow('chaos reset', {
      nodes: [
        { id: 'a', type: 'transform', config: { expression: 'input.i' } },
        {
          id: 'call',
          type: 'http',
          config: { url: `${hold.url}/effect`, method: 'POST', body: '{"i": nodes.a.output}', timeoutMs: 30_000 },
        },
        { id: 'c', type: 'transform', config: { expression: 'nodes.call.output.status' } },
      ],
      edges: [
        { from: 'a', to: 'call' },
        { from: 'call', to: 'c' },
      ],
    });
    hold.hold();
    const before = hold.hits.length;
    const ids = await mapLimit([...Array(n).keys()], 8, async (i) => (await c.startRun(flowId, { i })).id);
    const mine = (key) => ids.some((id) => key.startsWith(`${id}:`));
    const inFlight = await until(
      async () =>
        new Set(
          hold.hits
            .slice(before)
            .map((h) => h.key)
            .filter(mine),
        ).size >= n
          ? true
          : undefined,
      { timeoutMs: 60_000 },
    );
    if (!inFlight) throw new Error(`only ${new Set(hold.hits.slice(before).map((h) => h.key)).size} of ${n} runs reached their http step`);
    log(`object-reset: ${n} runs mid-step; resetting their objects`);
    const resetAt = Date.now();
    // Each call rejects: the object it reached was torn down under it.
    const resets = await Promise.allSettled(ids.map((id) => w.flowRun(id).injectFaultForTest({ kind: 'reset' })));
    hold.answerAll();
    const done = new Map();
    let sweeps = 0;
    const finished = async () => {
      const open = ids.filter((id) => !done.has(id));
      const st = await statuses(c, open);
      open.forEach((id, i) => {
        if (TERMINAL.has(st[i])) done.set(id, Date.now() - resetAt);
      });
      return done.size === n ? true : undefined;
    };
    if (!(await until(finished, { timeoutMs: 45_000, intervalMs: 500 }))) {
      log(`object-reset: ${n - done.size} runs not finished 45 s after the reset; cron sweeper as of +6 min`);
      await w.sweep(Date.now() + SWEEP_AHEAD_MS);
      sweeps += 1;
      await until(finished, { timeoutMs: 30_000, intervalMs: 500 });
    }
    await until(async () => (rx.tally(hookName, ids, (p) => p?.data?.run?.id).lost === 0 ? true : undefined), { timeoutMs: 30_000 });
    const check = await checkRuns({ w, rx, c, hook: hookName, flowIds: [flowId], runIds: ids });
    const hits = hold.hits.slice(before).filter((h) => mine(h.key));
    const keys = new Set(hits.map((h) => h.key));
    const recovered = stats([...done.values()]);
    return {
      figures: `${n} runs reset mid-step, finished p50 ${ms(recovered.p50)} / max ${ms(recovered.max)} after; ${hits.length} requests for ${keys.size} Idempotency-Keys${sweeps ? '; needed the sweeper' : ''}`,
      lost: check.lost,
      duplicated: check.duplicated,
      details: {
        runs: n,
        resetCallsRejected: resets.filter((r) => r.status === 'rejected').length,
        recoveredMs: recovered,
        requests: hits.length,
        idempotencyKeys: keys.size,
        nodeStarts: check.nodeStarts,
        sweeps,
        problems: check.problems,
        webhooks: check.webhooks,
      },
    };
  },
};
