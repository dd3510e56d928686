#!/usr/bin/env node
/**
 * The webhooks suite of `npm run bench` (`--only webhooks`), and `npm run bench:webhooks` to run it
 * alone or one configuration of it: commit → verified receipt, through the whole events path
 * (TenantHub transaction → outbox → publish → the hub's direct first attempts, the EVENTS queue and its
 * consumer as fallback → D1 delivery rows → signed POST).
 *
 * A local receiver (127.0.0.1, in this process) verifies every delivery with the official
 * `standardwebhooks` library and records its receipt time per task id; each case has its own tenant,
 * endpoint (`/hooks/<case>`) and secret. A case commits `events` tasks, `connections` at a time, and
 * measures per event the time from the commit's answer to the verified receipt:
 *
 * - `producer: 'http'`: each commit is `POST /v1/tasks`.
 * - `producer: 'socket'`: each commit is a `task.create` frame on a sync socket (`GET /v1/sync/ws`),
 *   one per connection, the next frame sent when the previous one's `ack` arrives. The same service
 *   verb, validation and rate limit as the HTTP route (durable-objects/tenant-hub/sync-mutations.ts)
 *   without the Worker's HTTP stack: locally the commits share workerd's one thread with the
 *   deliveries, and over HTTP they cap the events a run can offer (about 370/s on the 2-core machine)
 *   below the 500/s goal.
 *
 * The baseline for a throughput case (`bare`): the bare Durable Object (baseline-worker.js
 * `sendWebhooks`) signs and POSTs as many Standard Webhooks deliveries to the same receiver, with as
 * many in flight as our lane keeps (16 for `ordering: none`, 1 for `sequence`): no commit, outbox or
 * delivery row, only what one object of this workerd can send. `throughputRatio` = ours ÷ bare events/s.
 *
 * Env for `npm run bench:webhooks`: none runs the whole suite; BENCH_EVENTS, BENCH_CONNECTIONS,
 * BENCH_WEBHOOK_ORDERING (`sequence` or `none`) or BENCH_PRODUCER (`http` or `socket`) run one case
 * instead (defaults 1000, 16, sequence, http); BENCH_TIMEOUT_S (default 60) bounds each case's wait
 * for receipts; BENCH_PROFILE=1 also profiles our isolate over the run (V8's sampler, as
 * `npm run bench:profile`) and prints where its CPU went per delivered event. Writes
 * bench-results/webhooks-<timestamp>.json; exits 1 if an event was lost, delivered twice or failed
 * verification.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Webhook } from 'standardwebhooks';
import WebSocket from 'ws';
import { analyse, connectInspector, freePort, printProfile, readSourceMap, startProfiler, userIsolate } from './lib/profiler.mjs';
import { markdownTable } from './lib/report.mjs';
import { signupTenant } from './lib/tenants.mjs';
import { buildWorker, migratedTargets, OURS, ROOT, STATE_NOTE, startWorkers } from './lib/workers.mjs';

export const WEBHOOKS_SUITE = 'webhooks';

/** The suite's cases, in the order they run (the quiet one-by-one case first). */
const SUITE_CASES = [
  { name: 'one by one', events: 50, connections: 1, ordering: 'sequence', producer: 'http', bareConcurrency: null },
  { name: '1,000 at 16, ordering none', events: 1000, connections: 16, ordering: 'none', producer: 'socket', bareConcurrency: 16 },
  { name: '1,000 at 16, ordering sequence', events: 1000, connections: 16, ordering: 'sequence', producer: 'socket', bareConcurrency: 1 },
  {
    name: '1,000 at 16 over HTTP, ordering none',
    events: 1000,
    connections: 16,
    ordering: 'none',
    producer: 'http',
    bareConcurrency: null,
  },
];

/** Issue 20's goals: one by one p50 < 250 ms and p99 < 1 s; 16 at once ≥ 500 events/s with p99 < 2 s. */
const GOALS = {
  oneByOne: { p50Ms: 250, p99Ms: 1000 },
  throughput: { eventsPerSec: 500, p99Ms: 2000 },
};

const TIMEOUT_MS = Number(process.env.BENCH_TIMEOUT_S ?? 60) * 1000;

