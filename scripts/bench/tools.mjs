#!/usr/bin/env node
/**
 * npm run bench:tools — hello-tool invocation latency and throughput in each sandbox mode side by
 * side (bubblewrap and WebAssembly, directly at the tool runner, with wasm/bwrap ratios), each
 * runtime's cold start (the first Python and the first JavaScript invocation after a runner
 * starts), and the API's overhead on top of the runner (the runner's own choice of mode).
 *
 * Starts the real tool runner (containers/tool-runner/src/main.ts, the image's entrypoint) and the
 * real Worker bundle (wrangler deploy --dry-run) on workerd through Miniflare (lib/workers.mjs),
 * the Worker pointed at the runner with TOOL_RUNNER_URL. A tenant (plan pro: 6,000 requests a
 * minute) and an admin API key go straight into D1; the tools are registered through the API.
 *
 *   modes       per mode the machine can run (bubblewrap is skipped, with the probe's reason, where
 *               it cannot): a fresh runner per runtime for the cold start (spawn → listening →
 *               first result), then one runner for BENCH_TOOL_REQUESTS sequential invocations per
 *               runtime (after 3 warm-ups; p50/p99 ms) and each runtime at concurrency
 *               BENCH_TOOL_CONCURRENCY (8) for BENCH_TOOL_DURATION seconds (invocations/s, p50/p99).
 *               All direct: a signed POST /v1/invocations. Ratios are wasm ÷ bwrap.
 *   API         BENCH_TOOL_REQUESTS sequential invocations per runtime through POST
 *               /v1/tools/{id}/invoke (auth, validation, D1 reads, the signed runner call, the
 *               invocation row) beside the same number direct: the platform's overhead.
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
import { sandboxModes, startToolRunner } from '../../test/support/node/tool-runner.ts';
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

/** A fresh runner in `mode`: ms to listening, then ms for its first `runtime` invocation (sent as soon as it listens). */
async function coldStart(mode, runtime) {
  const t0 = performance.now();
  const runner = await startToolRunner({ secret: SECRET, sandbox: mode, warm: false });
  const listeningMs = performance.now() - t0;
  try {
    const firstMs = await direct(runner, runtime)();
    return { listeningMs: Math.round(listeningMs), firstInvocationMs: Math.round(firstMs), totalMs: Math.round(performance.now() - t0) };
  } finally {
    await runner.stop();
  }
}

async function benchMode(mode) {
  const cold = {};
  for (const runtime of ['python3', 'node']) {
    log(`${mode}: cold start, ${runtime}`);
    cold[runtime] = await coldStart(mode, runtime);
  }
  const runner = await startToolRunner({
    secret: SECRET,
    sandbox: mode,
    env: { TOOL_RUNNER_CONCURRENCY: String(Math.max(CONCURRENCY, 4)) },
  });
  try {
    const latency = {};
    const throughput = {};
    for (const runtime of ['node', 'python3']) {
      log(`${mode}: latency, ${runtime}: ${REQUESTS} sequential invocations`);
      latency[runtime] = await sequential(direct(runner, runtime), REQUESTS);
      log(`${mode}: throughput, ${runtime}: concurrency ${CONCURRENCY} for ${DURATION_S}s`);
      throughput[runtime] = await closedLoop(direct(runner, runtime), CONCURRENCY, DURATION_S);
    }
    return { cold, latency, throughput };
  } finally {
    await runner.stop();
  }
}

