#!/usr/bin/env node
/**
 * npm run bench [-- --only <name>[,<name>…]] [-- --list]
 *
 * Builds the real Worker (wrangler deploy --dry-run), runs it and a bare baseline
 * Worker on workerd through Miniflare directly (not `wrangler dev`, whose proxy
 * costs ~10x), drives both over loopback with autocannon, and prints per scenario
 * req/s, p50 and p99 for ours and the baseline side by side. Results go to
 * bench-results/bench-<timestamp>.json and bench-results/latest.json.
 *
 * The `flows` suite (scripts/bench/flows.mjs; `--only flows`) runs after the HTTP
 * scenarios: our flow engine against Cloudflare Workflows in the same workerd
 * (per-node overhead of a 50-node chain and a 100-wide fan, 100 concurrent runs).
 *
 * The `tasks` suite (scripts/bench/tasks.mjs; `--only tasks`) runs after that: sync
 * write-to-receipt latency with 2/50/1,000 WebSockets and reminder lateness, against a
 * bare Durable Object broadcasting to as many sockets and bare alarms.
 *
 * The `webhooks` suite (scripts/bench/webhooks.mjs; `--only webhooks`, or `npm run bench:webhooks`)
 * runs after that: commit → verified receipt at a local Standard Webhooks receiver, one by one and
 * 1,000 events at 16 connections to one endpoint, beside a bare object signing and sending as many.
 *
 * The `console` suite (scripts/bench/console.mjs; `--only console`, or `npm run bench:console`)
 * runs last: the web console's first-load JS (gzip) and time to interactive on the task board
 * with 500 tasks in Chromium, beside a React-only baseline page.
 *
 * Env: BENCH_DURATION (s per side, default 5), BENCH_WARMUP (s per side, default 1),
 *      BENCH_CONNECTIONS (default 16), BENCH_ROUNDS (alternating slices, default 4),
 *      BENCH_WORKER_LOGS=1 (keep our Worker's info logs; they are dropped by default),
 *      BENCH_FLOW_REPS (measured runs per side per flow shape, default 3), BENCH_FLOW_BURSTS (default 2),
 *      BENCH_FLOW_WARM_BURST=0 (no warm-up burst of 100 per side before the measured ones; default: one each),
 *      BENCH_START_STREAM=0 (start runs with a JSON POST, then GET …/events; default: one POST with Accept: text/event-stream),
 *      BENCH_TENANTS (tenants rotated by the authenticated throughput rows, default 8),
 *      BENCH_LOGIN_ACCOUNTS (accounts rotated by the login rows, default 64),
 *      BENCH_SYNC_SIZES (default 2,50,1000), BENCH_SYNC_REPS (default 20), BENCH_REMINDERS (default 20),
 *      BENCH_STARTUP_REPS (fresh workerd starts per side for the start-up figure, default 3; 0 skips),
 *      BENCH_MEMORY=0 (no memory points: workerd runs without V8's inspector; default: each suite's points).
 *
 * --compare <old.json>   after the run, every figure beside the old result's (new ÷ old), changes over 20 % flagged
 * --compare <old.json> --to <new.json>   the same for two stored results, without running anything
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { git } from '../lib/tools.mjs';
import { CONSOLE_SUITE, consoleBudgetS, formatConsoleTable, runConsoleSuite } from './console.mjs';
import {
  FLOWS_SUITE,
  flowsBudgetS,
  flowsFailed,
  formatFlowsTables,
  runFlowsSuite,
  WORKFLOWS,
  WORKFLOWS_ENGINE,
  workflowsWorker,
} from './flows.mjs';
import { authOverhead, formatAuthOverhead } from './identity.mjs';
import { compareReports, formatComparison } from './lib/compare.mjs';
import { cpuBetween, sampleCpu } from './lib/cpu.mjs';
import { formatIssue20Goals, issue20Goals } from './lib/goals.mjs';
import { formatMemoryTable, memoryRecorder, pokeWith, summarizeMemory } from './lib/heap.mjs';
import { merge, runLoad, toRequest } from './lib/load.mjs';
import { freePort, userIsolate } from './lib/profiler.mjs';
import { formatTable } from './lib/report.mjs';
import { clientSummary, formatStages, probeStages, summarizeStages } from './lib/stages.mjs';
import {
  BASE,
  buildWorker,
  bundleSize,
  measureStartup,
  migratedTargets,
  OURS,
  ROOT,
  STATE_NOTE,
  startWorkers,
  TEST_VARS,
} from './lib/workers.mjs';
import { scenarios as ALL_SCENARIOS } from './scenarios.mjs';
import { formatTasksTables, runTasksSuite, TASKS_SUITE, tasksBudgetS, tasksFailed } from './tasks.mjs';
import { formatWebhooksTables, runWebhooksSuite, WEBHOOKS_SUITE, webhooksBudgetS, webhooksFailed } from './webhooks.mjs';

const num = (name, fallback, { min, max }) => {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const v = Number(raw);
  if (!Number.isFinite(v) || v < min || v > max)
    throw new UsageError(`${name} must be a number in [${min}, ${max}], got ${JSON.stringify(raw)}`);
  return v;
};

class UsageError extends Error {}

const SETTLE_MS = 250;
/** Other processes using more than this share of the machine during a run make it "noisy". */
const NOISY_FOREIGN_PCT = 15;
const SETUP_TIMEOUT_MS = 30_000;
/** Requests per side of a scenario's per-stage breakdown (`breakdown: true`). */
const BREAKDOWN_REQUESTS = 200;