/** `n` events over `ms` as events per second; null when there is nothing to divide. */
const perSec = (n, ms) => (n > 0 && ms > 0 ? n / (ms / 1000) : null);
const pct = (sorted, p) => (sorted.length === 0 ? null : sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const slug = (name) => name.replace(/[^a-z0-9]+/gi, '-').toLowerCase();

/** Seconds the suite may take at most (each case waits at most TIMEOUT_MS for its receipts). */
export function webhooksBudgetS() {
  return Math.ceil(60 + SUITE_CASES.length * (30 + TIMEOUT_MS / 1000) + 2 * (TIMEOUT_MS / 1000));
}

/**
 * The receiver: one lane per path (`/hooks/<case>`), each with its own secret; a delivery is verified
 * with standardwebhooks and its receipt time recorded under the task id in its body.
 */
async function startReceiver() {
  const lanes = new Map();
  let stray = 0;
  const server = createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const at = performance.now();
      const lane = lanes.get(req.url);
      if (lane === undefined) {
        stray += 1;
        res.writeHead(404).end();
        return;
      }
      try {
        const payload = new Webhook(lane.secret).verify(Buffer.concat(chunks).toString('utf8'), req.headers);
        const id = payload.data?.task?.id;
        if (lane.receipts.has(id)) lane.duplicates += 1;
        else {
          lane.receipts.set(id, at);
          // First arrivals after a later event of the same endpoint (what `ordering: 'sequence'` rules out).
          if (payload.sequence < lane.highestSequence) lane.outOfOrder += 1;
          else lane.highestSequence = payload.sequence;
        }
        res.writeHead(204).end();
      } catch {
        lane.unverified += 1;
        res.writeHead(400).end();
      }
    });
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const origin = `http://127.0.0.1:${server.address().port}`;
  return {
    /** A new lane at `/hooks/<name>`; set its `secret` before anything is sent to it. */
    lane(name) {
      const p = `/hooks/${name}`;
      const lane = { url: origin + p, secret: null, receipts: new Map(), duplicates: 0, unverified: 0, outOfOrder: 0, highestSequence: 0 };
      lanes.set(p, lane);
      return lane;
    },
    stray: () => stray,
    close: () => new Promise((r) => server.close(r)),
  };
}

/** Waits until `lane` has `n` receipts or TIMEOUT_MS passed. */
async function receipts(lane, n) {
  const deadline = Date.now() + TIMEOUT_MS;
  while (lane.receipts.size < n && Date.now() < deadline) await sleep(20);
}

/** How long a commit may take before the producer counts it as failed (a lost frame must not hang the run). */
const COMMIT_TIMEOUT_MS = 10_000;

/**
 * A sync socket that sends `mutate` frames and resolves each with its `ack` (or `{ ok: false }` on
 * timeout, an `error` frame or the socket closing); open once `synced` arrives.
 */