const ratio = (a, b) => (a == null || b == null || b === 0 ? null : Math.round((a / b) * 100) / 100);

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
  const modes = sandboxModes();
  for (const m of modes) if (m.skip) log(`${m.mode}: skipped (${m.skip})`);
  const byMode = {};
  for (const { mode } of modes.filter((m) => !m.skip)) byMode[mode] = await benchMode(mode);
  const ratios = {};
  if (byMode.bwrap && byMode.wasm) {
    for (const runtime of ['node', 'python3']) {
      const [w, b] = [byMode.wasm, byMode.bwrap];
      ratios[runtime] = {
        latencyP50: ratio(w.latency[runtime].p50, b.latency[runtime].p50),
        latencyP99: ratio(w.latency[runtime].p99, b.latency[runtime].p99),
        throughputP50: ratio(w.throughput[runtime].p50, b.throughput[runtime].p50),
        perSecond: ratio(w.throughput[runtime].perSecond, b.throughput[runtime].perSecond),
        coldStart: ratio(w.cold[runtime].totalMs, b.cold[runtime].totalMs),
      };
    }
  }

  log('API overhead: starting a runner (its own choice of mode) and building the Worker…');
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
    const viaApiLatency = {};
    for (const runtime of ['node', 'python3']) {
      log(`API (${runner.sandbox}), ${runtime}: ${REQUESTS} sequential invocations per path`);
      viaApiLatency[runtime] = {
        api: await sequential(viaApi(api, tools[runtime]), REQUESTS),
        direct: await sequential(direct(runner, runtime), REQUESTS),
      };
      viaApiLatency[runtime].overheadP50Ms = Math.round((viaApiLatency[runtime].api.p50 - viaApiLatency[runtime].direct.p50) * 10) / 10;
    }

    const cell = (v, w = 9) => String(v ?? '-').padStart(w);
    const modeNames = Object.keys(byMode);
    console.log(`\nhello tool, direct to the runner (ms; inv/s at concurrency ${CONCURRENCY})`);
    console.log(
      `${'runtime'.padEnd(10)}${'mode'.padEnd(7)}${cell('p50')}${cell('p99')}${cell('c8 p50')}${cell('c8 p99')}${cell('inv/s')}${cell('cold ms', 10)}`,
    );
    for (const runtime of ['node', 'python3']) {
      for (const mode of modeNames) {
        const r = byMode[mode];
        console.log(
          `${runtime.padEnd(10)}${mode.padEnd(7)}${cell(r.latency[runtime].p50)}${cell(r.latency[runtime].p99)}${cell(r.throughput[runtime].p50)}${cell(r.throughput[runtime].p99)}${cell(r.throughput[runtime].perSecond)}${cell(r.cold[runtime].totalMs, 10)}`,
        );
      }
      if (ratios[runtime]) {
        const q = ratios[runtime];
        console.log(
          `${runtime.padEnd(10)}${'ratio'.padEnd(7)}${cell(q.latencyP50)}${cell(q.latencyP99)}${cell(q.throughputP50)}${cell('')}${cell(q.perSecond)}${cell(q.coldStart, 10)}`,
        );
      }
    }
    console.log('ratio = wasm ÷ bwrap; cold = a fresh runner: spawn → listening → first result of that runtime.');
    console.log(`\n${`via the API (${runner.sandbox})`.padEnd(28)} ${'p50 ms'.padStart(8)} ${'p99 ms'.padStart(8)}`);
    for (const runtime of ['node', 'python3']) {
      console.log(
        `${`${runtime} via API`.padEnd(28)} ${cell(viaApiLatency[runtime].api.p50, 8)} ${cell(viaApiLatency[runtime].api.p99, 8)}`,
      );
      console.log(
        `${`${runtime} direct to runner`.padEnd(28)} ${cell(viaApiLatency[runtime].direct.p50, 8)} ${cell(viaApiLatency[runtime].direct.p99, 8)}`,
      );
    }

    const report = {
      startedAt: new Date().toISOString(),
      machine: { cpus: os.cpus().length, node: process.version, loadavg: os.loadavg() },
      config: { REQUESTS, DURATION_S, CONCURRENCY },
      skipped: Object.fromEntries(modes.filter((m) => m.skip).map((m) => [m.mode, m.skip])),
      modes: byMode,
      ratios,
      api: { sandbox: runner.sandbox, latency: viaApiLatency },
    };
    const outDir = path.join(ROOT, 'bench-results');
    await mkdir(outDir, { recursive: true });
    const file = path.join(outDir, `tools-${report.startedAt.replace(/[:.]/g, '-')}.json`);
    await writeFile(file, `${JSON.stringify(report, null, 2)}\n`);
    console.log(`\nwrote ${path.relative(ROOT, file)}`);
    const errors = Object.values(byMode).flatMap((m) => Object.values(m.throughput).map((t) => t.errors));
    return errors.some((e) => e > 0) ? 1 : 0;
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
