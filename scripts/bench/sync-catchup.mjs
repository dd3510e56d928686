#!/usr/bin/env node
/**
 * npm run bench:sync — bounded sync catch-up over a long change log (issue 12, item 4).
 *
 * Builds the real Worker, runs it on workerd through Miniflare (lib/workers.mjs), writes
 * BENCH_SYNC_CHANGES changes (default 200,000) straight into one tenant's TenantHub log (spread
 * over BENCH_SYNC_ENTITIES tasks, through the hub's ENVIRONMENT=test-only seeding RPC), then:
 *
 *   before  task writes alone: BENCH_CONNECTIONS writers POST /v1/tasks at BENCH_SYNC_WRITE_RATE
 *           writes/s in all, for BENCH_DURATION s
 *   during  the same writes while BENCH_SYNC_SOCKETS sockets reconnect to GET /v1/sync/ws?since=0
 *           every 200 ms each; each handshake is timed from the upgrade request to its first frame
 *           (`resync` once the backlog is past the catch-up cap, docs/tasks.md)
 *
 * Prints handshake time and task-write latency side by side, and writes
 * bench-results/sync-catchup-<timestamp>.json. Exits 1 if a write failed or a handshake did
 * not answer with a bounded first frame.
 *
 * Paced, not flat out: one tenant's requests share RL_PRO (6,000 a minute), and a fixed rate makes
 * the before/during latencies comparable.
 *
 * Env: BENCH_SYNC_CHANGES (200000), BENCH_SYNC_ENTITIES (1000), BENCH_SYNC_SOCKETS (5),
 * BENCH_CONNECTIONS (4), BENCH_SYNC_WRITE_RATE (40), BENCH_DURATION (10 s per phase).
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import WebSocket from 'ws';
import { signupTenant } from './lib/tenants.mjs';
import { applyMigrations, buildWorker, OURS, ROOT, readMigrations, startWorkers } from './lib/workers.mjs';

const CHANGES = Number(process.env.BENCH_SYNC_CHANGES ?? 200_000);
const ENTITIES = Number(process.env.BENCH_SYNC_ENTITIES ?? 1_000);
const SOCKETS = Number(process.env.BENCH_SYNC_SOCKETS ?? 5);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 4);
const WRITE_RATE = Number(process.env.BENCH_SYNC_WRITE_RATE ?? 40);
const RECONNECT_MS = 200;
const DURATION_MS = Number(process.env.BENCH_DURATION ?? 10) * 1000;
/** Changes per seeding call: one hub transaction each. */
const SEED_CHUNK = 20_000;
const HANDSHAKE_TIMEOUT_MS = 60_000;

const pct = (sorted, p) => (sorted.length === 0 ? null : sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]);
const sleep = (ms) => new Promise((r) => setTimeout(r, Math.max(0, ms)));
const stats = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return { n: s.length, p50: pct(s, 50), p99: pct(s, 99), max: s.at(-1) ?? null };
};

/** Writers POST /v1/tasks at WRITE_RATE in all until `isDone()`; returns each write's latency (ms) and the failures. */
function writeLoad(url, token, isDone) {
  const latencies = [];
  let errors = 0;
  let i = 0;
  const run = Promise.all(
    Array.from({ length: CONNECTIONS }, async () => {
      const interval = (1000 * CONNECTIONS) / WRITE_RATE;
      while (!isDone()) {
        const started = performance.now();
        const res = await fetch(`${url}/v1/tasks`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
          body: JSON.stringify({ title: `bench write ${i++}` }),
        });
        await res.arrayBuffer();
        if (res.status === 201) latencies.push(performance.now() - started);
        else errors += 1;
        await sleep(started + interval - performance.now());
      }
    }),
  );
  return run.then(() => ({ latencies, errors }));
}

/** One handshake at since=0: time to the first frame, its type and size; the socket is closed after. */
function handshake(url, token) {
  return new Promise((resolve) => {
    const started = performance.now();
    const ws = new WebSocket(`${url.replace(/^http/, 'ws')}/v1/sync/ws?since=0`, {
      perMessageDeflate: false,
      headers: { authorization: `Bearer ${token}` },
    });
    const timer = setTimeout(() => (ws.terminate(), resolve({ ms: null, type: 'timeout', bytes: 0 })), HANDSHAKE_TIMEOUT_MS);
    ws.once('message', (data) => {
      clearTimeout(timer);
      const ms = performance.now() - started;
      const text = String(data);
      ws.close();
      resolve({ ms, type: JSON.parse(text).type, bytes: text.length });
    });
    ws.once('error', () => (clearTimeout(timer), resolve({ ms: null, type: 'error', bytes: 0 })));
  });
}

