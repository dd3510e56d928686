/**
 * The flows suite of `npm run bench` (`npm run bench -- --only flows`): our flow
 * engine (FlowRun Durable Objects, through the real API) side by side with
 * Cloudflare Workflows running locally in the same workerd, same run.
 *
 *   linear-50     50 no-op transform nodes in a chain   vs 50 sequential step.do
 *   parallel-100  100 no-op transform nodes, no edges   vs 100 step.do in Promise.all
 *   concurrent    100 runs of a 10-node flow (a → 8 parallel → z) started at once,
 *                 vs 100 instances of the same 10-step workflow
 *   full tenant   the same 100 runs at a tenant with 10 slots (ours only): queue wait and
 *                 execution apart, vs the concurrent burst where every run had a slot
 *
 * Ours is timed two ways: "engine" = run.started → run.completed from the run's own
 * event timestamps, and "e2e" = the client's POST /v1/flows/{id}/runs until the
 * run.completed SSE frame arrives. The client starts each run with `Accept:
 * text/event-stream`, so the POST's answer is the run's event stream (one request, as
 * on the Workflows side); BENCH_START_STREAM=0 starts it with a JSON POST and then
 * opens GET /v1/runs/{id}/events (two requests, the bench's way before the eighteenth
 * round). "POST" is the time to the answer's head either way. Workflows: "engine"
 * = create() → status() complete inside the baseline Worker (scripts/bench/workflows-worker.js),
 * "e2e" = the client's POST /run until its answer.
 *
 * Every run of ours is checked: the run succeeded, every node `succeeded` with
 * `attempts` 1 (GET /v1/runs/{id}), exactly one node.started and one node.succeeded
 * event per node, and the expected output. A node's `node.succeeded` event is appended in
 * the same transaction as its success (durable-objects/flow-run/transitions.ts), so one such
 * event per node is one success per node.
 */
import { createHmac, randomBytes } from 'node:crypto';
import path from 'node:path';
import { cpuBetween, sampleCpu } from './lib/cpu.mjs';
import { markdownTable } from './lib/report.mjs';
import { formatStages, parseServerTiming, summarizeStages } from './lib/stages.mjs';
import { mapLimit } from './lib/tenants.mjs';
import { BENCH_DIR } from './lib/workers.mjs';

export const FLOWS_SUITE = 'flows';
export const WORKFLOWS = 'workflows-baseline';
/** The isolate where workerd runs the engine of the binding below (one object per instance). */
export const WORKFLOWS_ENGINE = 'workflows:bench-workflow';

const LINEAR_N = 50;
const PARALLEL_N = 100;
const CONCURRENT_RUNS = 100;
const CONCURRENT_NODES = 10;
/** Bursts of CONCURRENT_RUNS per side (ABBA order), pooled for the figures; each burst's p95 ratio is shown too. */
const CONCURRENT_BURSTS = Math.max(1, Number(process.env.BENCH_FLOW_BURSTS ?? 2));
/** A warm-up burst per side before the measured ones (`BENCH_FLOW_WARM_BURST=0`: none, as before the nineteenth round). */
const WARM_BURST = process.env.BENCH_FLOW_WARM_BURST !== '0';
const RUN_TIMEOUT_MS = 60_000;
/** Start each run with Accept: text/event-stream (one request); `0`: a JSON POST, then GET …/events. */
const START_STREAM = process.env.BENCH_START_STREAM !== '0';
const NOISY_FOREIGN_PCT = 15;
/**
 * The full tenant's burst: the same CONCURRENT_RUNS runs at a tenant whose maxActiveRuns is this (the free
 * plan's default), so most wait for a slot and each finished run hands its slot on (`BENCH_FLOW_FULL_SLOTS`;
 * `0` skips the burst).
 */
const FULL_SLOTS = Math.max(0, Number(process.env.BENCH_FLOW_FULL_SLOTS ?? 10));

/** Options for the Workflows baseline Worker, added to the bench's workerd (lib/workers.mjs `extraWorkers`). */
export function workflowsWorker({ compatibilityDate, compatibilityFlags, directSocket, assets }) {
  return [
    {
      name: WORKFLOWS,
      compatibilityDate,
      compatibilityFlags,
      modules: [{ type: 'ESModule', path: path.join(BENCH_DIR, 'workflows-worker.js') }],
      modulesRoot: BENCH_DIR,
      workflows: { BENCH: { name: 'bench-workflow', className: 'BenchWorkflow' } },
      unsafeDirectSockets: directSocket,
      // Behind the same Static Assets router as ours (lib/workers.mjs baselineAssetsRouter).
      ...(assets ? { assets } : {}),
    },
  ];
}

/** Seconds the suite may take at most (the runner's watchdog). */
export function flowsBudgetS(reps) {
  // Setup, then (reps + 1) × 2 shapes × 2 sides single runs, then two bursts and the full tenant's, each bounded by RUN_TIMEOUT_MS in practice far less.
  return 60 + (reps + 1) * 2 * 2 * 10 + (FULL_SLOTS > 0 ? 3 : 2) * (RUN_TIMEOUT_MS / 1000);
}

