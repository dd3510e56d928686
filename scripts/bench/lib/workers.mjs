/**
 * Builds the real Worker bundle (wrangler deploy --dry-run) and starts it, plus the
 * bare baseline Worker, on workerd through Miniflare directly (no wrangler dev proxy).
 */
import { accessSync, constants, rmSync, statfsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { compileModuleRules, convertV4MiniflareOptions, Miniflare, testRegExps } from 'miniflare';
import { unstable_getMiniflareWorkerOptions, unstable_readConfig } from 'wrangler';
import { ensureConsoleBuilt } from '../../console-build.mjs';
import { generateSigningKeys } from '../../keys.mjs';
import { buildBundle } from '../../lib/tools.mjs';

export const BENCH_DIR = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
export const ROOT = path.resolve(BENCH_DIR, '..', '..');
export const OURS = 'edgecrew';
export const BASE = 'baseline';
export const TEST_VARS = {
  ENVIRONMENT: 'test',
  TOKEN_PEPPER: 'bench-pepper-0123456789abcdef0123456789abcdef',
  // Webhook signing secrets are sealed at rest under it, as in production (src/events/secret-box.ts).
  WEBHOOK_SECRET_KEY: 'bench-webhook-secret-key-0123456789abcdef0123456789abcdef',
};

const BUILD_TIMEOUT_MS = 180_000;

/** statfs(2)'s f_type of a tmpfs (linux/magic.h TMPFS_MAGIC). */
const TMPFS_MAGIC = 0x01021994;

/**
 * Where the measured runs keep their storage. Miniflare puts a run's D1 databases, Durable Object
 * SQLite files, queue and rate limiter state under `os.tmpdir()` and removes them at the end. On
 * Linux that is moved to /dev/shm (tmpfs) unless TMPDIR is set or BENCH_STATE_ON_DISK=1: workerd
 * commits each SQLite transaction on its one thread, so on a virtual disk every commit's sync held
 * that thread idle (runs start: the thread was busy about 75 % of the load on disk, 100 % on tmpfs;
 * 52 → 86 req/s in the same hour, docs/performance-history.md). Both sides of every comparison share it.
 * Production Durable Objects and D1 do not sync to a local disk on the request path, so the disk's
 * waits are this machine's, not ours. Call before `new Miniflare` (it reads `os.tmpdir()` then).
 */
export const STATE_DIR = (() => {
  if (process.env.TMPDIR || process.env.BENCH_STATE_ON_DISK === '1' || process.platform !== 'linux') return tmpdir();
  try {
    if (statfsSync('/dev/shm').type !== TMPFS_MAGIC) return tmpdir();
    accessSync('/dev/shm', constants.W_OK);
  } catch {
    return tmpdir();
  }
  process.env.TMPDIR = '/dev/shm';
  return tmpdir();
})();

/** How the run's storage was kept, for the printed figures and their JSON. */
export const STATE_NOTE = STATE_DIR === '/dev/shm' ? 'tmpfs (/dev/shm)' : `${STATE_DIR} (BENCH_STATE_ON_DISK or TMPDIR, or no tmpfs)`;

/**
 * The baseline's modules besides baseline-worker.js: the same `argon2id` package (JS and
 * WASM, the WASM imported as a module as src/identity/passwords.ts does) for its bare hash.
 * Names are paths from the repository root, so the baseline imports them relatively.
 */
const BASELINE_EXTRA_MODULES = [
  { type: 'ESModule', path: 'node_modules/argon2id/lib/setup.js' },
  { type: 'ESModule', path: 'node_modules/argon2id/lib/argon2id.js' },
  { type: 'ESModule', path: 'node_modules/argon2id/lib/blake2b.js' },
  { type: 'CompiledWasm', path: 'node_modules/argon2id/dist/simd.wasm' },
  { type: 'CompiledWasm', path: 'node_modules/argon2id/dist/no-simd.wasm' },
];

/**
 * `wrangler deploy --dry-run --outdir <tmp>`: the exact ES-module bundle we would deploy (minified,
 * as wrangler.toml says). `minify: false` keeps our names, for a profile that reports functions.
 */
export async function buildWorker({ minify = true } = {}) {
  // wrangler.toml's [assets] directory must exist for the dry run: a fresh clone has no console/dist yet.
  await ensureConsoleBuilt();
  const outdir = await mkdtemp(path.join(tmpdir(), 'edgecrew-bench-'));
  // Also on abrupt exits (Ctrl-C is handled by Miniflare's exit hook, which may exit first).
  const removeSync = () => rmSync(outdir, { recursive: true, force: true });
  process.once('exit', removeSync);
  let entry;
  try {
    entry = await buildBundle({ outdir, minify, timeoutMs: BUILD_TIMEOUT_MS });
  } catch (err) {
    removeSync();
    throw Object.assign(err, { benchReport: 'message' });
  }
  const cleanup = async () => {
    process.removeListener('exit', removeSync);
    await rm(outdir, { recursive: true, force: true });
  };
  return { outdir, entry, cleanup };
}

/** Runs fn with wrangler's info logging off ("Using secrets defined in .dev.vars", …). */
function quietly(fn) {
  const before = process.env.WRANGLER_LOG;
  process.env.WRANGLER_LOG = 'error';
  try {
    return fn();
  } finally {
    if (before === undefined) delete process.env.WRANGLER_LOG;
    else process.env.WRANGLER_LOG = before;
  }
}

/** Reads migrations/*.sql (drizzle format) in order, split on `--> statement-breakpoint`. */
export async function readMigrations(dir = path.join(ROOT, 'migrations')) {
  const files = (await readdir(dir)).filter((f) => f.endsWith('.sql')).sort();
  const out = [];
  for (const file of files) {
    const text = await readFile(path.join(dir, file), 'utf8');
    const statements = text
      .split('--> statement-breakpoint')
      .map((s) => s.trim())
      .filter(Boolean);
    out.push({ file, statements });
  }
  return out;
}

export async function applyMigrations(d1, migrations) {
  for (const m of migrations) {
    if (m.statements.length > 0) await d1.batch(m.statements.map((s) => d1.prepare(s)));
  }
}

/** `{ ours, base }` bench targets on a started workerd: each Worker's URL, its migrated D1 and a fetch. */
export async function migratedTargets(mf, urls) {
  const migrations = await readMigrations();
  const targets = {};
  for (const [key, name] of [
    ['ours', OURS],
    ['base', BASE],
  ]) {
    const url = urls[key];
    const db = await mf.getD1Database('DB', name);
    await applyMigrations(db, migrations);
    targets[key] = { url: String(url), db, fetch: (p, init) => fetch(new URL(p, url), init) };
  }
  return { targets, migrations };
}

/**
 * Every module of the bundle (index.js first, then e.g. *.wasm the bundle imports),
 * typed with wrangler's module rules for this config plus the default JS rules.
 */
async function bundleModules(entry, wranglerRules) {
  const dir = path.dirname(entry);
  const rules = compileModuleRules([
    ...wranglerRules,
    { type: 'ESModule', include: ['**/*.js', '**/*.mjs'] },
    { type: 'CommonJS', include: ['**/*.cjs'] },
  ]);
  const files = (await readdir(dir, { recursive: true, withFileTypes: true }))
    .filter((d) => d.isFile())
    .map((d) => path.join(d.parentPath, d.name))
    .filter((f) => f !== entry && !f.endsWith('.map') && path.basename(f) !== 'README.md')
    .sort();
  const modules = [{ type: 'ESModule', path: entry }];
  for (const file of files) {
    const rel = path.relative(dir, file).split(path.sep).join('/');
    const rule = rules.find((r) => testRegExps(r.include, rel));
    if (rule === undefined) throw new Error(`bench: no module rule for bundle file ${rel}`);
    modules.push({ type: rule.type, path: file });
  }
  return modules;
}

/**
 * Starts one workerd (one Miniflare) holding both Workers, each on its own direct
 * loopback socket (bypassing Miniflare's entry worker, so nothing sits in front of
 * either Worker but workerd's HTTP server).
 */
export async function startWorkers({ entry, silenceConsole = true, onLog, extraWorkers = () => [], extraBindings = {}, inspectorPort }) {
  const { ours, base, directSocket, compat } = await benchWorkerOptions({ entry, silenceConsole, extraBindings });
  const mf = new Miniflare(miniflareOptions([ours, base, ...extraWorkers({ ...compat, directSocket })], onLog, inspectorPort));
  await mf.ready;
  const oursUrl = await mf.unsafeGetDirectURL(OURS);
  const baseUrl = await mf.unsafeGetDirectURL(BASE);
  return { mf, oursUrl, baseUrl };
}

function miniflareOptions(workers, onLog, inspectorPort) {
  // wrangler speaks Miniflare's v4 option shape; Miniflare 5 converts it.
  return convertV4MiniflareOptions({
    host: '127.0.0.1',
    port: 0,
    ...(inspectorPort === undefined ? {} : { inspectorPort }),
    rootPath: ROOT,
    logRequests: false,
    handleStructuredLogs: onLog ?? (() => {}),
    workers,
  });
}

/**
 * Start-up time, ours beside the bare baseline: a fresh workerd holding only that Worker, from
 * `new Miniflare` until its first `GET /health` answers (workerd start, module compile and
 * top-level evaluation, first request). `reps` times per side, alternating; medians in ms.
 * The difference (ours − base) is what our bundle adds to a cold start.
 */
export async function measureStartup({ entry, reps = 3 }) {
  const { ours, base } = await benchWorkerOptions({ entry, silenceConsole: true });
  const times = { ours: [], base: [] };
  for (let i = 0; i < reps; i++) {
    for (const [side, opts] of i % 2 === 0
      ? [
          ['ours', ours],
          ['base', base],
        ]
      : [
          ['base', base],
          ['ours', ours],
        ]) {
      const t0 = performance.now();
      const mf = new Miniflare(miniflareOptions([opts]));
      try {
        await mf.ready;
        const url = await mf.unsafeGetDirectURL(opts.name);
        const res = await fetch(new URL('/health', url), { signal: AbortSignal.timeout(30_000) });
        await res.arrayBuffer();
        times[side].push(performance.now() - t0);
      } finally {
        await mf.dispose().catch(() => {});
      }
    }
  }
  const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const oursMs = Math.round(median(times.ours));
  const baseMs = Math.round(median(times.base));
  return { reps, oursMs, baseMs, addedMs: oursMs - baseMs, ratio: Math.round((oursMs / baseMs) * 100) / 100 };
}

/** The bundle's modules (what `wrangler deploy` uploads), raw and gzip-compressed, in KiB. */
export async function bundleSize(entry) {
  const dir = path.dirname(entry);
  const files = (await readdir(dir, { recursive: true, withFileTypes: true }))
    .filter((d) => d.isFile() && !d.name.endsWith('.map') && d.name !== 'README.md' && !d.name.startsWith('__bench'))
    .map((d) => path.join(d.parentPath, d.name));
  let raw = 0;
  let gzip = 0;
  for (const f of files) {
    const bytes = await readFile(f);
    raw += bytes.length;
    gzip += gzipSync(bytes, { level: 9 }).length;
  }
  const kib = (n) => Math.round((n / 1024) * 10) / 10;
  return { modules: files.length, rawKiB: kib(raw), gzipKiB: kib(gzip) };
}

/** Miniflare worker options for ours and the bare baseline (what startWorkers and measureStartup start). */
async function benchWorkerOptions({ entry, silenceConsole, extraBindings = {} }) {
  const pkg = JSON.parse(await readFile(path.join(ROOT, 'package.json'), 'utf8'));
  const configPath = path.join(ROOT, 'wrangler.toml');
  const { workerOptions, tomlVars } = quietly(() => ({
    // No container runtime here (no Docker engine); the tool runner is not part of any scenario.
    workerOptions: unstable_getMiniflareWorkerOptions(configPath, '', { overrides: { enableContainers: false } }).workerOptions,
    tomlVars: unstable_readConfig({ config: configPath }).vars ?? {},
  }));
  // Miniflare 5 refuses `modulesRules`: bundleModules() applies them to the built files instead.
  // Crons must not fire in the middle of a measurement.
  const { modulesRules, cronTriggers: _crons, rootPath: _root, ...ours } = workerOptions;

  const directSocket = [{ host: '127.0.0.1', port: 0 }];
  // A fresh ES256 signing key per run (scripts/keys.mjs): sign-up, login and JWT-authenticated scenarios need one.
  const jwtPrivateKeys = JSON.stringify(await generateSigningKeys(1));
  const oursModules = [];
  if (silenceConsole) {
    // A tiny entry in front of the bundle that drops info/debug console output inside
    // the isolate: per-request JSON logs otherwise cross a pipe to this process (which
    // also runs the load generator) and skew the measurement. warn/error still reach us.
    oursModules.push({
      type: 'ESModule',
      path: path.join(path.dirname(entry), '__bench_entry.mjs'),
      contents:
        'const noop = () => {};\nconsole.log = noop; console.info = noop; console.debug = noop;\n' +
        `export * from './${path.basename(entry)}';\nexport { default } from './${path.basename(entry)}';\n`,
    });
  }
  oursModules.push(...(await bundleModules(entry, modulesRules ?? [])));

  const router = baselineAssetsRouter(ours.assets);
  return {
    directSocket,
    compat: { compatibilityDate: ours.compatibilityDate, compatibilityFlags: ours.compatibilityFlags, ...router },
    ours: {
      ...ours,
      name: OURS,
      modules: oursModules,
      modulesRoot: path.dirname(entry),
      // wrangler.toml [vars] + TEST_VARS only: a developer's .dev.vars must not change results.
      bindings: { ...tomlVars, ...TEST_VARS, JWT_PRIVATE_KEYS: jwtPrivateKeys, ...extraBindings },
      unsafeDirectSockets: directSocket,
    },
    base: {
      name: BASE,
      compatibilityDate: ours.compatibilityDate,
      compatibilityFlags: ours.compatibilityFlags,
      modules: [
        { type: 'ESModule', path: path.join(BENCH_DIR, 'baseline-worker.js') },
        ...BASELINE_EXTRA_MODULES.map((m) => ({ ...m, path: path.join(ROOT, m.path) })),
      ],
      modulesRoot: ROOT,
      bindings: { ENVIRONMENT: TEST_VARS.ENVIRONMENT, APP_NAME: pkg.name, APP_VERSION: pkg.version },
      d1Databases: { DB: 'bench-baseline-db' },
      durableObjects: { HUB: { className: 'BaselineHub', useSQLite: true } },
      // The "(limiter in both)" scenarios: a local rate limiter configured as our RL_PRO, in a namespace of
      // its own so the two sides never share a budget (baseline-worker.js `?rl=1`).
      ratelimits: { RL: { ...ours.ratelimits.RL_PRO, name: 'RL', namespace_id: '9002' } },
      unsafeDirectSockets: directSocket,
      ...router,
    },
  };
}

/**
 * The Static Assets router our Worker sits behind (wrangler.toml [assets]: the console, with
 * run_worker_first for the API paths), for a baseline Worker: the same directory, with every path
 * to the Worker first (run_worker_first = true: the baselines' own routes; the router then skips
 * matching ours' ten path rules, a few µs in the baseline's favour). Every request to ours passes
 * Cloudflare's router Worker first (two Worker hops; locally about 0.29 ms of CPU per request on
 * this workerd thread, docs/performance-history.md), so a baseline behind no router would count the
 * platform's routing as our pipeline's cost. BENCH_BASE_ASSETS=0 puts the baselines back in front
 * of no router (how that cost was measured).
 */
function baselineAssetsRouter(assets) {
  if (!assets || process.env.BENCH_BASE_ASSETS === '0') return {};
  const { routerConfig, ...rest } = assets;
  return {
    assets: { ...rest, run_worker_first: true, routerConfig: { has_user_worker: true, invoke_user_worker_ahead_of_assets: true } },
  };
}
