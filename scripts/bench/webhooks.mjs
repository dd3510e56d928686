#!/usr/bin/env node
import { mkdir, readdir, writeFile } from 'node:fs/promises';
/**
 * npm run bench:webhooks — events pipeline throughput and latency, commit to verified receipt.
 *
 * Builds the real Worker (wrangler deploy --dry-run), runs it on workerd through Miniflare
 * with the EVENTS queue and its consumer exactly as wrangler.toml declares them, and points a
 * webhook at a local receiver (127.0.0.1) that verifies every delivery with the official
 * `standardwebhooks` library. Then it commits BENCH_EVENTS tasks (POST /v1/tasks, BENCH_CONNECTIONS
 * at a time) and measures, per event, the time from the commit's response to the verified
 * receipt: the whole path TenantHub transaction → outbox → publish → queue → consumer → D1 delivery
 * row → signed POST.
 *
 * Prints events/s (events ÷ time from the first commit to the last receipt) and delivery latency
 * p50/p99, and writes bench-results/webhooks-<timestamp>.json. Exits 1 if an event was lost,
 * delivered twice or failed verification.
 *
 * Env: BENCH_EVENTS (default 1000), BENCH_CONNECTIONS (default 16), BENCH_TIMEOUT_S (default 120),
 *      BENCH_WEBHOOK_ORDERING (the endpoint's `ordering`, `sequence` (default) or `none`).
 * One by one: BENCH_EVENTS=50 BENCH_CONNECTIONS=1.
 */
import { createServer } from 'node:http';
import path from 'node:path';
import { convertV4MiniflareOptions, Miniflare } from 'miniflare';
import { Webhook } from 'standardwebhooks';
import { unstable_getMiniflareWorkerOptions, unstable_readConfig } from 'wrangler';
import { generateSigningKeys } from '../keys.mjs';
import { applyMigrations, buildWorker, ROOT, readMigrations, STATE_NOTE, TEST_VARS } from './lib/workers.mjs';

const EVENTS = Number(process.env.BENCH_EVENTS ?? 1000);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 16);
const TIMEOUT_MS = Number(process.env.BENCH_TIMEOUT_S ?? 120) * 1000;

const pct = (sorted, p) => (sorted.length === 0 ? null : sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]);

/** The receiver: verifies with standardwebhooks, records the receipt time per task id. */
async function startReceiver() {
  const state = { secret: null, receipts: new Map(), duplicates: 0, unverified: 0 };
  const server = createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const at = performance.now();
      const body = Buffer.concat(chunks).toString('utf8');
      try {
        const payload = new Webhook(state.secret).verify(body, req.headers);
        const id = payload.data?.task?.id;
        if (state.receipts.has(id)) state.duplicates += 1;
        else state.receipts.set(id, at);
        res.writeHead(204).end();
      } catch {
        state.unverified += 1;
        res.writeHead(400).end();
      }
    });
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return { state, url: `http://127.0.0.1:${server.address().port}`, close: () => new Promise((r) => server.close(r)) };
}

const MODULE_TYPES = { '.js': 'ESModule', '.mjs': 'ESModule', '.cjs': 'CommonJS', '.wasm': 'CompiledWasm', '.txt': 'Text', '.bin': 'Data' };

/** The bundle's entry first, then every module wrangler wrote beside it (e.g. argon2's .wasm). */
async function bundleModules(entry) {
  const dir = path.dirname(entry);
  const files = (await readdir(dir, { recursive: true, withFileTypes: true }))
    .filter((d) => d.isFile())
    .map((d) => path.join(d.parentPath, d.name))
    .filter((f) => f !== entry && MODULE_TYPES[path.extname(f)] !== undefined)
    .sort();
  // A two-line entry in front of the bundle drops info/debug console output inside the isolate (as
  // run.mjs does): per-request JSON logs would otherwise cross a pipe into this process.
  const silencer = {
    type: 'ESModule',
    path: path.join(dir, '__bench_entry.mjs'),
    contents: `const noop = () => {};\nconsole.log = noop; console.info = noop; console.debug = noop;\nexport * from './${path.basename(entry)}';\nexport { default } from './${path.basename(entry)}';\n`,
  };
  return [silencer, ...[entry, ...files].map((f) => ({ type: MODULE_TYPES[path.extname(f)], path: f }))];
}

async function startWorker(entry) {
  const configPath = path.join(ROOT, 'wrangler.toml');
  const { workerOptions } = unstable_getMiniflareWorkerOptions(configPath, undefined, { overrides: { enableContainers: false } });
  const tomlVars = unstable_readConfig({ config: configPath }).vars ?? {};
  const { modulesRules: _rules, cronTriggers: _crons, rootPath: _root, ...ours } = workerOptions;
  const options = convertV4MiniflareOptions({
    host: '127.0.0.1',
    port: 0,
    rootPath: ROOT,
    logRequests: false,
    handleStructuredLogs: ({ level, message }) => {
      if (level === 'error' || level === 'warn') process.stderr.write(`[worker ${level}] ${message}\n`);
    },
    workers: [
      {
        ...ours,
        name: 'edgecrew',
        modules: await bundleModules(entry),
        modulesRoot: path.dirname(entry),
        bindings: {
          ...tomlVars,
          ...TEST_VARS,
          JWT_PRIVATE_KEYS: JSON.stringify(await generateSigningKeys(1)),
          WEBHOOK_SECRET_KEY: 'bench-webhook-secret-key-0123456789abcdef0123456789abcdef',
        },
        unsafeDirectSockets: [{ host: '127.0.0.1', port: 0 }],
      },
    ],
  });
  const mf = new Miniflare(options);
  await mf.ready;
  return { mf, url: (await mf.unsafeGetDirectURL('edgecrew')).origin };
}