function openSocket(url, token) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${url.replace(/^http/, 'ws').replace(/\/$/, '')}/v1/sync/ws?since=0`, {
      perMessageDeflate: false,
      headers: { authorization: `Bearer ${token}` },
    });
    const waiting = new Map();
    // A replay is recognised per actor, not per socket: ids must be unique across this actor's sockets.
    const prefix = randomBytes(6).toString('hex');
    let n = 0;
    const answer = (id, frame) => {
      const pending = waiting.get(id);
      if (pending === undefined) return;
      waiting.delete(id);
      clearTimeout(pending.timer);
      pending.resolve(frame);
    };
    const failAll = (code) => {
      for (const id of [...waiting.keys()]) answer(id, { ok: false, code });
    };
    const mutate = (frame) =>
      new Promise((resolve) => {
        if (ws.readyState !== WebSocket.OPEN) return resolve({ ok: false, code: 'socket_closed' });
        const clientMutationId = `${prefix}-${++n}`;
        const timer = setTimeout(() => answer(clientMutationId, { ok: false, code: 'timeout' }), COMMIT_TIMEOUT_MS);
        waiting.set(clientMutationId, { resolve, timer });
        ws.send(JSON.stringify({ type: 'mutate', clientMutationId, ...frame }));
      });
    ws.on('message', (data) => {
      const frame = JSON.parse(String(data));
      if (frame.type === 'synced') resolve({ mutate, close: () => ws.close() });
      else if (frame.type === 'ack') answer(frame.clientMutationId, frame);
      // An error frame names no mutation: this producer has one in flight per socket, so it is that one.
      else if (frame.type === 'error') failAll(frame.code ?? 'error');
    });
    ws.once('error', reject);
    ws.once('close', () => failAll('socket_closed'));
  });
}

/** One case on our Worker: a new tenant and endpoint, `events` commits, every receipt awaited. */
async function measureOurs(ours, receiver, c) {
  const tenant = await signupTenant(ours, { label: `webhooks-${slug(c.name)}` });
  const lane = receiver.lane(slug(c.name));
  const auth = { 'content-type': 'application/json', authorization: `Bearer ${tenant.accessToken}` };
  const hook = await ours.fetch('/v1/webhooks', {
    method: 'POST',
    headers: auth,
    body: JSON.stringify({ url: lane.url, eventTypes: ['task.created'], ordering: c.ordering }),
  });
  if (hook.status !== 201) throw new Error(`bench: webhooks: creating the endpoint answered ${hook.status}: ${await hook.text()}`);
  lane.secret = (await hook.json()).secret;

  const commits = new Map();
  let commitErrors = 0;
  let next = 0;
  // The sockets open before the clock starts: their handshakes are not commits.
  const sockets =
    c.producer === 'socket' ? await Promise.all(Array.from({ length: c.connections }, () => openSocket(ours.url, tenant.accessToken))) : [];
  const started = performance.now();
  await Promise.all(
    Array.from({ length: c.connections }, async (_, k) => {
      const socket = sockets[k] ?? null;
      while (next < c.events) {
        const title = `bench ${next++}`;
        if (socket) {
          const ack = await socket.mutate({ op: 'task.create', input: { title } });
          if (ack.ok && !ack.replayed) commits.set(ack.result.id, performance.now());
          else commitErrors += 1;
          continue;
        }
        const res = await ours.fetch('/v1/tasks', { method: 'POST', headers: auth, body: JSON.stringify({ title }) });
        const at = performance.now();
        if (res.status === 201) commits.set((await res.json()).id, at);
        else {
          commitErrors += 1;
          await res.body?.cancel();
        }
      }
      socket?.close();
    }),
  );
  const committedIn = performance.now() - started;
  await receipts(lane, commits.size);

  // Receipts of this case's commits only (commit time, receipt time).
  const pairs = [...commits].filter(([id]) => lane.receipts.has(id)).map(([id, at]) => [at, lane.receipts.get(id)]);
  const received = pairs.map(([, receivedAt]) => receivedAt);
  const latencies = pairs.map(([at, receivedAt]) => receivedAt - at).sort((a, b) => a - b);
  const lastReceipt = Math.max(started, ...received);
  // Locally the commits and the deliveries share one thread: how fast the lane went once it had it alone.
  const lastCommit = started + committedIn;
  const afterCommits = received.filter((at) => at > lastCommit).length;
  return {
    committed: commits.size,
    commitErrors,
    delivered: latencies.length,
    lost: commits.size - latencies.length,
    duplicates: lane.duplicates,
    unverified: lane.unverified,
    outOfOrder: lane.outOfOrder,
    commitsPerSec: perSec(commits.size, committedIn),
    eventsPerSec: perSec(latencies.length, lastReceipt - started),
    afterCommits: { delivered: afterCommits, eventsPerSec: perSec(afterCommits, lastReceipt - lastCommit) },
    latencyMs: { p50: pct(latencies, 50), p90: pct(latencies, 90), p99: pct(latencies, 99), max: latencies.at(-1) ?? null },
  };
}

/** The baseline of a throughput case: the bare object sends `events` signed deliveries, `concurrency` in flight. */
async function measureBare(base, receiver, c) {
  const lane = receiver.lane(`bare-${slug(c.name)}`);
  lane.secret = `whsec_${randomBytes(32).toString('base64')}`;
  const started = performance.now();
  const res = await base.fetch(`/webhook-sends?room=webhooks-${slug(c.name)}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ url: lane.url, secret: lane.secret, count: c.events, concurrency: c.bareConcurrency }),
  });
  if (res.status !== 200) throw new Error(`bench: webhooks: the bare sender answered ${res.status}: ${await res.text()}`);
  const { failed } = await res.json();
  await receipts(lane, c.events);
  const lastReceipt = Math.max(started, ...lane.receipts.values());
  return {
    concurrency: c.bareConcurrency,
    delivered: lane.receipts.size,
    failed,
    unverified: lane.unverified,
    eventsPerSec: perSec(lane.receipts.size, lastReceipt - started),
  };
}

