#!/usr/bin/env node
/**
 * npm run chaos [-- --quick] [-- --only <name>[,<name>…]] [-- --list] [-- --verbose]
 *
 * The standing fault-injection suite (issue 12, item 8). Builds the real Worker (wrangler deploy
 * --dry-run), runs it on workerd through Miniflare with every binding of wrangler.toml (D1, Durable
 * Objects, Queues with their consumers) and ENVIRONMENT=test, plus a local Standard Webhooks receiver
 * and a local far end for flow http nodes; then injects one fault per scenario and counts, from
 * outside, what was lost and what was done twice:
 *
 *   alarm-throws       a FlowRun alarm throws k = 1..7 times in a row
 *   object-reset       100 FlowRuns reset mid-step (their http request in flight)
 *   queue-redelivery   an EVENTS batch delivered 3 more times, attempt jobs 2 more times
 *   d1-outage          D1 unavailable for a window while tasks are written and runs finish
 *   receiver-slow      the webhook receiver takes 2 s per request; the sweeper keeps re-queuing
 *   receiver-hanging   one tenant's receiver hangs; another tenant's deliveries keep going
 *   receiver-410       the receiver answers 410 Gone; endpoint disabled, re-enabled, recovered
 *   receiver-429       the receiver answers 429 with Retry-After
 *   sync-200k          200k changes in the log, 5 sockets reconnecting at since=0
 *   noisy-neighbour    a tenant at 10× next to a quiet one (quiet p99 both ways)
 *
 * Prints one row per scenario (figures, lost, duplicated, goal) and writes
 * bench-results/chaos-<timestamp>.json. Exits 1 if anything was lost, duplicated or unverified, or a
 * scenario failed to run; a missed goal (e.g. the p99 bound) is shown but does not fail the run.
 *
 * --quick: fewer iterations (k = 1..3, 30 runs reset, shorter windows, 50k changes): about 3 minutes.
 * Not part of `npm test`. See scripts/chaos/README.md.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { cpuBetween, sampleCpu } from '../bench/lib/cpu.mjs';
import { buildWorker, ROOT } from '../bench/lib/workers.mjs';
import { startHoldServer } from './lib/hold.mjs';
import { startReceiver } from './lib/receiver.mjs';
import { formatTable } from './lib/report.mjs';
import { startWorker } from './lib/worker.mjs';
import { d1Outage, queueRedelivery } from './scenarios/events.mjs';
import { noisyNeighbour } from './scenarios/noisy.mjs';
import { receiver410, receiver429, receiverHanging, receiverSlow } from './scenarios/receivers.mjs';
import { alarmThrows, objectReset } from './scenarios/runs.mjs';
import { syncCatchUp } from './scenarios/sync.mjs';

export const SCENARIOS = [
  alarmThrows,
  objectReset,
  queueRedelivery,
  d1Outage,
  receiverSlow,
  receiverHanging,
  receiver410,
  receiver429,
  syncCatchUp,
  noisyNeighbour,
];

/** Other processes above this share of the machine during a scenario make its timings "noisy". */
const NOISY_FOREIGN_PCT = 15;
const BUDGET_MS = { quick: 8 * 60_000, full: 20 * 60_000 };