async function main() {
  const { values } = parseArgs({
    options: {
      only: { type: 'string', multiple: true },
      list: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
      compare: { type: 'string' },
      to: { type: 'string' },
    },
    allowPositionals: false,
  });
  if (values.help) {
    const lines = (await readFile(new URL(import.meta.url), 'utf8')).split('\n');
    console.log(
      lines
        .slice(2, lines.indexOf(' */'))
        .map((l) => l.replace(/^ \* ?/, ''))
        .join('\n'),
    );
    return 0;
  }
  if (values.to !== undefined) {
    // Compare two stored results without running anything: --compare <old.json> --to <new.json>.
    if (values.compare === undefined) throw new UsageError('--to needs --compare <old.json>');
    const [oldR, newR] = await Promise.all([readReport(values.compare), readReport(values.to)]);
    console.log(
      formatComparison(compareReports(oldR, newR), { oldLabel: path.basename(values.compare), newLabel: path.basename(values.to) }),
    );
    return 0;
  }
  const previous = values.compare === undefined ? null : await readReport(values.compare);
  if (values.list) {
    for (const s of ALL_SCENARIOS) console.log(`${s.name}\t${describe(s.ours)}\tvs baseline ${describe(s.base)}`);
    console.log(`${FLOWS_SUITE}\tflow runs (50-node chain, 100-wide, 100 concurrent)\tvs Cloudflare Workflows`);
    console.log(`${TASKS_SUITE}\tsync write→receipt with 2/50/1,000 WebSockets, reminder lateness\tvs a bare DO broadcast and bare alarms`);
    console.log(
      `${WEBHOOKS_SUITE}\twebhooks commit→verified receipt, one by one and 1,000 at 16 connections\tvs a bare object sending signed POSTs`,
    );
    console.log(`${CONSOLE_SUITE}\tweb console: first-load JS gzip, time to interactive on the board with 500 tasks\tvs a React-only page`);
    return 0;
  }

  const config = {
    durationS: num('BENCH_DURATION', 5, { min: 0.5, max: 120 }),
    warmupS: num('BENCH_WARMUP', 1, { min: 0, max: 30 }),
    connections: num('BENCH_CONNECTIONS', 16, { min: 1, max: 512 }),
    rounds: num('BENCH_ROUNDS', 4, { min: 1, max: 20 }),
    flowReps: num('BENCH_FLOW_REPS', 3, { min: 1, max: 50 }),
    startupReps: num('BENCH_STARTUP_REPS', 3, { min: 0, max: 20 }),
    memory: process.env.BENCH_MEMORY !== '0',
  };
  assertUniqueNames(ALL_SCENARIOS);
  const {
    scenarios,
    flows: withFlows,
    tasks: withTasks,
    webhooks: withWebhooks,
    console: withConsole,
  } = selectScenarios(ALL_SCENARIOS, values.only ?? []);

  // Hard ceiling for the whole run: build + start + every bounded load run, plus slack.
  const perScenarioS = (s) =>
    2 * (config.warmupS + config.durationS) +
    2 * ((s.rounds ?? config.rounds) + 1) * (15 + (s.settleMs ?? SETTLE_MS) / 1000) +
    (s.setupTimeoutS ?? SETUP_TIMEOUT_MS / 1000);
  const budgetS = Math.ceil(
    240 +
      config.startupReps * 2 * 30 +
      scenarios.reduce((sum, s) => sum + perScenarioS(s), 0) +
      (withFlows ? flowsBudgetS(config.flowReps) : 0) +
      (withTasks ? tasksBudgetS() : 0) +
      (withWebhooks ? webhooksBudgetS() : 0) +
      (withConsole ? consoleBudgetS() : 0) +
      // Memory points: 13 in a full run (room for 16), each of up to 4 isolate reads bounded at 10 s (lib/heap.mjs); in practice well under a second.
      (config.memory ? 16 * 4 * 10 : 0),
  );
  let cleanup = async () => {};
  const watchdog = setTimeout(() => {
    console.error(`bench: exceeded its ${budgetS}s budget, aborting`);
    void Promise.race([cleanup(), sleep(5_000)]).finally(() => process.exit(3));
  }, budgetS * 1000);

  const startedAt = new Date();
  const log = (msg) => process.stderr.write(`${msg}\n`);
  log(
    `bench: ${scenarios.length} scenario(s), ${config.durationS}s per side in ${config.rounds} alternating round(s), ${config.connections} connections, ${config.warmupS}s warm-up${withFlows ? `; then the flows suite (${config.flowReps} runs per side per shape)` : ''}${withTasks ? '; then the tasks suite' : ''}${withWebhooks ? '; then the webhooks suite' : ''}${withConsole ? '; then the console suite' : ''}`,
  );

  log('bench: building the Worker (wrangler deploy --dry-run)…');
  const build = await buildWorker();
  const bundle = await bundleSize(build.entry);
  log(`bench: bundle ${bundle.gzipKiB} KiB gzip (${bundle.rawKiB} KiB raw, ${bundle.modules} modules)`);
  let startup = null;
  if (config.startupReps > 0) {
    startup = await measureStartup({ entry: build.entry, reps: config.startupReps });
    log(`bench: start-up (fresh workerd → first /health) ours ${startup.oursMs} ms, base ${startup.baseMs} ms (+${startup.addedMs} ms)`);
  }
  let mf;
  const workerLogs = { warnings: 0, errors: 0, samples: [] };
  cleanup = async () => {
    await mf?.dispose().catch(() => {});
    await build.cleanup().catch(() => {});
  };
  const onSignal = () => void cleanup().finally(() => process.exit(130));
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  try {
    const keepInfoLogs = process.env.BENCH_WORKER_LOGS === '1';
    // A fresh workerd (new isolates, empty storage), migrated. Each suite after the HTTP scenarios gets its
    // own: locally every object shares one isolate, so a suite would otherwise run in the heap the one
    // before it grew (the flows suite's hundreds of runs took the sync suite's p99 at 1,000 sockets from
    // 1.4x to 1.8–2.2x the bare broadcast), which no production object of ours shares.
    let targets;
    // Every workerd opens V8's inspector for the memory points (lib/heap.mjs), unless BENCH_MEMORY=0:
    // nothing is attached between them.
    const memory = memoryRecorder();
    const boot = async () => {
      await mf?.dispose();
      const inspectorPort = config.memory ? await freePort() : undefined;
      const started = await startWorkers({
        entry: build.entry,
        inspectorPort,
        silenceConsole: !keepInfoLogs,
        extraWorkers: withFlows ? workflowsWorker : undefined,
        onLog: (entry) => {
          // warn/error are counted and sampled; info only arrives with BENCH_WORKER_LOGS=1.
          if (entry.level === 'warn') workerLogs.warnings++;
          else if (entry.level === 'error') workerLogs.errors++;
          else if (!keepInfoLogs) return;
          const first = workerLogs.samples.length < 5;
          if (first) workerLogs.samples.push(entry.message.slice(0, 500));
          if (first || keepInfoLogs) process.stderr.write(`[worker ${entry.level}] ${entry.message.slice(0, 500)}\n`);
        },
      });
      mf = started.mf;
      const migrated = await migratedTargets(mf, { ours: started.oursUrl, base: started.baseUrl });
      targets = migrated.targets;
      const isolates = [
        { side: 'ours', workers: [userIsolate(OURS)], poke: pokeWith(new URL('/health', targets.ours.url)) },
        { side: 'base', workers: [userIsolate(BASE)], poke: pokeWith(new URL('/health', targets.base.url)) },
      ];
      // Workflows: the Worker holding the steps' code and the engine's own isolate holding each instance.
      if (withFlows)
        isolates.push({
          side: 'workflows',
          workers: [userIsolate(WORKFLOWS), WORKFLOWS_ENGINE],
          poke: pokeWith(new URL('/engine', await mf.unsafeGetDirectURL(WORKFLOWS))),
          only: FLOWS_SUITE,
        });
      if (inspectorPort !== undefined) memory.attach({ port: inspectorPort, isolates });
      return migrated;
    };
    /** Boots a fresh workerd for `suite` when anything was measured on the running one (results or a suite's report). */
    const freshForSuite = async (suite) => {
      if (results.length === 0 && flows === null && tasks === null && webhooks === null) return;
      await boot();
      log(`bench: ${suite}: on a fresh workerd`);
    };
    const { migrations } = await boot();
    log(
      `bench: ours on ${targets.ours.url}, baseline on ${targets.base.url}; migrations applied (${migrations.map((m) => m.file).join(', ')})`,
    );

    const idle0 = sampleCpu();
    await sleep(1_000);
    const background = cpuBetween(idle0, sampleCpu());
    if (background && background.foreignPct > NOISY_FOREIGN_PCT) {
      log(
        `bench: WARNING other processes are using ${background.foreignPct}% of the machine before the run; absolute numbers will be low and noisy (ratios hold up better)`,
      );
    }

    const results = [];
    /** Each suite's report once it has run (null: not run). */
    let flows = null;
    let tasks = null;
    let webhooks = null;
    if (scenarios.length > 0) await memory.point('http', 'start');
    for (const scenario of scenarios) {
      log(`bench: ${scenario.name}`);
      const setupMs = scenario.setupTimeoutS ? scenario.setupTimeoutS * 1000 : SETUP_TIMEOUT_MS;
      const setup = scenario.setup
        ? await withTimeout(scenario.setup({ ...targets, pepper: TEST_VARS.TOKEN_PEPPER }), setupMs, `setup of ${scenario.name}`)
        : {};
      const connections = scenario.connections ?? config.connections;
      const rounds = scenario.rounds ?? config.rounds;
      const settleMs = scenario.settleMs ?? SETTLE_MS;
      const req = {
        ours: toRequest(scenario.ours, setup, targets.ours.url),
        base: toRequest(scenario.base, setup, targets.base.url),
      };
      const smoke = {};
      for (const side of ['ours', 'base']) {
        smoke[side] = await probe(req[side]);
        if (smoke[side].status < 200 || smoke[side].status > 299) {
          log(`bench:   WARNING ${side} ${req[side].method} ${req[side].path} answered ${smoke[side].status}: ${smoke[side].body}`);
        }
      }
      if (config.warmupS > 0) {
        for (const side of ['ours', 'base']) {
          await sleep(settleMs);
          await runLoad({ ...load(req[side]), durationS: config.warmupS, connections });
        }
      }
      // ABBA…: alternate which side goes first so slow drift (thermal, GC, storage growth) cancels out.
      const runs = { ours: [], base: [] };
      const slice = config.durationS / rounds;
      for (let round = 0; round < rounds; round++) {
        const order = round % 2 === 0 ? ['ours', 'base'] : ['base', 'ours'];
        for (const side of order) {
          // Requests still in flight when a slice stops keep the Worker busy: let them drain first.
          await sleep(settleMs);
          runs[side].push(await runLoad({ ...load(req[side]), durationS: slice, connections }));
        }
      }
      const ours = merge(runs.ours);
      const base = merge(runs.base);
      // Where ours spends each millisecond (Server-Timing), beside the baseline's client time, same run.
      let stages = null;
      if (scenario.breakdown) {
        await sleep(settleMs);
        const o = await probeStages(() => send(req.ours), { n: BREAKDOWN_REQUESTS, concurrency: connections });
        await sleep(settleMs);
        const b = await probeStages(() => send(req.base), { n: BREAKDOWN_REQUESTS, concurrency: connections });
        stages = {
          rows: summarizeStages(o.samples),
          baseline: clientSummary(`${req.base.method} ${req.base.path}`, b.samples),
          errors: o.errors + b.errors,
        };
      }
      const row = {
        name: scenario.name,
        note: scenario.note,
        connections,
        rounds,
        ours: { request: publicRequest(req.ours), smokeStatus: smoke.ours.status, ...ours },
        base: { request: publicRequest(req.base), smokeStatus: smoke.base.status, ...base },
        ratio: base.reqPerSec > 0 ? round3(ours.reqPerSec / base.reqPerSec) : null,
        cpuRatio: ours.cpuMsPerRequest > 0 && base.cpuMsPerRequest > 0 ? round3(base.cpuMsPerRequest / ours.cpuMsPerRequest) : null,
        ...(stages ? { stages } : {}),
        noisy: [ours.cpu, base.cpu].some((c) => c !== null && c.foreignPctMax > NOISY_FOREIGN_PCT),
      };
      results.push(row);
      log(
        `bench:   ours ${ours.reqPerSec} req/s p99 ${ours.latencyMs.p99} ms | base ${base.reqPerSec} req/s p99 ${base.latencyMs.p99} ms | errors ${ours.errors}/${base.errors}`,
      );
      if (row.noisy)
        log(
          `bench:   WARNING other processes took up to ${Math.max(ours.cpu.foreignPctMax, base.cpu.foreignPctMax)}% of the machine during this scenario`,
        );
    }

    if (scenarios.length > 0) await memory.point('http', 'after the scenarios');

    /** A suite's memory points: its start, the points it takes itself, its end. */
    const measured = async (suite, run) => {
      await memory.point(suite, 'start');
      const report = await run((label, units) => memory.point(suite, label, units));
      await memory.point(suite, 'end');
      return report;
    };
    if (withFlows) {
      await freshForSuite('flows');
      const workflowsUrl = String(await mf.unsafeGetDirectURL(WORKFLOWS));
      flows = await measured(FLOWS_SUITE, (memoryPoint) =>
        runFlowsSuite({
          ours: targets.ours,
          base: targets.base,
          workflowsUrl,
          pepper: TEST_VARS.TOKEN_PEPPER,
          reps: config.flowReps,
          log,
          memoryPoint,
        }),
      );
    }

    if (withTasks) {
      await freshForSuite('tasks');
      tasks = await measured(TASKS_SUITE, (memoryPoint) => runTasksSuite({ ours: targets.ours, base: targets.base, log, memoryPoint }));
    }
    if (withWebhooks) {
      await freshForSuite('webhooks');
      webhooks = await measured(WEBHOOKS_SUITE, () => runWebhooksSuite({ ours: targets.ours, base: targets.base, log }));
    }
    let consoleReport = null;
    if (withConsole) {
      await freshForSuite('console');
      consoleReport = await runConsoleSuite({ mf, ours: targets.ours, log });
    }
    const auth = authOverhead(results);

    const finishedAt = new Date();
    const report = {
      startedAt: startedAt.toISOString(),
      finishedAt: finishedAt.toISOString(),
      git: gitInfo(),
      machine: {
        cpus: os.cpus().length,
        cpuModel: os.cpus()[0]?.model ?? null,
        platform: `${os.platform()} ${os.release()}`,
        node: process.version,
      },
      versions: await versions(),
      backgroundCpu: background,
      config: {
        ...config,
        harness: 'miniflare (workerd direct sockets) + autocannon, loopback',
        isolation: 'the HTTP scenarios share one workerd; the flows, tasks, webhooks and console suites each start on a fresh one',
        storage: STATE_NOTE,
        workerInfoLogs: keepInfoLogs ? 'kept' : 'dropped in-isolate',
      },
      workerLogs,
      bundle,
      ...(startup ? { startup } : {}),
      scenarios: results,
      ...(auth ? { authOverhead: auth } : {}),
      ...(flows ? { flows } : {}),
      ...(tasks ? { tasks } : {}),
      ...(webhooks ? { webhooks } : {}),
      ...(consoleReport ? { console: consoleReport } : {}),
      ...(memory.points.length > 0 ? { memory: summarizeMemory(memory.points) } : {}),
    };
    // A summary of figures already taken: should it fail on a shape it did not expect, the run still reports.
    let goals = [];
    try {
      goals = issue20Goals(report);
    } catch (err) {
      log(`bench: WARNING the goals table failed (${err.message}); the figures are unaffected`);
    }
    if (goals.length > 0) report.issue20 = goals;
    console.log('');
    console.log(`${formatBuild(bundle, startup)}\n`);
    if (results.length > 0) console.log(`${formatTable(results)}\n`);
    for (const r of results.filter((x) => x.stages)) {
      console.log(`${formatStages(`${r.name}: stages (${BREAKDOWN_REQUESTS} requests)`, r.stages.rows, r.stages.baseline)}\n`);
    }
    if (auth) console.log(`${formatAuthOverhead(auth)}\n`);
    if (flows) console.log(`${formatFlowsTables(flows)}\n`);
    if (tasks) console.log(`${formatTasksTables(tasks)}\n`);
    if (webhooks) console.log(`${formatWebhooksTables(webhooks)}\n`);
    if (consoleReport) console.log(`${formatConsoleTable(consoleReport)}\n`);
    if (report.memory) console.log(`${formatMemoryTable(report.memory)}\n`);
    if (goals.length > 0) console.log(`${formatIssue20Goals(goals)}\n`);
    const outDir = path.join(ROOT, 'bench-results');
    await mkdir(outDir, { recursive: true });
    const file = path.join(outDir, `bench-${startedAt.toISOString().replace(/[:.]/g, '-')}.json`);
    const text = `${JSON.stringify(report, null, 2)}\n`;
    await writeFile(file, text);
    await writeFile(path.join(outDir, 'latest.json'), text);
    if (previous) {
      console.log(
        `${formatComparison(compareReports(previous, report), { oldLabel: path.basename(values.compare), newLabel: 'this run' })}\n`,
      );
    }
    console.log(`wrote ${path.relative(ROOT, file)} and bench-results/latest.json (${((finishedAt - startedAt) / 1000).toFixed(1)}s)`);

    const failing = results.filter((r) => r.ours.errors > 0 || r.base.errors > 0);
    if (failing.length > 0) {
      console.error(
        `bench: ${failing.length} scenario(s) had errors (non-2xx, socket errors or timeouts): ${failing.map((r) => r.name).join(', ')}`,
      );
    }
    if (flows && flowsFailed(flows)) console.error('bench: the flows suite had errors or failed checks (see the table and the JSON)');
    if (tasks && tasksFailed(tasks)) console.error('bench: the tasks suite had errors or lost messages (see the table and the JSON)');
    if (webhooks && webhooksFailed(webhooks))
      console.error(
        'bench: the webhooks suite lost, duplicated or failed to verify an event, a commit failed, or a sequence endpoint got one out of order (see the table and the JSON)',
      );
    return failing.length > 0 || (flows && flowsFailed(flows)) || (tasks && tasksFailed(tasks)) || (webhooks && webhooksFailed(webhooks))
      ? 1
      : 0;
  } finally {
    clearTimeout(watchdog);
    await cleanup();
  }
}