function goalOf(c, ours) {
  const p99 = ours.latencyMs.p99;
  if (c.connections === 1) {
    const { p50Ms, p99Ms } = GOALS.oneByOne;
    return { p50Ms, p99Ms, met: ours.lost === 0 && p99 !== null && ours.latencyMs.p50 < p50Ms && p99 < p99Ms };
  }
  const { eventsPerSec, p99Ms } = GOALS.throughput;
  return { eventsPerSec, p99Ms, met: ours.lost === 0 && p99 !== null && (ours.eventsPerSec ?? 0) >= eventsPerSec && p99 < p99Ms };
}

/**
 * The suite on a started workerd (`ours` and `base` from lib/workers.mjs `migratedTargets`), `cases`
 * in order; each throughput case's bare baseline runs just before it.
 */
export async function runWebhooksSuite({ ours, base, log = () => {}, cases = SUITE_CASES }) {
  const receiver = await startReceiver();
  try {
    const rows = [];
    for (const c of cases) {
      const bare = c.bareConcurrency ? await measureBare(base, receiver, c) : null;
      log(`bench: webhooks: ${c.name} (${c.producer} commits${bare ? `; bare sends ${Math.round(bare.eventsPerSec ?? 0)}/s` : ''})…`);
      const measured = await measureOurs(ours, receiver, c);
      rows.push({
        name: c.name,
        events: c.events,
        connections: c.connections,
        ordering: c.ordering,
        producer: c.producer,
        ...measured,
        bare,
        throughputRatio: bare?.eventsPerSec && measured.eventsPerSec ? measured.eventsPerSec / bare.eventsPerSec : null,
        goal: goalOf(c, measured),
      });
    }
    return {
      storage: STATE_NOTE,
      cases: rows,
      strayDeliveries: receiver.stray(),
      note: 'commit = the POST /v1/tasks response or the socket ack; receipt = signature verified by standardwebhooks at a local receiver; events/s = delivered ÷ (last receipt − first commit); bare = the bare object sending signed POSTs itself (baseline-worker.js sendWebhooks)',
    };
  } finally {
    await receiver.close();
  }
}

/** True when a case lost, duplicated or failed to verify an event, a commit failed, or a `sequence` endpoint got one out of order. */
export function webhooksFailed(report) {
  return report.cases.some(
    (r) =>
      r.lost ||
      r.duplicates ||
      r.unverified ||
      r.commitErrors ||
      (r.ordering === 'sequence' && r.outOfOrder) ||
      (r.bare && (r.bare.failed || r.bare.delivered < r.events)),
  );
}

export function formatWebhooksTables(report) {
  const f = (v) => (v === null || v === undefined ? '-' : Math.abs(v) < 10 ? v.toFixed(2) : v.toFixed(1));
  const header = [
    'webhooks: commit → verified receipt',
    'producer',
    'commits/s',
    'events/s',
    'after commits',
    'bare events/s',
    'ratio',
    'p50',
    'p99',
    'max',
    'lost/dup/unverified/out of order',
    'goal',
  ];
  const rows = report.cases.map((r) => [
    r.name,
    r.producer,
    f(r.commitsPerSec),
    f(r.eventsPerSec),
    r.afterCommits.eventsPerSec === null ? '-' : `${f(r.afterCommits.eventsPerSec)} (${r.afterCommits.delivered})`,
    r.bare ? `${f(r.bare.eventsPerSec)} (${r.bare.concurrency} in flight)` : '-',
    f(r.throughputRatio),
    `${f(r.latencyMs.p50)} ms`,
    `${f(r.latencyMs.p99)} ms`,
    `${f(r.latencyMs.max)} ms`,
    `${r.lost}/${r.duplicates}/${r.unverified}/${r.outOfOrder}`,
    `${r.goal.eventsPerSec ? `≥ ${r.goal.eventsPerSec}/s, ` : `p50 < ${r.goal.p50Ms} ms, `}p99 < ${r.goal.p99Ms} ms: ${r.goal.met ? 'met' : 'NOT met'}`,
  ]);
  return [
    markdownTable(header, rows, { left: 2 }),
    '',
    `events/s = delivered ÷ (last receipt − first commit); after commits = events/s from the last commit to the last receipt (how many were left), the lane with workerd's one thread to itself; ratio = ours events/s ÷ the bare object signing and sending as many deliveries itself, as many in flight as our lane keeps (no commit, no outbox, no delivery rows); run storage ${report.storage}.`,
  ].join('\n');
}