/**
 * @param {{ ours: { url: string, db: any }, base?: { url: string }, workflowsUrl: string,
 *           pepper: string, reps: number, log: (m: string) => void,
 *           memoryPoint?: (label: string, units?: { count: { runs: number }, sides?: string[] }) => Promise<unknown> }} o
 *   memoryPoint: the bench's memory point (lib/heap.mjs), taken before and after the measured bursts.
 */
export async function runFlowsSuite({ ours, base, workflowsUrl, pepper, reps, log, memoryPoint = async () => {} }) {
  const api = await seedTenant(ours, pepper);
  log(`bench: flows: tenant ${api.tenantId} (plan pro, maxActiveRuns ${CONCURRENT_RUNS})`);

  const linearId = await createFlow(api, 'bench linear', linearFlow(LINEAR_N));
  const parallelId = await createFlow(api, 'bench parallel', parallelFlow(PARALLEL_N));
  const fanId = await createFlow(api, 'bench fan', fanFlow(CONCURRENT_NODES));

  const shapes = [
    {
      name: `linear-${LINEAR_N}`,
      flowId: linearId,
      n: LINEAR_N,
      wf: { shape: 'linear', steps: LINEAR_N },
      expect: (out) => out?.[`n${LINEAR_N - 1}`] === LINEAR_N,
    },
    {
      name: `parallel-${PARALLEL_N}`,
      flowId: parallelId,
      n: PARALLEL_N,
      wf: { shape: 'parallel', steps: PARALLEL_N },
      expect: (out) => out && Object.keys(out).length === PARALLEL_N,
    },
  ];
  const perNode = [];
  for (const s of shapes) {
    log(`bench: flows: ${s.name}: 1 warm-up + ${reps} measured run(s) per side, alternating`);
    const samples = { ours: [], wf: [] };
    const cpu0 = sampleCpu();
    for (let i = 0; i <= reps; i++) {
      // ABBA: alternate who goes first so drift hits both sides alike; run 0 is the warm-up.
      const order = i % 2 === 0 ? ['ours', 'wf'] : ['wf', 'ours'];
      for (const side of order) {
        const r = side === 'ours' ? await oursRun(api, s.flowId, s.n, s.expect) : await workflowRun(workflowsUrl, s.wf);
        if (i > 0) samples[side].push(r);
      }
    }
    const cpu = cpuBetween(cpu0, sampleCpu());
    perNode.push(summarizeShape(s, samples, cpu));
    const row = perNode.at(-1);
    log(
      `bench: flows:   ours ${row.ours.engineMsPerNode} ms/node (e2e ${row.ours.e2eMsPerNode}) | workflows ${row.workflows.engineMsPerStep} ms/step (e2e ${row.workflows.e2eMsPerStep}) | failed checks ${row.ours.failedChecks}, errors ${row.ours.errors}/${row.workflows.errors}`,
    );
  }

  log(`bench: flows: concurrent: ${CONCURRENT_RUNS} runs of a ${CONCURRENT_NODES}-node flow at once, ${CONCURRENT_BURSTS} bursts per side`);
  const fanExpect = (out) => out?.z === fanSum(CONCURRENT_NODES);
  // One small warm-up per side, then the bursts one after the other (not interleaved: each gets the
  // machine), in ABBA order so that whatever the machine does over time hits both sides alike.
  await oursRun(api, fanId, CONCURRENT_NODES, fanExpect);
  await workflowRun(workflowsUrl, { shape: 'fan', steps: CONCURRENT_NODES });
  // One burst of CONCURRENT_RUNS on one side; our runs' checks after it (see oursRun), 8 at a time.
  const sideBurst = (side) =>
    checkedBurst(() =>
      side === 'ours'
        ? oursRun(api, fanId, CONCURRENT_NODES, fanExpect, { deferCheck: true })
        : workflowRun(workflowsUrl, { shape: 'fan', steps: CONCURRENT_NODES }),
    );
  // Then one warm-up burst per side, not pooled (BENCH_FLOW_WARM_BURST=0 skips it): a side's first burst
  // of 100 after start-up read 20–50 % slower than its second, on both sides, in eight of nine runs of
  // two pooled bursts (the isolate's heap and compiled code grow into the concurrent paths). Its p95 is
  // reported apart, as `warmUpBurst`.
  let warmUpBurst = null;
  if (WARM_BURST) {
    const ours = await sideBurst('ours');
    const wf = await sideBurst('wf');
    warmUpBurst = { oursP95Ms: burstP95(ours), workflowsP95Ms: burstP95(wf) };
    log(
      `bench: flows:   warm-up burst (not pooled): ours p95 ${warmUpBurst.oursP95Ms} ms | workflows p95 ${warmUpBurst.workflowsP95Ms} ms`,
    );
  }
  // Memory per run: the growth over the measured bursts ÷ the runs each side made in them (lib/heap.mjs).
  await memoryPoint('before the bursts', { count: { runs: 0 }, sides: ['ours', 'workflows'] });
  const cpu0 = sampleCpu();
  const bursts = { ours: [], wf: [] };
  for (let i = 0; i < CONCURRENT_BURSTS; i++) {
    for (const side of i % 2 === 0 ? ['ours', 'wf'] : ['wf', 'ours']) bursts[side].push(await sideBurst(side));
  }
  const concurrent = summarizeConcurrent(pooled(bursts.ours), pooled(bursts.wf), cpuBetween(cpu0, sampleCpu()));
  await memoryPoint('after the bursts', {
    count: { runs: bursts.ours.reduce((n, b) => n + b.results.length, 0) },
    sides: ['ours', 'workflows'],
  });
  concurrent.warmUpBurst = warmUpBurst;
  concurrent.bursts = bursts.ours.map((o, i) => {
    const [ours, wf] = [burstP95(o), burstP95(bursts.wf[i])];
    return { oursP95Ms: ours, workflowsP95Ms: wf, ratioP95: ours && wf ? round(ours / wf) : null };
  });
  log(
    `bench: flows:   ours p50 ${concurrent.ours.p50Ms} ms p95 ${concurrent.ours.p95Ms} ms errors ${concurrent.ours.errors} | workflows p50 ${concurrent.workflows.p50Ms} ms p95 ${concurrent.workflows.p95Ms} ms errors ${concurrent.workflows.errors}`,
  );
  if (FULL_SLOTS > 0) {
    concurrent.fullTenant = await fullTenantBurst(ours, pepper, fanExpect, concurrent.ours);
    const ft = concurrent.fullTenant;
    log(
      `bench: flows:   full tenant (maxActiveRuns ${FULL_SLOTS}): p50 ${ft.p50Ms} ms p95 ${ft.p95Ms} ms, queue wait p95 ${ft.queueWaitP95Ms} ms, wall ${ft.wallMs} ms, errors ${ft.errors}`,
    );
  }
  if (base) {
    concurrent.floor = await bareFloors(base.url);
    const { existingObject } = concurrent.floor;
    log(
      `bench: flows:   floor: the bare Worker creating a new object per request, ${CONCURRENT_RUNS} at once: p50 ${concurrent.floor.p50Ms} ms p95 ${concurrent.floor.p95Ms} ms; one limiter call and a row in one existing object: p50 ${existingObject.p50Ms} ms p95 ${existingObject.p95Ms} ms`,
    );
  }

  return {
    note: 'ms per node = (completion - start) / nodes. engine: ours run.started→run.completed event timestamps; Workflows create()→status complete inside its Worker. e2e: client request → completion seen by the client (ours: run.completed SSE frame).',
    start: START_STREAM ? 'POST …/runs with Accept: text/event-stream (one request)' : 'POST …/runs, then GET /v1/runs/{id}/events',
    tenant: { plan: 'pro', settings: { maxActiveRuns: CONCURRENT_RUNS } },
    exactlyOnceCheck: {
      api: 'GET /v1/runs/{id}: run succeeded, every node succeeded with attempts === 1; event log: exactly one node.started and one node.succeeded per node; expected output',
      storage: "node.succeeded is appended in the same transaction as the node's success, so one event per node is one success per node",
    },
    reps,
    perNode,
    concurrent,
  };
}