/** HTTP scenarios picked by --only, and whether the flows, tasks, webhooks and console suites are (named exactly so). */
function selectScenarios(all, only) {
  const wanted = only
    .flatMap((o) => o.split(','))
    .map((o) => o.trim())
    .filter(Boolean);
  if (wanted.length === 0) return { scenarios: all, flows: true, tasks: true, webhooks: true, console: true };
  const picked = new Set();
  let flows = false;
  let tasks = false;
  let webhooks = false;
  let consoleSuite = false;
  for (const w of wanted) {
    if (w === WEBHOOKS_SUITE) {
      webhooks = true;
      continue;
    }
    if (w === CONSOLE_SUITE) {
      consoleSuite = true;
      continue;
    }
    if (w === FLOWS_SUITE) {
      flows = true;
      continue;
    }
    if (w === TASKS_SUITE) {
      tasks = true;
      continue;
    }
    const exact = all.filter((s) => s.name === w);
    const matches = exact.length > 0 ? exact : all.filter((s) => s.name.toLowerCase().includes(w.toLowerCase()));
    if (matches.length === 0)
      throw new UsageError(
        `--only ${JSON.stringify(w)} matches no scenario; have: ${[...all.map((s) => s.name), FLOWS_SUITE, TASKS_SUITE, WEBHOOKS_SUITE, CONSOLE_SUITE].map((n) => JSON.stringify(n)).join(', ')}`,
      );
    for (const m of matches) picked.add(m);
  }
  return { scenarios: all.filter((s) => picked.has(s)), flows, tasks, webhooks, console: consoleSuite };
}

