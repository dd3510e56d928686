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
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { threadDelta, threadTimes } from './lib/cpu.mjs';
import { merge, runLoad, toRequest } from './lib/load.mjs';
import {
  analyse,
  connectInspector,
  freePort,
  printProfile,
  printThreads,
  readSourceMap,
  startProfiler,
  userIsolate,
} from './lib/profiler.mjs';
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
log('bench:profile: building the Worker (wrangler deploy --dry-run --minify=false)…');
// Not minified: the same code as deployed, with the function names the report lists.
const build = await buildWorker({ minify: false });
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
  const inspector = cpuOnly ? null : await connectInspector(port, userIsolate(OURS));
  if (inspector) await startProfiler(inspector);
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
    printProfile(report, { per: (ms) => `${perReq(ms)}/req`, top });
    printThreads(threads, perReq);
    console.log(`profile: ${path.relative(ROOT, file)}`);
  }
} finally {
  await mf.dispose().catch(() => {});
  await build.cleanup().catch(() => {});
}