// ---------------------------------------------------------------------------
// setup
// ---------------------------------------------------------------------------

/**
 * One burst of CONCURRENT_RUNS at a tenant with FULL_SLOTS slots: the runs beyond them queue, and each one
 * starts when a finished run's release promotes it. Its queue wait is the hand-off of slots (fairness), its
 * execution the engine; `slotForEvery` is the pooled burst above, where every run had a slot at once.
 */
async function fullTenantBurst(ours, pepper, expect, slotForEvery) {
  const api = await seedTenant(ours, pepper, FULL_SLOTS);
  const flowId = await createFlow(api, 'bench fan (full tenant)', fanFlow(CONCURRENT_NODES));
  await oursRun(api, flowId, CONCURRENT_NODES, expect);
  const cpu0 = sampleCpu();
  const b = await checkedBurst(() => oursRun(api, flowId, CONCURRENT_NODES, expect, { deferCheck: true }), { cpu0 });
  const ok = b.results.filter((r) => r.ok);
  const side = burstSide(b);
  return {
    slots: FULL_SLOTS,
    ...side,
    failedChecks: b.results.filter((r) => r.problems?.length).length,
    queueWaitP50Ms: pctOf(ok, 'queueWaitMs', 50),
    queueWaitP95Ms: pctOf(ok, 'queueWaitMs', 95),
    engineP50Ms: pctOf(ok, 'engineMs', 50),
    engineP95Ms: pctOf(ok, 'engineMs', 95),
    slotForEveryP95Ms: slotForEvery.p95Ms,
    ratioP95: side.p95Ms && slotForEvery.p95Ms ? round(side.p95Ms / slotForEvery.p95Ms) : null,
    cpu: b.cpu,
  };
}