async function main() {
  const build = await buildWorker();
  const { mf, oursUrl } = await startWorkers({ entry: build.entry });
  try {
    const db = await mf.getD1Database('DB', OURS);
    await applyMigrations(db, await readMigrations());
    const url = oursUrl.origin;
    const ours = { db, fetch: (p, init) => fetch(new URL(p, url), init) };
    const tenant = await signupTenant(ours, { label: 'sync' });

    const hubs = await mf.getDurableObjectNamespace('TENANT_HUB', OURS);
    const hub = hubs.get(hubs.idFromName(tenant.tenantId));
    const seedStarted = performance.now();
    let version = 0;
    for (let done = 0; done < CHANGES; done += SEED_CHUNK)
      version = await hub.seedHistoryForBench(tenant.tenantId, {
        changes: Math.min(SEED_CHUNK, CHANGES - done),
        entities: ENTITIES,
        ageMs: 0,
      });
    const seedMs = performance.now() - seedStarted;
    console.log(
      `bench:sync: ${CHANGES} changes over ${ENTITIES} tasks seeded in ${(seedMs / 1000).toFixed(1)} s (log at version ${version})`,
    );

    // before: writes alone
    let stop = false;
    const beforeTimer = setTimeout(() => (stop = true), DURATION_MS);
    const before = await writeLoad(url, tenant.accessToken, () => stop);
    clearTimeout(beforeTimer);

    // during: writes while SOCKETS clients reconnect at since=0 in a loop
    stop = false;
    const handshakes = [];
    const duringTimer = setTimeout(() => (stop = true), DURATION_MS);
    const sockets = Promise.all(
      Array.from({ length: SOCKETS }, async () => {
        while (!stop) {
          const started = performance.now();
          handshakes.push(await handshake(url, tenant.accessToken));
          await sleep(started + RECONNECT_MS - performance.now());
        }
      }),
    );
    const during = await writeLoad(url, tenant.accessToken, () => stop);
    await sockets;
    clearTimeout(duringTimer);

    const hs = stats(handshakes.filter((h) => h.ms !== null).map((h) => h.ms));
    const frames = {};
    for (const h of handshakes) frames[h.type] = (frames[h.type] ?? 0) + 1;
    const maxFirstFrame = Math.max(0, ...handshakes.map((h) => h.bytes));
    const result = {
      at: new Date().toISOString(),
      changes: CHANGES,
      entities: ENTITIES,
      sockets: SOCKETS,
      connections: CONNECTIONS,
      writeRate: WRITE_RATE,
      durationS: DURATION_MS / 1000,
      seedMs,
      handshake: { ...hs, firstFrames: frames, maxFirstFrameBytes: maxFirstFrame },
      writes: {
        before: { ...stats(before.latencies), errors: before.errors, perSec: before.latencies.length / (DURATION_MS / 1000) },
        during: { ...stats(during.latencies), errors: during.errors, perSec: during.latencies.length / (DURATION_MS / 1000) },
      },
      note: 'handshake = upgrade request to first frame at since=0; writes = POST /v1/tasks latency at BENCH_CONNECTIONS concurrent writers',
    };

    const f = (v) => (v === null || v === undefined ? '-' : v.toFixed(1));
    const { before: b, during: d } = result.writes;
    console.log(`\nsync catch-up with ${CHANGES} changes in the log, ${SOCKETS} sockets reconnecting at since=0:`);
    console.log('                              before      during');
    console.log(`  task write p50 (ms)     ${f(b.p50).padStart(10)}  ${f(d.p50).padStart(10)}`);
    console.log(`  task write p99 (ms)     ${f(b.p99).padStart(10)}  ${f(d.p99).padStart(10)}`);
    console.log(`  task writes/s           ${f(b.perSec).padStart(10)}  ${f(d.perSec).padStart(10)}`);
    console.log(`  write errors            ${String(b.errors).padStart(10)}  ${String(d.errors).padStart(10)}`);
    console.log(
      `  handshake p50 / p99 (ms)${'-'.padStart(10)}  ${`${f(hs.p50)} / ${f(hs.p99)}`.padStart(10)}   (${hs.n} handshakes, max ${f(hs.max)} ms)`,
    );
    console.log(`  first frames: ${JSON.stringify(frames)}, largest ${maxFirstFrame} bytes\n`);

    const dir = path.join(ROOT, 'bench-results');
    await mkdir(dir, { recursive: true });
    await writeFile(path.join(dir, `sync-catchup-${result.at.replace(/[:.]/g, '-')}.json`), `${JSON.stringify(result, null, 2)}\n`);
    const bounded = handshakes.length > 0 && handshakes.every((h) => h.type === 'resync' || h.type === 'synced') && maxFirstFrame < 4096;
    return b.errors === 0 && d.errors === 0 && bounded ? 0 : 1;
  } finally {
    await mf.dispose();
    await build.cleanup();
  }
}

main().then(
  (code) => process.exit(code),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