/** `npm run bench:webhooks`: the suite on its own workerd, or one case from the environment. */
async function main() {
  const env = process.env;
  const custom = ['BENCH_EVENTS', 'BENCH_CONNECTIONS', 'BENCH_WEBHOOK_ORDERING', 'BENCH_PRODUCER'].some((k) => env[k] !== undefined);
  const cases = custom
    ? [
        {
          name: 'custom',
          events: Number(env.BENCH_EVENTS ?? 1000),
          connections: Number(env.BENCH_CONNECTIONS ?? 16),
          ordering: env.BENCH_WEBHOOK_ORDERING ?? 'sequence',
          producer: env.BENCH_PRODUCER ?? 'http',
          bareConcurrency: Number(env.BENCH_CONNECTIONS ?? 16) > 1 ? (env.BENCH_WEBHOOK_ORDERING === 'none' ? 16 : 1) : null,
        },
      ]
    : SUITE_CASES;
  for (const c of cases) {
    if (!(Number.isInteger(c.events) && c.events > 0 && Number.isInteger(c.connections) && c.connections > 0))
      throw new Error('BENCH_EVENTS and BENCH_CONNECTIONS must be positive integers');
    if (!['sequence', 'none'].includes(c.ordering)) throw new Error('BENCH_WEBHOOK_ORDERING must be sequence or none');
    if (!['http', 'socket'].includes(c.producer)) throw new Error('BENCH_PRODUCER must be http or socket');
  }
  const profiling = env.BENCH_PROFILE === '1';
  const inspectorPort = profiling ? await freePort() : undefined;
  // Profiled: not minified, so the report names functions (as `npm run bench:profile` does).
  const build = await buildWorker({ minify: !profiling });
  const { mf, oursUrl, baseUrl } = await startWorkers({ entry: build.entry, inspectorPort });
  const watchdog = setTimeout(() => {
    console.error(`bench:webhooks: watchdog fired after ${webhooksBudgetS()} s`);
    process.exit(2);
  }, webhooksBudgetS() * 1000);
  try {
    const { targets } = await migratedTargets(mf, { ours: oursUrl, base: baseUrl });
    const inspector = profiling ? await connectInspector(inspectorPort, userIsolate(OURS)) : null;
    if (inspector) await startProfiler(inspector);
    const report = { at: new Date().toISOString(), ...(await runWebhooksSuite({ ...targets, cases, log: (m) => console.error(m) })) };
    console.log(`\n${formatWebhooksTables(report)}\n`);
    if (inspector) {
      // BENCH_PROFILE=1: where our isolate's CPU went over the whole run, per delivered event (lib/profiler.mjs).
      const { profile } = await inspector.send('Profiler.stop');
      inspector.close();
      const events = report.cases.reduce((sum, r) => sum + r.delivered, 0);
      const analysed = analyse(profile, await readSourceMap(build.entry), build.entry);
      console.log(
        `isolate busy ${(analysed.totalMs - analysed.idleMs).toFixed(0)} of ${analysed.totalMs.toFixed(0)} ms sampled, ${events} events delivered\n`,
      );
      printProfile(analysed, { per: (ms) => `${((ms / events) * 1000).toFixed(0)} µs/event` });
    }
    const dir = path.join(ROOT, 'bench-results');
    await mkdir(dir, { recursive: true });
    await writeFile(path.join(dir, `webhooks-${report.at.replace(/[:.]/g, '-')}.json`), `${JSON.stringify(report, null, 2)}\n`);
    return webhooksFailed(report) ? 1 : 0;
  } finally {
    clearTimeout(watchdog);
    await mf.dispose();
    await build.cleanup();
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().then(
    (code) => process.exit(code),
    (err) => {
      console.error(err);
      process.exit(1);
    },
  );
}
