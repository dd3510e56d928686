#!/usr/bin/env node
/**
 * npm run bench:tools — hello-tool invocation latency and throughput, through the API and
 * directly at the tool runner (the difference is the platform's overhead).
 *
 * Starts the real tool runner (containers/tool-runner/src/main.ts, the image's entrypoint) and the
 * real Worker bundle (wrangler deploy --dry-run) on workerd through Miniflare (lib/workers.mjs),
 * the Worker pointed at the runner with TOOL_RUNNER_URL. A tenant (plan pro: 6,000 requests a
 * minute) and an admin API key go straight into D1; the tools are registered through the API.
 *
 *   latency     BENCH_TOOL_REQUESTS sequential invocations per runtime and path (after 3 warm-ups):
 *               p50/p99 ms. API = POST /v1/tools/{id}/invoke (auth, validation, D1 reads, the
 *               signed runner call, the invocation row). Direct = a signed POST /v1/invocations.
 *   throughput  the JavaScript hello tool at concurrency BENCH_TOOL_CONCURRENCY (8) for
 *               BENCH_TOOL_DURATION seconds per path: invocations/s, p50/p99.
 *
 * Closed-loop clients rather than autocannon: every runner request needs a fresh signature (the
 * runner refuses replays). Writes bench-results/tools-<timestamp>.json. Exits 1 on any failure.
 *
 * Env: BENCH_TOOL_REQUESTS (default 40), BENCH_TOOL_DURATION (s, default 10), BENCH_TOOL_CONCURRENCY (default 8).
 */
import { createHmac, randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { startToolRunner } from '../../test/support/node/tool-runner.ts';
import { applyMigrations, buildWorker, ROOT, readMigrations, startWorkers, TEST_VARS } from './lib/workers.mjs';

const REQUESTS = Number(process.env.BENCH_TOOL_REQUESTS ?? 40);
const DURATION_S = Number(process.env.BENCH_TOOL_DURATION ?? 10);
const CONCURRENCY = Number(process.env.BENCH_TOOL_CONCURRENCY ?? 8);
const SECRET = randomBytes(32).toString('hex');
const log = (m) => process.stderr.write(`bench:tools: ${m}\n`);

const HELLO = {
  node: 'export function main(input) { return { greeting: `Hello, ${input.name}!` }; }',
  python3: 'def main(input):\n    return {"greeting": "Hello, " + input["name"] + "!"}\n',
};
const SCHEMA = { type: 'object', properties: { name: { type: 'string' } }, required: ['name'] };

const pct = (sorted, p) =>
  sorted.length === 0 ? null : Math.round(sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] * 10) / 10;
const stats = (ms) => {
  const s = [...ms].sort((a, b) => a - b);
  return {
    n: s.length,
    p50: pct(s, 50),
    p99: pct(s, 99),
    mean: s.length ? Math.round((s.reduce((a, b) => a + b, 0) / s.length) * 10) / 10 : null,
  };
};

/** One invocation through the API; resolves to the elapsed ms, throws on anything but an ok result. */
function viaApi(api, toolId) {
  return async () => {
    const t0 = performance.now();
    const res = await fetch(`${api.url}/v1/tools/${toolId}/invoke`, {
      method: 'POST',
      headers: api.headers,
      body: JSON.stringify({ input: { name: 'bench' } }),
    });
    const body = await res.json();
    if (res.status !== 200 || body.ok !== true) throw new Error(`API ${res.status}: ${JSON.stringify(body).slice(0, 300)}`);
    return performance.now() - t0;
  };
}

/** The same invocation signed and sent straight to the runner. */
function direct(runner, runtime) {
  let seq = 0;
  return async () => {
    const body = JSON.stringify({
      id: `bench-${++seq}`,
      runtime,
      code: HELLO[runtime],
      input: { name: 'bench' },
      timeoutMs: 10_000,
      memoryMb: 128,
      network: { mode: 'none' },
    });
    const ts = String(Date.now());
    const sig = createHmac('sha256', SECRET).update(`${ts}.POST./v1/invocations.`).update(body).digest('hex');
    const t0 = performance.now();
    const res = await fetch(`${runner.url}/v1/invocations`, {
      method: 'POST',
      body,
      headers: { 'content-type': 'application/json', 'x-edgecrew-timestamp': ts, 'x-edgecrew-signature': sig },
    });
    const out = await res.json();
    if (res.status !== 200 || out.ok !== true) throw new Error(`runner ${res.status}: ${JSON.stringify(out).slice(0, 300)}`);
    return performance.now() - t0;
  };
}

async function sequential(fn, n) {
  for (let i = 0; i < 3; i++) await fn();
  const ms = [];
  for (let i = 0; i < n; i++) ms.push(await fn());
  return stats(ms);
}

async function closedLoop(fn, concurrency, durationS) {
  const ms = [];
  let errors = 0;
  const end = performance.now() + durationS * 1000;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < end) {
        try {
          ms.push(await fn());
        } catch (err) {
          if (errors++ === 0) log(`first error: ${err.message}`);
        }
      }
    }),
  );
  const elapsedS = (performance.now() - started) / 1000;
  return { perSecond: Math.round((ms.length / elapsedS) * 10) / 10, errors, ...stats(ms) };
}

