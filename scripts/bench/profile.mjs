#!/usr/bin/env node
/**
 * npm run bench:profile [-- --scenario "tasks create"] [-- --seconds 10] [-- --top 30]
 *
 * Where our Worker's CPU goes under one bench scenario's load: builds the Worker as `npm run bench`
 * does, starts it on workerd with V8's inspector open, runs the scenario's setup, then samples the
 * Worker's isolate (the Worker and its Durable Objects, which share it) with V8's CPU profiler while
 * autocannon drives the scenario's request at 16 connections.
 *
 * Prints self time by source file (from the bundle's source map: our modules and each package),
 * by function, and the inclusive time of our own functions; writes the raw profile to
 * bench-results/profile-<scenario>-<timestamp>.cpuprofile (open it in Chrome DevTools or speedscope).
 * Time outside our isolate (workerd's HTTP server, the local rate limiter's and D1's own services)
 * is not in the profile: compare `(idle)` with the load's req/s to see how busy the isolate was.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { SourceMap } from 'node:module';
import { createServer } from 'node:net';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { threadDelta, threadTimes } from './lib/cpu.mjs';
import { merge, runLoad, toRequest } from './lib/load.mjs';
import { buildWorker, migratedTargets, OURS, ROOT, startWorkers, TEST_VARS } from './lib/workers.mjs';
import { scenarios } from './scenarios.mjs';

const { values } = parseArgs({
  options: {
    scenario: { type: 'string', default: 'tasks create' },
    seconds: { type: 'string', default: '10' },
    top: { type: 'string', default: '30' },
    connections: { type: 'string', default: '16' },
    'cpu-only': { type: 'boolean', default: false },
    side: { type: 'string', default: 'ours' },
  },
});
const scenario = scenarios.find((s) => s.name === values.scenario);
if (!scenario) {
  console.error(`bench:profile: no scenario ${JSON.stringify(values.scenario)}; one of: ${scenarios.map((s) => s.name).join(', ')}`);
  process.exit(2);
}
const seconds = Number(values.seconds);
const top = Number(values.top);
const connections = Number(values.connections);
const log = (m) => process.stderr.write(`${m}\n`);

const port = await freePort();
log('bench:profile: building the Worker (wrangler deploy --dry-run)…');
const build = await buildWorker();
const { mf, oursUrl, baseUrl } = await startWorkers({ entry: build.entry, inspectorPort: port });
try {
  const { targets } = await migratedTargets(mf, { ours: oursUrl, base: baseUrl });
  const setup = scenario.setup ? await scenario.setup({ ...targets, pepper: TEST_VARS.TOKEN_PEPPER }) : {};
  const side = values.side === 'base' ? 'base' : 'ours';
  const r = toRequest(scenario[side], setup, targets[side].url);
  const req = { url: r.url, method: r.method, headers: r.headers, body: r.body, setupRequest: r.perRequest };
  log(`bench:profile: warming up ${req.method} ${r.path}`);
  await runLoad({ ...req, durationS: 2, connections });

  const cpuOnly = values['cpu-only'] || side === 'base';
  const inspector = cpuOnly ? null : await connectInspector(port, OURS);
  await inspector?.send('Profiler.enable');
  await inspector?.send('Profiler.setSamplingInterval', { interval: 200 });
  await inspector?.send('Profiler.start');
  log(`bench:profile: ${cpuOnly ? 'measuring' : 'profiling'} ${seconds}s of load at ${connections} connections`);
  const threads0 = threadTimes();
  const result = merge([await runLoad({ ...req, durationS: seconds, connections })]);
  const threads = threadDelta(threads0, threadTimes());
  const perReq = (ms) => `${((ms / Math.max(1, result.requests)) * 1000).toFixed(0)} µs`;
  console.log(
    `\n${scenario.name}: ${result.reqPerSec} req/s, p50 ${result.latencyMs.p50} ms, p99 ${result.latencyMs.p99} ms, ${result.requests} requests, ${result.errors} errors`,
  );
  if (cpuOnly) printThreads(threads, perReq);
  else {
    const { profile } = await inspector.send('Profiler.stop');
    inspector.close();

    const map = await readSourceMap(build.entry);
    const report = analyse(profile, map, build.entry);
    const out = path.join(ROOT, 'bench-results');
    await mkdir(out, { recursive: true });
    const file = path.join(
      out,
      `profile-${scenario.name.replace(/\W+/g, '-')}-${new Date().toISOString().replace(/[:.]/g, '-')}.cpuprofile`,
    );
    await writeFile(file, JSON.stringify(profile));

    const pct = (ms) => `${((ms / report.totalMs) * 100).toFixed(1)}%`;
    console.log(
      `isolate busy ${(report.totalMs - report.idleMs).toFixed(0)} of ${report.totalMs.toFixed(0)} ms sampled (${pct(report.totalMs - report.idleMs)}); per request ${perReq(report.totalMs - report.idleMs)} of isolate CPU\n`,
    );
    const table = (title, rows) => {
      console.log(title);
      for (const [name, ms] of rows.slice(0, top)) console.log(`  ${pct(ms).padStart(6)}  ${perReq(ms).padStart(9)}/req  ${name}`);
      console.log('');
    };
    table('self time by source file (bundle source map)', report.byFile);
    table('self time by function', report.byFunction);
    table('inclusive time, functions of src/ and durable-objects/', report.inclusiveOurs);
    printThreads(threads, perReq);
    console.log(`profile: ${path.relative(ROOT, file)}`);
  }
} finally {
  await mf.dispose().catch(() => {});
  await build.cleanup().catch(() => {});
}

// ---------------------------------------------------------------------------

function printThreads(threads, perReq) {
  if (threads.length === 0) return;
  console.log('CPU by thread during the load (all processes, /proc; CPU per request)');
  for (const t of threads.slice(0, 12))
    console.log(`  ${perReq(t.ms).padStart(9)}/req  ${t.ms.toFixed(0).padStart(6)} ms  ${t.process} / ${t.thread}`);
  const all = threads.reduce((sum, t) => sum + t.ms, 0);
  console.log(`  ${perReq(all).padStart(9)}/req  ${all.toFixed(0).padStart(6)} ms  all threads\n`);
}

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/** A Chrome DevTools Protocol session with our Worker's isolate (workerd names it `core:user:<worker>`). */
async function connectInspector(port, worker) {
  const targets = await (await fetch(`http://127.0.0.1:${port}/json`)).json();
  const target = targets.find((t) => String(t.webSocketDebuggerUrl ?? '').endsWith(`:${worker}`) || t.title?.includes(worker));
  if (!target) throw new Error(`no inspector target for ${worker}: ${JSON.stringify(targets.map((t) => t.title ?? t.id))}`);
  const ws = new WebSocket(target.webSocketDebuggerUrl);
  await new Promise((resolve, reject) => {
    ws.addEventListener('open', resolve, { once: true });
    ws.addEventListener('error', () => reject(new Error('inspector connection failed')), { once: true });
  });
  let next = 1;
  const pending = new Map();
  ws.addEventListener('message', (ev) => {
    const msg = JSON.parse(String(ev.data));
    const p = msg.id === undefined ? undefined : pending.get(msg.id);
    if (!p) return;
    pending.delete(msg.id);
    if (msg.error) p.reject(new Error(`${p.method}: ${msg.error.message}`));
    else p.resolve(msg.result);
  });
  return {
    send: (method, params = {}) =>
      new Promise((resolve, reject) => {
        const id = next++;
        pending.set(id, { resolve, reject, method });
        ws.send(JSON.stringify({ id, method, params }));
      }),
    close: () => ws.close(),
  };
}