async function readReport(file) {
  try {
    return JSON.parse(await readFile(file, 'utf8'));
  } catch (err) {
    throw new UsageError(`cannot read ${file} as a bench result: ${err.message}`);
  }
}

/** Bundle size and start-up time, printed above the figures they go with. */
function formatBuild(bundle, startup) {
  const lines = [
    `Worker bundle: ${bundle.gzipKiB} KiB gzip, ${bundle.rawKiB} KiB raw (${bundle.modules} modules). Run storage: ${STATE_NOTE}.`,
  ];
  if (startup)
    lines.push(
      `Start-up (fresh workerd until the first GET /health answers, median of ${startup.reps}): ours ${startup.oursMs} ms, bare baseline ${startup.baseMs} ms, ratio ${startup.ratio} (+${startup.addedMs} ms).`,
    );
  return lines.join('\n');
}

function assertUniqueNames(all) {
  const seen = new Set();
  for (const s of all) {
    if (seen.has(s.name)) throw new UsageError(`duplicate scenario name ${JSON.stringify(s.name)}`);
    seen.add(s.name);
  }
}

const load = (r) => ({ url: r.url, method: r.method, headers: r.headers, body: r.body, setupRequest: r.perRequest });

/** The request as recorded in JSON: secrets in headers are not written to disk. */
function publicRequest(r) {
  const headers = Object.fromEntries(
    Object.entries(r.headers).map(([k, v]) => [k, /authorization|cookie|key|token/i.test(k) ? '[redacted]' : v]),
  );
  return {
    method: r.method,
    path: r.path,
    headers,
    ...(r.body === undefined ? {} : { bodyBytes: Buffer.byteLength(r.body) }),
    ...(r.perRequest ? { perRequest: true } : {}),
  };
}