async function seedTenant(db, pepper) {
  const tenantId = `tnt_benchtools${randomBytes(4).toString('hex')}`;
  const key = `ek_live_${randomBytes(32).toString('base64url')}`;
  const hash = createHmac('sha256', pepper).update(key).digest('hex');
  await db.batch([
    db.prepare(`INSERT INTO tenants (id, name, plan) VALUES (?, 'bench tools', 'pro')`).bind(tenantId),
    db
      .prepare(
        `INSERT INTO api_keys (id, tenant_id, name, role, prefix, key_hash, created_by) VALUES (?, ?, 'bench', 'admin', ?, ?, 'bench')`,
      )
      .bind(`key_${tenantId.slice(4)}`, tenantId, key.slice(0, 12), hash),
  ]);
  return { authorization: `Bearer ${key}`, 'content-type': 'application/json' };
}

async function main() {
  log(`starting the tool runner and building the Worker…`);
  const runner = await startToolRunner({ secret: SECRET, env: { TOOL_RUNNER_CONCURRENCY: String(Math.max(CONCURRENCY, 4)) } });
  const build = await buildWorker();
  // lib/workers.mjs binds wrangler.toml's [vars] plus TEST_VARS; the runner's address and secret join them for this run.
  Object.assign(TEST_VARS, { TOOL_RUNNER_URL: runner.url, TOOL_RUNNER_SECRET: SECRET });
  const { mf, oursUrl } = await startWorkers({ entry: build.entry });
  try {
    const db = await mf.getD1Database('DB', 'edgecrew');
    await applyMigrations(db, await readMigrations());
    const api = { url: String(oursUrl).replace(/\/$/, ''), headers: await seedTenant(db, TEST_VARS.TOKEN_PEPPER) };
    const tools = {};
    for (const runtime of ['node', 'python3']) {
      const res = await fetch(`${api.url}/v1/tools`, {
        method: 'POST',
        headers: api.headers,
        body: JSON.stringify({ name: `bench-hello-${runtime}`, runtime, code: HELLO[runtime], inputSchema: SCHEMA }),
      });
      if (res.status !== 201) throw new Error(`creating the ${runtime} tool: ${res.status} ${await res.text()}`);
      tools[runtime] = (await res.json()).id;
    }
    const latency = {};
    for (const runtime of ['node', 'python3']) {
      log(`latency, ${runtime}: ${REQUESTS} sequential invocations per path`);
      latency[runtime] = {
        api: await sequential(viaApi(api, tools[runtime]), REQUESTS),
        direct: await sequential(direct(runner, runtime), REQUESTS),
      };
      latency[runtime].overheadP50Ms = Math.round((latency[runtime].api.p50 - latency[runtime].direct.p50) * 10) / 10;
    }
    log(`throughput, node: concurrency ${CONCURRENCY} for ${DURATION_S}s per path`);
    const throughput = {
      api: await closedLoop(viaApi(api, tools.node), CONCURRENCY, DURATION_S),
      direct: await closedLoop(direct(runner, 'node'), CONCURRENCY, DURATION_S),
    };

    const row = (name, s) =>
      `${name.padEnd(28)} ${String(s.p50).padStart(8)} ${String(s.p99).padStart(8)}${s.perSecond !== undefined ? String(s.perSecond).padStart(10) : ''}`;
    console.log(`\n${'hello tool'.padEnd(28)} ${'p50 ms'.padStart(8)} ${'p99 ms'.padStart(8)}`);
    for (const runtime of ['node', 'python3']) {
      console.log(row(`${runtime} via API`, latency[runtime].api));
      console.log(row(`${runtime} direct to runner`, latency[runtime].direct));
    }
    console.log(
      `\n${`concurrency ${CONCURRENCY}, node`.padEnd(28)} ${'p50 ms'.padStart(8)} ${'p99 ms'.padStart(8)} ${'inv/s'.padStart(9)}`,
    );
    console.log(row('via API', throughput.api));
    console.log(row('direct to runner', throughput.direct));

    const report = {
      startedAt: new Date().toISOString(),
      machine: { cpus: os.cpus().length, node: process.version },
      config: { REQUESTS, DURATION_S, CONCURRENCY },
      latency,
      throughput,
    };
    const outDir = path.join(ROOT, 'bench-results');
    await mkdir(outDir, { recursive: true });
    const file = path.join(outDir, `tools-${report.startedAt.replace(/[:.]/g, '-')}.json`);
    await writeFile(file, `${JSON.stringify(report, null, 2)}\n`);
    console.log(`\nwrote ${path.relative(ROOT, file)}`);
    return throughput.api.errors + throughput.direct.errors > 0 ? 1 : 0;
  } finally {
    await mf.dispose().catch(() => {});
    await build.cleanup().catch(() => {});
    await runner.stop();
  }
}

main().then(
  (code) => process.exit(code),
  (err) => {
    console.error(`bench:tools: ${err.stack ?? err}`);
    process.exit(1);
  },
);