/** A tenant (plan pro: its rate limit is 6,000 req/min; maxActiveRuns 100 unless told) and an admin API key, straight into D1. */
async function seedTenant(ours, pepper, maxActiveRuns = CONCURRENT_RUNS) {
  const tenantId = `tnt_benchflows${randomBytes(4).toString('hex')}`;
  const key = `ek_live_${randomBytes(32).toString('base64url')}`;
  const hash = createHmac('sha256', pepper).update(key).digest('hex');
  await ours.db.batch([
    ours.db
      .prepare(`INSERT INTO tenants (id, name, plan, settings) VALUES (?, 'bench flows', 'pro', ?)`)
      .bind(tenantId, JSON.stringify({ maxActiveRuns })),
    ours.db
      .prepare(
        `INSERT INTO api_keys (id, tenant_id, name, role, prefix, key_hash, created_by) VALUES (?, ?, 'bench', 'admin', ?, ?, 'bench')`,
      )
      .bind(`key_${tenantId.slice(4)}`, tenantId, key.slice(0, 12), hash),
  ]);
  return { tenantId, url: ours.url, headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' } };
}

const t = (id, expression) => ({ id, type: 'transform', config: { expression } });

function linearFlow(n) {
  const nodes = Array.from({ length: n }, (_, i) => t(`n${i}`, i === 0 ? '1' : `nodes.n${i - 1}.output + 1`));
  return { nodes, edges: nodes.slice(1).map((node, i) => ({ from: `n${i}`, to: node.id })) };
}

function parallelFlow(n) {
  // maxParallel defaults to 64; 100 lets every node start at once, like Promise.all.
  return { nodes: Array.from({ length: n }, (_, i) => t(`p${i}`, String(i))), edges: [], policy: { maxParallel: n } };
}

/** a → m0..m(n-3) in parallel → z (n nodes), same as the Workflows 'fan' shape. */
function fanFlow(n) {
  const mids = Array.from({ length: n - 2 }, (_, i) => t(`m${i}`, `nodes.a.output + ${i}`));
  return {
    nodes: [t('a', '1'), ...mids, t('z', `$sum([${mids.map((m) => `nodes.${m.id}.output`).join(', ')}])`)],
    edges: [...mids.map((m) => ({ from: 'a', to: m.id })), ...mids.map((m) => ({ from: m.id, to: 'z' }))],
  };
}

const fanSum = (n) => Array.from({ length: n - 2 }, (_, i) => 1 + i).reduce((s, v) => s + v, 0);

async function createFlow(api, name, definition) {
  const res = await fetch(new URL('/v1/flows', api.url), {
    method: 'POST',
    headers: api.headers,
    body: JSON.stringify({ name, definition }),
  });
  const body = await res.text();
  if (res.status !== 201) throw new Error(`bench: creating flow '${name}' answered ${res.status}: ${body.slice(0, 500)}`);
  return JSON.parse(body).id;
}

// ---------------------------------------------------------------------------
// one run per side
// ---------------------------------------------------------------------------

/**
 * Starts a run, follows its SSE stream to the end, then checks it. Never throws: failures are recorded.
 * `deferCheck`: the result carries `check()` instead, which completes it (`ok`, `problems`) later. A burst
 * checks its runs once all of them are over, so that no run's check (a GET of the run) takes the
 * thread while others still run: the Workflows side's check, its output in the same answer, costs
 * nothing.
 */
async function oursRun(api, flowId, n, expect, { deferCheck = false } = {}) {
  const t0 = performance.now();
  const deadline = AbortSignal.timeout(RUN_TIMEOUT_MS);
  try {
    const res = await fetch(new URL(`/v1/flows/${flowId}/runs`, api.url), {
      method: 'POST',
      headers: START_STREAM ? { ...api.headers, accept: 'text/event-stream' } : api.headers,
      body: '{"input":{}}',
      signal: deadline,
    });
    if (res.status !== 201) {
      const text = await res.text();
      return { ok: false, error: `POST runs ${res.status}: ${text.slice(0, 200)}`, e2eMs: performance.now() - t0 };
    }
    const postStages = parseServerTiming(res.headers.get('server-timing'));
    let created;
    let postMs;
    let followed;
    if (START_STREAM) {
      // The answer's head: the run has started and its stream is open; its events follow on the same response.
      postMs = performance.now() - t0;
      created = { id: res.headers.get('location').split('/').pop() };
      followed = await readEvents(res);
    } else {
      created = JSON.parse(await res.text());
      postMs = performance.now() - t0;
      followed = await followEvents(api, created.id, deadline);
    }
    const { events, doneAt } = followed;
    const e2eMs = (doneAt ?? performance.now()) - t0;
    const started = events.find((e) => e.type === 'run.started');
    const finished = events.find((e) => e.type === 'run.completed' || e.type === 'run.failed' || e.type === 'run.cancelled');
    const engineMs = started && finished ? Date.parse(finished.at) - Date.parse(started.at) : null;
    // Queue wait (admission, fairness) apart from execution: a full tenant is not a slow engine.
    const createdEv = events.find((e) => e.type === 'run.created');
    const queueWaitMs = createdEv && started ? Date.parse(started.at) - Date.parse(createdEv.at) : null;
    const result = {
      ok: false,
      runId: created.id,
      postMs,
      postStages,
      e2eMs,
      engineMs,
      queueWaitMs,
      problems: [],
      timing: nodeTimings(events),
    };
    const complete = (problems) => {
      result.problems = problems;
      result.ok = problems.length === 0 && finished?.type === 'run.completed';
      return result;
    };
    if (!deferCheck) return complete(await checkRun(api, created.id, n, events, finished, expect, deadline));
    result.check = async () => {
      try {
        return complete(await checkRun(api, created.id, n, events, finished, expect, deadline));
      } catch (err) {
        return complete([`check failed: ${String(err?.message ?? err).slice(0, 200)}`]);
      }
    };
    return result;
  } catch (err) {
    return { ok: false, error: String(err?.message ?? err).slice(0, 300), e2eMs: performance.now() - t0 };
  }
}

/** Reads GET /v1/runs/{id}/events until the server closes it (terminal run); returns the events and when the terminal one arrived. */
async function followEvents(api, runId, signal) {
  const res = await fetch(new URL(`/v1/runs/${runId}/events`, api.url), { headers: { authorization: api.headers.authorization }, signal });
  if (res.status !== 200) throw new Error(`GET events ${res.status}: ${(await res.text()).slice(0, 200)}`);
  return readEvents(res);
}

/** Reads a run's SSE answer to its end; returns the events and when the terminal one arrived. */
async function readEvents(res) {
  const decoder = new TextDecoder();
  const events = [];
  let buffer = '';
  let doneAt = null;
  for await (const chunk of res.body) {
    buffer += decoder.decode(chunk, { stream: true });
    let cut;
    while ((cut = buffer.indexOf('\n\n')) >= 0) {
      const frame = buffer.slice(0, cut);
      buffer = buffer.slice(cut + 2);
      const data = frame.split('\n').find((l) => l.startsWith('data: '));
      if (!data) continue;
      const e = JSON.parse(data.slice(6));
      events.push(e);
      if (doneAt === null && (e.type === 'run.completed' || e.type === 'run.failed' || e.type === 'run.cancelled'))
        doneAt = performance.now();
    }
  }
  return { events, doneAt };
}

async function checkRun(api, runId, n, events, finished, expect, signal) {
  const problems = [];
  if (finished?.type !== 'run.completed')
    problems.push(`run ended with ${finished?.type ?? 'no terminal event'}: ${JSON.stringify(finished?.data ?? null).slice(0, 200)}`);
  const res = await fetch(new URL(`/v1/runs/${runId}`, api.url), { headers: { authorization: api.headers.authorization }, signal });
  const run = await res.json();
  if (res.status !== 200) return [...problems, `GET run ${res.status}`];
  if (run.status !== 'succeeded') problems.push(`status ${run.status}`);
  if (run.nodes.length !== n) problems.push(`${run.nodes.length} nodes, expected ${n}`);
  const notOnce = run.nodes.filter((x) => x.status !== 'succeeded' || x.attempts !== 1);
  if (notOnce.length)
    problems.push(
      `nodes not succeeded-once: ${notOnce
        .slice(0, 5)
        .map((x) => `${x.id}=${x.status}/attempts ${x.attempts}`)
        .join(', ')}`,
    );
  const count = (type) => {
    const m = new Map();
    for (const e of events) if (e.type === type) m.set(e.nodeId, (m.get(e.nodeId) ?? 0) + 1);
    return m;
  };
  for (const type of ['node.started', 'node.succeeded']) {
    const m = count(type);
    const bad = run.nodes.filter((x) => m.get(x.id) !== 1);
    if (bad.length)
      problems.push(
        `${type} not exactly once for ${bad
          .slice(0, 5)
          .map((x) => `${x.id}×${m.get(x.id) ?? 0}`)
          .join(', ')}`,
      );
  }
  if (!expect(run.output)) problems.push(`unexpected output ${JSON.stringify(run.output).slice(0, 200)}`);
  return problems;
}

/** Where a run's time goes, from its own event timestamps (ms resolution). */
function nodeTimings(events) {
  const started = new Map();
  const exec = [];
  for (const e of events) {
    if (e.type === 'node.started') started.set(e.nodeId, Date.parse(e.at));
    if (e.type === 'node.succeeded' && started.has(e.nodeId)) exec.push(Date.parse(e.at) - started.get(e.nodeId));
  }
  return { events: events.length, nodeExecMsMean: exec.length ? round(avg(exec)) : null };
}

async function workflowRun(url, { shape, steps }) {
  const t0 = performance.now();
  try {
    const res = await fetch(new URL(`/run?shape=${shape}&steps=${steps}`, url), {
      method: 'POST',
      signal: AbortSignal.timeout(RUN_TIMEOUT_MS),
    });
    const body = await res.json();
    const e2eMs = performance.now() - t0;
    if (res.status !== 200) return { ok: false, error: body.error ?? `status ${res.status}`, e2eMs };
    const expected = shape === 'linear' ? steps : shape === 'parallel' ? steps : fanSum(steps);
    if (body.output?.value !== expected) return { ok: false, error: `unexpected output ${JSON.stringify(body.output)}`, e2eMs };
    return { ok: true, e2eMs, engineMs: body.ms, createMs: body.createMs, polls: body.polls };
  } catch (err) {
    return { ok: false, error: String(err?.message ?? err).slice(0, 300), e2eMs: performance.now() - t0 };
  }
}

/**
 * The local floors of "POST …/runs, 100 at once", measured on the bare baseline Worker
 * (scripts/bench/baseline-worker.js), CONCURRENT_RUNS requests at once, nothing else running:
 * - new objects (the floor's own p50Ms/p95Ms/errors): a new Durable Object per request with one row
 *   written in it (the `runs start` row's baseline). No start of ours, which creates its run's object
 *   before answering, can answer faster on the same workerd thread.
 * - one existing object (`existingObject`): one rate-limiter call, then one row written in it (the
 *   `tasks create` row's bare route with `?rl=1`, every request to the same object). The least any start
 *   that answered before its run's object exists (recorded by the tenant's hub, the object made
 *   after) would cost here: together the two say whether the goal (under 100 ms) is reachable on
 *   this machine by any design.
 * Each is the best of two bursts (the first also warms the route).
 */
async function bareFloors(baseUrl) {
  const floor = async (target) => {
    const tag = Math.random().toString(36).slice(2, 8);
    const one = async (i) => {
      const t0 = performance.now();
      const res = await fetch(new URL(target(tag, i), baseUrl), {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{"title":"floor"}',
      });
      await res.arrayBuffer();
      return res.status === 201 ? performance.now() - t0 : null;
    };
    const bursts = [];
    for (let b = 0; b < 2; b++) {
      const ms = await Promise.all(Array.from({ length: CONCURRENT_RUNS }, (_, i) => one(b * CONCURRENT_RUNS + i)));
      const ok = ms.filter((x) => x !== null).sort((a, c) => a - c);
      bursts.push({ errors: ms.length - ok.length, p50Ms: round(pct(ok, 50)), p95Ms: round(pct(ok, 95)) });
    }
    return bursts.reduce((best, x) => (x.p95Ms !== null && (best.p95Ms === null || x.p95Ms < best.p95Ms) ? x : best));
  };
  const newObject = await floor((tag, i) => `/tasks?room=floor-${tag}-${i}`);
  const existingObject = await floor((tag) => `/tasks?room=floor-${tag}&rl=1`);
  return { ...newObject, existingObject };
}

/** The p95 of one burst's successful runs, client start → completion (ms). */
const burstP95 = (b) => burstSide(b).p95Ms;

/** The bursts of one side as one sample (their runs pooled; wall time summed). */
function pooled(list) {
  return { results: list.flatMap((b) => b.results), wallMs: list.reduce((t, b) => t + b.wallMs, 0) };
}

async function burst(one) {
  const t0 = performance.now();
  const results = await Promise.all(Array.from({ length: CONCURRENT_RUNS }, () => one()));
  return { results, wallMs: performance.now() - t0 };
}

/**
 * A burst, then our runs' checks (see oursRun), 8 at a time. With `cpu0` (sampleCpu() before it), also
 * workerd's CPU over the burst alone, its checks not included.
 */
async function checkedBurst(one, { cpu0 } = {}) {
  const b = await burst(one);
  if (cpu0) b.cpu = cpuBetween(cpu0, sampleCpu());
  await mapLimit(
    b.results.filter((r) => r.check),
    8,
    (r) => r.check(),
  );
  return b;
}

// ---------------------------------------------------------------------------
// summaries and the table
// ---------------------------------------------------------------------------

function summarizeShape(s, samples, cpu) {
  const okOurs = samples.ours.filter((r) => r.ok);
  const okWf = samples.wf.filter((r) => r.ok);
  const perNode = (xs, key, n) => (xs.length ? round(median(xs.map((r) => r[key])) / n) : null);
  const ours = {
    runs: samples.ours.length,
    errors: samples.ours.filter((r) => !r.ok).length,
    failedChecks: samples.ours.filter((r) => r.problems?.length).length,
    engineMsPerNode: perNode(okOurs, 'engineMs', s.n),
    e2eMsPerNode: perNode(okOurs, 'e2eMs', s.n),
    engineMsMedian: okOurs.length ? round(median(okOurs.map((r) => r.engineMs))) : null,
    e2eMsMedian: okOurs.length ? round(median(okOurs.map((r) => r.e2eMs))) : null,
    postMsMedian: okOurs.length ? round(median(okOurs.map((r) => r.postMs))) : null,
    nodeExecMsMean: okOurs.length ? round(avg(okOurs.map((r) => r.timing.nodeExecMsMean))) : null,
    samples: samples.ours.map(publicSample),
  };
  const workflows = {
    runs: samples.wf.length,
    errors: samples.wf.filter((r) => !r.ok).length,
    engineMsPerStep: perNode(okWf, 'engineMs', s.n),
    e2eMsPerStep: perNode(okWf, 'e2eMs', s.n),
    engineMsMedian: okWf.length ? round(median(okWf.map((r) => r.engineMs))) : null,
    e2eMsMedian: okWf.length ? round(median(okWf.map((r) => r.e2eMs))) : null,
    samples: samples.wf.map(publicSample),
  };
  return {
    name: s.name,
    nodes: s.n,
    ours,
    workflows,
    ratioEngine: ours.engineMsPerNode && workflows.engineMsPerStep ? round(ours.engineMsPerNode / workflows.engineMsPerStep) : null,
    ratioE2e: ours.e2eMsPerNode && workflows.e2eMsPerStep ? round(ours.e2eMsPerNode / workflows.e2eMsPerStep) : null,
    cpu,
    noisy: cpu !== null && cpu.foreignPct > NOISY_FOREIGN_PCT,
  };
}

/** One side of a burst: its runs, errors, e2e percentiles (of the runs that succeeded), wall time, first errors. */
function burstSide(b) {
  const ok = b.results.filter((r) => r.ok);
  const errors = b.results.length - ok.length;
  return {
    runs: b.results.length,
    errors,
    errorRatePct: round((100 * errors) / b.results.length),
    p50Ms: pctOf(ok, 'e2eMs', 50),
    p95Ms: pctOf(ok, 'e2eMs', 95),
    maxMs: ok.length ? round(Math.max(...ok.map((r) => r.e2eMs))) : null,
    wallMs: round(b.wallMs),
    firstErrors: b.results
      .filter((r) => !r.ok)
      .slice(0, 5)
      .map((r) => r.error ?? r.problems?.join('; ')),
  };
}

function summarizeConcurrent(o, w, cpu) {
  const ours = burstSide(o);
  const okOurs = o.results.filter((r) => r.ok);
  ours.engineP50Ms = pctOf(okOurs, 'engineMs', 50);
  ours.engineP95Ms = pctOf(okOurs, 'engineMs', 95);
  ours.postP50Ms = pctOf(okOurs, 'postMs', 50);
  ours.postP95Ms = pctOf(okOurs, 'postMs', 95);
  ours.queueWaitP50Ms = pctOf(okOurs, 'queueWaitMs', 50);
  ours.queueWaitP95Ms = pctOf(okOurs, 'queueWaitMs', 95);
  ours.postStages = summarizeStages(okOurs.map((r) => ({ stages: r.postStages ?? [], clientMs: r.postMs })));
  ours.failedChecks = o.results.filter((r) => r.problems?.length).length;
  ours.nodeSuccessRecordedTwice = o.results.filter((r) => r.problems?.some((p) => /not exactly once|attempts/.test(p))).length;
  const workflows = burstSide(w);
  return {
    runs: CONCURRENT_RUNS,
    burstsPerSide: CONCURRENT_BURSTS,
    nodes: CONCURRENT_NODES,
    shape: 'a → 8 parallel → z',
    ours,
    workflows,
    ratioP50: ours.p50Ms && workflows.p50Ms ? round(ours.p50Ms / workflows.p50Ms) : null,
    ratioP95: ours.p95Ms && workflows.p95Ms ? round(ours.p95Ms / workflows.p95Ms) : null,
    cpu,
    noisy: cpu !== null && cpu.foreignPct > NOISY_FOREIGN_PCT,
  };
}

function publicSample(r) {
  const { timing, ...rest } = r;
  return Object.fromEntries(Object.entries({ ...rest, ...(timing ?? {}) }).map(([k, v]) => [k, typeof v === 'number' ? round(v) : v]));
}

export function formatFlowsTables(report) {
  const f = (v) => (v === null || v === undefined ? '-' : v < 10 ? v.toFixed(2) : v.toFixed(1));
  const perNode = markdownTable(
    [
      'flows: per-node overhead',
      'ours ms/node',
      'Workflows ms/step',
      'ratio',
      'ours e2e ms/node',
      'WF e2e ms/step',
      'ratio e2e',
      'ours run ms',
      'WF run ms',
      'checks',
      'errors',
    ],
    report.perNode.map((r) => [
      `${r.name}${r.noisy ? ' (!)' : ''}`,
      f(r.ours.engineMsPerNode),
      f(r.workflows.engineMsPerStep),
      f(r.ratioEngine),
      f(r.ours.e2eMsPerNode),
      f(r.workflows.e2eMsPerStep),
      f(r.ratioE2e),
      f(r.ours.engineMsMedian),
      f(r.workflows.engineMsMedian),
      r.ours.failedChecks === 0 ? 'ok' : `${r.ours.failedChecks} FAILED`,
      `${r.ours.errors}/${r.workflows.errors}`,
    ]),
  );
  const c = report.concurrent;
  const conc = markdownTable(
    [
      `flows: ${c.runs} concurrent runs, ${c.nodes} nodes${c.burstsPerSide > 1 ? ` (${c.burstsPerSide} bursts pooled)` : ''}`,
      'ours p50',
      'WF p50',
      'ratio',
      'ours p95',
      'WF p95',
      'ratio',
      'ours errors',
      'WF errors',
      'success twice',
    ],
    [
      [
        `${c.shape}${c.noisy ? ' (!)' : ''}`,
        `${f(c.ours.p50Ms)} ms`,
        `${f(c.workflows.p50Ms)} ms`,
        f(c.ratioP50),
        `${f(c.ours.p95Ms)} ms`,
        `${f(c.workflows.p95Ms)} ms`,
        f(c.ratioP95),
        `${c.ours.errors} (${c.ours.errorRatePct}%)`,
        `${c.workflows.errors} (${c.workflows.errorRatePct}%)`,
        String(c.ours.nodeSuccessRecordedTwice),
      ],
    ],
  );
  return [
    perNode,
    '',
    conc,
    '',
    ...(c.warmUpBurst
      ? [
          `warm-up burst per side before those (not pooled): ours p95 ${f(c.warmUpBurst.oursP95Ms)} ms, Workflows ${f(c.warmUpBurst.workflowsP95Ms)} ms (BENCH_FLOW_WARM_BURST=0 skips it)`,
        ]
      : []),
    ...(c.bursts?.length > 1
      ? [
          `each burst's p95, ours ÷ Workflows (ABBA order): ${c.bursts.map((b) => `${f(b.oursP95Ms)} / ${f(b.workflowsP95Ms)} ms = ${f(b.ratioP95)}`).join('; ')}`,
        ]
      : []),
    `ms/node: median run over nodes. ours = run.started→run.completed (event timestamps); Workflows = create()→complete inside its Worker. e2e = client request → completion seen by the client (ours: POST /v1/flows/{id}/runs${START_STREAM ? ' with Accept: text/event-stream' : ', then GET …/events'} → run.completed SSE frame). ratio = ours ÷ Workflows (lower is better for us).`,
    formatStages(`POST /v1/flows/{id}/runs, ${c.runs} at once: stages`, c.ours.postStages ?? [], {
      label: 'Workflows POST /run → complete, p50/p95',
      n: c.runs,
      meanMs: null,
      p50Ms: c.workflows.p50Ms,
      p95Ms: c.workflows.p95Ms,
    }),
    ...(c.fullTenant
      ? [
          '',
          markdownTable(
            [
              `flows: ${c.runs} runs at a full tenant (maxActiveRuns ${c.fullTenant.slots})`,
              'p50',
              'p95',
              'slot for every run: p95',
              'ratio',
              'queue wait p50/p95',
              'execution p50/p95',
              'wall',
              'errors',
            ],
            [
              [
                c.shape,
                `${f(c.fullTenant.p50Ms)} ms`,
                `${f(c.fullTenant.p95Ms)} ms`,
                `${f(c.fullTenant.slotForEveryP95Ms)} ms`,
                f(c.fullTenant.ratioP95),
                `${f(c.fullTenant.queueWaitP50Ms)} / ${f(c.fullTenant.queueWaitP95Ms)} ms`,
                `${f(c.fullTenant.engineP50Ms)} / ${f(c.fullTenant.engineP95Ms)} ms`,
                `${f(c.fullTenant.wallMs)} ms`,
                c.fullTenant.failedChecks
                  ? `${c.fullTenant.errors} (${c.fullTenant.failedChecks} checks FAILED)`
                  : String(c.fullTenant.errors),
              ],
            ],
          ),
          `full tenant: the same burst at a tenant with ${c.fullTenant.slots} slots: the other runs queue, and each starts when a finished run's release promotes it (queue wait run.created→run.started: the slots' hand-off; execution: the engine). ratio = its p95 ÷ the pooled bursts' p95 above, where every run had a slot (BENCH_FLOW_FULL_SLOTS=0 skips it).`,
          '',
        ]
      : []),
    ...(c.floor
      ? [
          `local floor: the bare Worker creating a new Durable Object per request (one row), ${c.runs} at once, nothing else running: p50 ${f(c.floor.p50Ms)} ms, p95 ${f(c.floor.p95Ms)} ms (errors ${c.floor.errors}); no run start answers faster on this workerd thread.`,
          ...(c.floor.existingObject
            ? [
                `the bare Worker charging the rate limiter once and writing one row in one existing object, ${c.runs} at once: p50 ${f(c.floor.existingObject.p50Ms)} ms, p95 ${f(c.floor.existingObject.p95Ms)} ms (errors ${c.floor.existingObject.errors}); no start that answered before making its run's object would answer faster here.`,
              ]
            : []),
        ]
      : []),
    '',
    `concurrent: e2e per run (ours queue wait run.created→run.started p50/p95 ${f(c.ours.queueWaitP50Ms)}/${f(c.ours.queueWaitP95Ms)} ms, execution run.started→run.completed p50/p95 ${f(c.ours.engineP50Ms)}/${f(c.ours.engineP95Ms)} ms, POST p50/p95 ${f(c.ours.postP50Ms)}/${f(c.ours.postP95Ms)} ms). checks = run succeeded, every node succeeded with attempts 1, one node.started + one node.succeeded event per node (the latter written in the same transaction as the node's success), expected output.`,
    ...(report.perNode.some((r) => r.noisy) || c.noisy
      ? ['(!) other processes used a noticeable share of the CPU: absolute numbers are low; ratios are approximate.']
      : []),
  ].join('\n');
}

/** Whether the suite had errors or failed checks (the runner exits 1). */
export function flowsFailed(report) {
  return (
    report.perNode.some((r) => r.ours.errors || r.workflows.errors || r.ours.failedChecks) ||
    report.concurrent.ours.errors > 0 ||
    report.concurrent.workflows.errors > 0 ||
    (report.concurrent.fullTenant?.errors ?? 0) > 0
  );
}

const round = (v) => (v === null || v === undefined ? null : Math.round(v * 100) / 100);
const avg = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const pct = (sorted, p) =>
  sorted.length ? round(sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]) : null;
/** The p-th percentile of `key` over `results`, those without it (null) left out. */
const pctOf = (results, key, p) =>
  pct(
    results
      .map((r) => r[key])
      .filter((v) => v !== null && v !== undefined)
      .sort((a, c) => a - c),
    p,
  );