/** One request of a scenario, through its per-request rewrite (the next credential, …). */
function send(r) {
  const q = r.perRequest ? r.perRequest({ method: r.method, path: r.path, headers: { ...r.headers }, body: r.body }) : r;
  return fetch(new URL(q.path, r.url), { method: q.method, headers: q.headers, body: q.body, signal: AbortSignal.timeout(10_000) });
}

async function probe(r) {
  // The smoke request goes through the same per-request rewrite as the load (a fresh IP, the next credential, …).
  const q = r.perRequest ? r.perRequest({ method: r.method, path: r.path, headers: { ...r.headers }, body: r.body }) : r;
  const res = await fetch(new URL(q.path, r.url), {
    method: q.method,
    headers: q.headers,
    body: q.body,
    signal: AbortSignal.timeout(10_000),
  });
  const body = (await res.text()).slice(0, 300);
  return { status: res.status, body };
}

function describe(spec) {
  if (typeof spec === 'function') return '(from setup)';
  return typeof spec === 'string' ? `GET ${spec}` : `${spec.method ?? 'GET'} ${spec.path}`;
}

function gitInfo() {
  const status = git('status', '--porcelain');
  return { commit: git('rev-parse', 'HEAD'), dirty: status === null ? null : status.length > 0 };
}

async function versions() {
  const v = async (pkg) => {
    try {
      return JSON.parse(await readFile(path.join(ROOT, 'node_modules', pkg, 'package.json'), 'utf8')).version;
    } catch {
      return null;
    }
  };
  return { wrangler: await v('wrangler'), miniflare: await v('miniflare'), workerd: await v('workerd'), autocannon: await v('autocannon') };
}

function withTimeout(promise, ms, what) {
  let timer;
  return Promise.race([
    Promise.resolve(promise).finally(() => clearTimeout(timer)),
    new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms))),
  ]);
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const round3 = (v) => Math.round(v * 1000) / 1000;

main().then(
  (code) => process.exit(code),
  (err) => {
    const usage =
      err instanceof UsageError ||
      (err instanceof Error && (err.benchReport === 'message' || ('code' in err && String(err.code).startsWith('ERR_PARSE_ARGS'))));
    console.error(usage ? `bench: ${err.message}` : err instanceof Error ? (err.stack ?? err.message) : err);
    process.exit(2);
  },
);