async function readSourceMap(entry) {
  try {
    return new SourceMap(JSON.parse(await readFile(`${entry}.map`, 'utf8')));
  } catch {
    return null;
  }
}

/** Self time by original source file and by function, inclusive time of our own functions. */
function analyse(profile, map, entry) {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  // Self time per node from the samples and their time deltas (µs).
  const selfUs = new Map();
  for (let i = 0; i < profile.samples.length; i++) {
    const id = profile.samples[i];
    selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i + 1] ?? profile.timeDeltas[i] ?? 0));
  }
  const bundleName = path.basename(entry);
  const fileOf = (cf) => {
    if (!cf.url) return cf.functionName ? `(${cf.functionName})` : '(native)';
    if (!cf.url.endsWith(bundleName) || !map) return cf.url;
    const e = map.findEntry(cf.lineNumber, cf.columnNumber);
    const src = e?.originalSource ?? cf.url;
    return normaliseSource(src);
  };
  const nameOf = (cf) => `${cf.functionName || '(anonymous)'}  ${fileOf(cf)}`;
  const add = (m, k, v) => m.set(k, (m.get(k) ?? 0) + v);
  const byFile = new Map();
  const byFunction = new Map();
  let totalUs = 0;
  let idleUs = 0;
  for (const [id, us] of selfUs) {
    const cf = byId.get(id).callFrame;
    totalUs += us;
    if (cf.functionName === '(idle)') idleUs += us;
    if (cf.functionName === '(idle)' || cf.functionName === '(program)') {
      add(byFile, cf.functionName, us);
      add(byFunction, cf.functionName, us);
      continue;
    }
    add(byFile, packageOf(fileOf(cf)), us);
    add(byFunction, nameOf(cf), us);
  }
  // Inclusive time of our own functions: each sample counts once per distinct function on its stack.
  const inclusive = new Map();
  for (const [id, us] of selfUs) {
    const seen = new Set();
    for (let n = id; n !== undefined; n = parent.get(n)) {
      const cf = byId.get(n).callFrame;
      const f = fileOf(cf);
      if (!/^(src|durable-objects)\//.test(f)) continue;
      const k = nameOf(cf);
      if (seen.has(k)) continue;
      seen.add(k);
      add(inclusive, k, us);
    }
  }
  const sorted = (m) => [...m.entries()].map(([k, us]) => [k, us / 1000]).sort((a, b) => b[1] - a[1]);
  return {
    totalMs: totalUs / 1000,
    idleMs: idleUs / 1000,
    byFile: sorted(byFile),
    byFunction: sorted(byFunction),
    inclusiveOurs: sorted(inclusive),
  };
}

function normaliseSource(src) {
  const s = src.replace(/^webpack:\/\/|^file:\/\//, '');
  const i = s.lastIndexOf('node_modules/');
  if (i >= 0) return s.slice(i);
  const rel = path.relative(ROOT, path.resolve(path.dirname(build.entry), s));
  return rel.startsWith('..') ? s : rel;
}

/** node_modules/<pkg>/… → the package; our files stay as they are. */
function packageOf(file) {
  const m = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(file);
  return m ? `node_modules/${m[1]}` : file;
}