async function main() {
  const build = await buildWorker();
  const receiver = await startReceiver();
  const { mf, url } = await startWorker(build.entry);
  const watchdog = setTimeout(() => {
    console.error(`bench:webhooks: watchdog fired after ${TIMEOUT_MS + 60_000} ms`);
    process.exit(2);
  }, TIMEOUT_MS + 60_000);
  try {
    await applyMigrations(await mf.getD1Database('DB'), await readMigrations());
    const post = (p, body, token) =>
      fetch(url + p, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
        body: JSON.stringify(body),
      });
    const signup = await post('/v1/auth/signup', {
      email: `bench-${Date.now()}@example.com`,
      password: 'correct horse battery staple',
      name: 'Bench',
      tenantName: 'Bench',
    });
    if (signup.status !== 201) throw new Error(`signup: ${signup.status} ${await signup.text()}`);
    const { accessToken, tenant } = await signup.json();
    // The pro plan's rate limit (6,000/min) so the limiter does not cap the run.
    await (await mf.getD1Database('DB')).prepare(`UPDATE tenants SET plan = 'pro' WHERE id = ?`).bind(tenant.id).run();
    const hook = await post(
      '/v1/webhooks',
      {
        url: `${receiver.url}/hooks/bench`,
        eventTypes: [process.env.BENCH_FILTER ?? 'task.created'],
        // BENCH_WEBHOOK_ORDERING=none: the endpoint takes its first attempts concurrently (docs/api.md).
        ...(process.env.BENCH_WEBHOOK_ORDERING ? { ordering: process.env.BENCH_WEBHOOK_ORDERING } : {}),
      },
      accessToken,
    );
    if (hook.status !== 201) throw new Error(`webhook: ${hook.status} ${await hook.text()}`);
    receiver.state.secret = (await hook.json()).secret;

    const commits = new Map();
    let next = 0;
    let errors = 0;
    const started = performance.now();
    await Promise.all(
      Array.from({ length: CONNECTIONS }, async () => {
        while (next < EVENTS) {
          const i = next++;
          const res = await post('/v1/tasks', { title: `bench ${i}` }, accessToken);
          const at = performance.now();
          if (res.status !== 201) {
            errors += 1;
            await res.body?.cancel();
            continue;
          }
          commits.set((await res.json()).id, at);
        }
      }),
    );
    const committedIn = performance.now() - started;
    const deadline = Date.now() + TIMEOUT_MS;
    while (receiver.state.receipts.size < commits.size && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));

    const latencies = [...commits]
      .filter(([id]) => receiver.state.receipts.has(id))
      .map(([id, at]) => receiver.state.receipts.get(id) - at)
      .sort((a, b) => a - b);
    const lastReceipt = Math.max(...receiver.state.receipts.values());
    const result = {
      at: new Date().toISOString(),
      events: EVENTS,
      connections: CONNECTIONS,
      ordering: process.env.BENCH_WEBHOOK_ORDERING ?? 'sequence',
      storage: STATE_NOTE,
      committed: commits.size,
      commitErrors: errors,
      delivered: latencies.length,
      lost: commits.size - latencies.length,
      duplicates: receiver.state.duplicates,
      unverified: receiver.state.unverified,
      commitsPerSec: commits.size / (committedIn / 1000),
      eventsPerSec: latencies.length / ((lastReceipt - started) / 1000),
      latencyMs: { p50: pct(latencies, 50), p90: pct(latencies, 90), p99: pct(latencies, 99), max: latencies.at(-1) ?? null },
      note: 'commit = POST /v1/tasks response; receipt = signature verified by standardwebhooks at a local receiver; queue max_batch_timeout is 1 s (wrangler.toml)',
    };
    const f = (v) => (v === null ? '-' : v.toFixed(1));
    console.log(
      `\nwebhooks: ${result.delivered}/${result.committed} events delivered and verified (${result.lost} lost, ${result.duplicates} duplicates, ${result.unverified} unverified); run storage ${STATE_NOTE}`,
    );
    console.log(`  commits/s ${f(result.commitsPerSec)}   events/s (commit → verified receipt) ${f(result.eventsPerSec)}`);
    console.log(
      `  delivery latency p50 ${f(result.latencyMs.p50)} ms   p90 ${f(result.latencyMs.p90)} ms   p99 ${f(result.latencyMs.p99)} ms   max ${f(result.latencyMs.max)} ms\n`,
    );
    const dir = path.join(ROOT, 'bench-results');
    await mkdir(dir, { recursive: true });
    await writeFile(path.join(dir, `webhooks-${result.at.replace(/[:.]/g, '-')}.json`), `${JSON.stringify(result, null, 2)}\n`);
    return result.lost === 0 && result.duplicates === 0 && result.unverified === 0 && errors === 0 ? 0 : 1;
  } finally {
    clearTimeout(watchdog);
    await mf.dispose();
    await receiver.close();
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
