/**
 * V8 CPU profiles of our Worker's isolate under load: the inspector session, the analysis by source
 * file (through the bundle's source map), by function and inclusive, and the printed tables. Used by
 * `npm run bench:profile` (one scenario) and `LOAD_PROFILE=1 npm run load` (the load test's mix).
 */
import { readFile } from 'node:fs/promises';
import { SourceMap } from 'node:module';
import { createServer } from 'node:net';
import path from 'node:path';
import { ROOT } from './workers.mjs';

export function printThreads(threads, perReq) {
  if (threads.length === 0) return;
  console.log('CPU by thread during the load (all processes, /proc; CPU per request)');
  for (const t of threads.slice(0, 12))
    console.log(`  ${perReq(t.ms).padStart(9)}/req  ${t.ms.toFixed(0).padStart(6)} ms  ${t.process} / ${t.thread}`);
  const all = threads.reduce((sum, t) => sum + t.ms, 0);
  console.log(`  ${perReq(all).padStart(9)}/req  ${all.toFixed(0).padStart(6)} ms  all threads\n`);
}

export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/** The inspector target of a Worker's own isolate (its objects share it); its assets and queues have others. */
export const userIsolate = (worker) => `core:user:${worker}`;

/**
 * A Chrome DevTools Protocol session with one of workerd's isolates, named exactly as workerd lists it
 * (`userIsolate(name)` for a Worker, e.g. `workflows:<name>` for a Workflows engine).
 */
export async function connectInspector(port, isolate) {
  const targets = await (await fetch(`http://127.0.0.1:${port}/json`)).json();
  const target = targets.find((t) => String(t.webSocketDebuggerUrl ?? '').endsWith(`/${isolate}`));
  if (!target) throw new Error(`no inspector target ${isolate}: ${JSON.stringify(targets.map((t) => t.title ?? t.id))}`);
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

export async function readSourceMap(entry) {
  try {
    return new SourceMap(JSON.parse(await readFile(`${entry}.map`, 'utf8')));
  } catch {
    return null;
  }
}

/** Self time by original source file and by function, inclusive time of our own functions. */
export function analyse(profile, map, entry) {
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
    return normaliseSource(src, entry);
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
  // The runtime's own calls (a Durable Object's `exec`, `transactionSync`, `setAlarm`, `fetch` for RPC…)
  // have no source, so the tables above cannot say whose they are: charge each to the nearest named
  // function of ours on its stack (e.g. the SQLite time of creating a run's schema to migrateDoStorage).
  const SKIP = new Set(['(idle)', '(program)', '(garbage collector)', '(root)']);
  const runtimeByCaller = new Map();
  for (const [id, us] of selfUs) {
    const cf = byId.get(id).callFrame;
    if (cf.url || SKIP.has(cf.functionName)) continue;
    let caller = 'no function of ours on the stack';
    for (let n = parent.get(id); n !== undefined; n = parent.get(n)) {
      const pcf = byId.get(n).callFrame;
      const f = fileOf(pcf);
      if (pcf.functionName && /^(src|durable-objects)\//.test(f)) {
        caller = `${pcf.functionName}  ${f}`;
        break;
      }
    }
    add(runtimeByCaller, `${cf.functionName ? `(${cf.functionName})` : '(native)'} < ${caller}`, us);
  }
  const sorted = (m) => [...m.entries()].map(([k, us]) => [k, us / 1000]).sort((a, b) => b[1] - a[1]);
  return {
    runtimeByCaller: sorted(runtimeByCaller),
    totalMs: totalUs / 1000,
    idleMs: idleUs / 1000,
    byFile: sorted(byFile),
    byFunction: sorted(byFunction),
    inclusiveOurs: sorted(inclusive),
  };
}

function normaliseSource(src, entry) {
  const s = src.replace(/^webpack:\/\/|^file:\/\//, '');
  const i = s.lastIndexOf('node_modules/');
  if (i >= 0) return s.slice(i);
  const rel = path.relative(ROOT, path.resolve(path.dirname(entry), s));
  return rel.startsWith('..') ? s : rel;
}

/** node_modules/<pkg>/… → the package; our files stay as they are. */
function packageOf(file) {
  const m = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(file);
  return m ? `node_modules/${m[1]}` : file;
}

/**
 * Prints a profile's tables (self time by file, by function, inclusive time of our functions, runtime
 * calls by their caller) with each figure per unit of work (`per(ms)`: e.g. µs per request).
 */
export function printProfile(report, { per, top = 30, print = console.log }) {
  const pct = (ms) => `${((ms / report.totalMs) * 100).toFixed(1)}%`;
  const table = (title, rows) => {
    print(title);
    for (const [name, ms] of rows.slice(0, top)) print(`  ${pct(ms).padStart(6)}  ${per(ms).padStart(9)}  ${name}`);
    print('');
  };
  table('self time by source file (bundle source map)', report.byFile);
  table('self time by function', report.byFunction);
  table('inclusive time, functions of src/ and durable-objects/', report.inclusiveOurs);
  table('runtime calls (storage, RPC, timers) by the nearest named function of ours', report.runtimeByCaller);
}

/** Starts V8's sampling profiler on an inspector session (200 µs interval). */
export async function startProfiler(inspector) {
  await inspector.send('Profiler.enable');
  await inspector.send('Profiler.setSamplingInterval', { interval: 200 });
  await inspector.send('Profiler.start');
}