async function main() {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean' },
      only: { type: 'string', multiple: true },
      list: { type: 'boolean' },
      verbose: { type: 'boolean', short: 'v' },
      help: { type: 'boolean', short: 'h' },
    },
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
  if (values.list) {
    for (const s of SCENARIOS) console.log(`${s.name}\n    ${s.injects}\n`);
    return 0;
  }
  const wanted = (values.only ?? []).flatMap((o) => o.split(',')).filter(Boolean);
  const unknown = wanted.filter((n) => !SCENARIOS.some((s) => s.name === n));
  if (unknown.length) {
    console.error(`chaos: unknown scenario(s) ${unknown.join(', ')}; see --list`);
    return 2;
  }
  const selected = wanted.length ? SCENARIOS.filter((s) => wanted.includes(s.name)) : SCENARIOS;
  const quick = values.quick === true;
  const started = Date.now();
  const log = (m) => console.log(`[chaos ${((Date.now() - started) / 1000).toFixed(0).padStart(4)}s] ${m}`);
  const watchdog = setTimeout(
    () => {
      console.error(`chaos: watchdog fired after ${BUDGET_MS[quick ? 'quick' : 'full'] / 60_000} minutes`);
      process.exit(2);
    },
    BUDGET_MS[quick ? 'quick' : 'full'],
  );
  watchdog.unref();

  const workerLogs = { warn: 0, error: 0 };
  let current = null;
  const onLog = (level, message) => {
    if (level !== 'warn' && level !== 'error') return;
    workerLogs[level] += 1;
    if (current) current.workerLogs[level] = (current.workerLogs[level] ?? 0) + 1;
    if (values.verbose) process.stderr.write(`[worker ${level}] ${message.slice(0, 500)}\n`);
  };

  log(`building the Worker (wrangler deploy --dry-run)${quick ? ' — quick mode' : ''}`);
  const build = await buildWorker();
  const rx = await startReceiver();
  const hold = await startHoldServer();
  const w = await startWorker({ entry: build.entry, onLog });
  log(`Worker on ${w.url}; receiver ${rx.url}; http far end ${hold.url}`);
  const rows = [];
  try {
    for (const s of selected) {
      log(`${s.name}: ${s.injects}`);
      current = { workerLogs: {} };
      const cpu0 = sampleCpu();
      const t0 = Date.now();
      let row;
      try {
        const r = await s.run({ w, rx, hold, quick, log });
        row = { name: s.name, injects: s.injects, ...r, unverified: r.unverified ?? 0 };
      } catch (err) {
        row = {
          name: s.name,
          injects: s.injects,
          error: String(err?.stack ?? err),
          figures: `did not run: ${String(err?.message ?? err).slice(0, 160)}`,
          lost: null,
          duplicated: null,
          unverified: 0,
        };
      }
      row.durationMs = Date.now() - t0;
      row.cpu = cpuBetween(cpu0, sampleCpu());
      row.noisy = (row.cpu?.foreignPct ?? 0) > NOISY_FOREIGN_PCT;
      row.workerLogs = current.workerLogs;
      rows.push(row);
      log(
        `${s.name}: ${row.figures} — lost ${row.lost ?? '-'}, duplicated ${row.duplicated ?? '-'} (${(row.durationMs / 1000).toFixed(0)} s)`,
      );
    }
  } finally {
    current = null;
    await w.dispose().catch(() => {});
    await rx.close();
    await hold.close();
    await build.cleanup();
  }

  const failed = rows.filter((r) => r.error || r.lost !== 0 || r.duplicated !== 0 || r.unverified !== 0);
  const result = {
    at: new Date().toISOString(),
    mode: quick ? 'quick' : 'full',
    durationMs: Date.now() - started,
    machine: { cpus: os.cpus().length, loadavg: os.loadavg() },
    goals: { lost: 0, duplicated: 0, quietTenantP99: '+25 %' },
    passed: failed.length === 0,
    workerLogs,
    scenarios: rows,
  };
  console.log(`\n${formatTable(rows)}\n`);
  const dir = path.join(ROOT, 'bench-results');
  await mkdir(dir, { recursive: true });
  const file = path.join(dir, `chaos-${result.at.replace(/[:.]/g, '-')}.json`);
  await writeFile(file, `${JSON.stringify(result, null, 2)}\n`);
  log(
    `wrote ${path.relative(ROOT, file)}; ${failed.length === 0 ? 'nothing lost, nothing duplicated' : `FAILED: ${failed.map((r) => r.name).join(', ')}`}`,
  );
  return failed.length === 0 ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
