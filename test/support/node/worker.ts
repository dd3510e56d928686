/**
 * End-to-end harness: the real Worker, bundled exactly as `wrangler deploy`
 * bundles it, running on workerd through Miniflare and reached over real HTTP
 * and WebSockets on 127.0.0.1. Bindings come from wrangler.toml (through
 * wrangler's own converter), so they cannot drift from what we deploy.
 *
 * Not `wrangler dev`: its proxy costs ~70 ms p99 per request (design.md), and
 * these tests want the runtime, not the dev server.
 */
import { existsSync, rmSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  convertV4MiniflareOptions,
  Miniflare,
  type WebSocket as MiniflareWebSocket,
  fetch as miniflareFetch,
  type V4MiniflareOptions,
} from 'miniflare';
import { unstable_getMiniflareWorkerOptions, unstable_splitSqlQuery } from 'wrangler';
import { ensureConsoleBuilt } from '../../../scripts/console-build.mjs';
import { buildBundle } from '../../../scripts/lib/tools.mjs';
import { type TestWebSocket as SharedTestWebSocket, WebSocketUpgradeError, wrapSocket } from '../shared/websocket';
import { DEFAULT_TEST_SECRETS } from './secrets';

export { WebSocketUpgradeError };
/** A client WebSocket over real TCP (the shared client, test/support/shared/websocket.ts). */
export type TestWebSocket = SharedTestWebSocket<MiniflareWebSocket>;

/** Repository root (this file lives in test/support/node). */
export const PROJECT_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const CONFIG_PATH = path.join(PROJECT_ROOT, 'wrangler.toml');
const MIGRATIONS_DIR = path.join(PROJECT_ROOT, 'migrations');
/** Environment variable naming a prebuilt bundle directory (set by `setup()` for every test file). */
export const BUNDLE_DIR_ENV = 'EDGECREW_E2E_BUNDLE_DIR';
/** wrangler's default D1 migrations bookkeeping table, kept so the schema matches `wrangler d1 migrations apply`. */
const MIGRATIONS_TABLE = 'd1_migrations';

export interface StartWorkerOptions {
  /**
   * Vars and secrets layered over wrangler.toml's `[vars]`, `ENVIRONMENT=test`
   * and `DEFAULT_TEST_SECRETS`. A key set to `undefined` removes that binding
   * (e.g. to test a missing secret).
   */
  bindings?: Record<string, string | undefined>;
  /** wrangler.toml environment to take bindings from; default the top level (`''`). */
  environment?: string;
  /** Persist D1/DO/queue state in this directory (to restart over the same data); default ephemeral. */
  persistTo?: string;
  /** Apply migrations/*.sql to `DB` before returning; default true. */
  migrate?: boolean;
  /**
   * Which Worker log lines to echo to the test output: `'warnings'` (default:
   * everything except info/debug JSON lines), `'all'` or `'none'`. All are kept in `logs` either way.
   */
  echoLogs?: 'warnings' | 'all' | 'none';
  /**
   * Outbound hosts served by local servers: the Worker's `fetch` of `https://<host>/…` goes to
   * `<origin>/…` (e.g. `{ 'client.test': 'http://127.0.0.1:4321' }`), for an external service that
   * must be reached over https by name (an OAuth client's metadata document). Other hosts go out as usual.
   */
  outboundHosts?: Record<string, string>;
  /**
   * Serve wrangler's local trigger endpoints on the Worker's port, as `wrangler dev` does:
   * `POST /cdn-cgi/local/email?from=&to=` (raw MIME body) runs the `email()` handler,
   * `/cdn-cgi/local/scheduled` the cron one. Default false.
   */
  triggerHandlers?: boolean;
}

/** One console line from the Worker (workerd structured logs). */
export interface WorkerLogLine {
  level: string;
  message: string;
  timestamp: number;
}

export interface WebSocketOptions {
  headers?: Record<string, string>;
  protocols?: string[];
  /** Default timeout for `next()`; default 5 s. */
  timeoutMs?: number;
}

export interface RunningWorker {
  /** Origin the Worker listens on, e.g. `http://127.0.0.1:41234` (no trailing slash). */
  readonly url: string;
  /** The Miniflare instance: `getD1Database('DB')`, `getWorker().scheduled()`, DO namespaces, … */
  readonly mf: Miniflare;
  /** Everything the Worker has logged so far. */
  readonly logs: ReadonlyArray<WorkerLogLine>;
  /** Real HTTP request to `path` (relative to `url`) with Node's fetch. */
  fetch(path: string, init?: RequestInit): Promise<Response>;
  /** Opens a WebSocket to `path`; rejects with `WebSocketUpgradeError` when not upgraded. */
  ws(path: string, options?: WebSocketOptions): Promise<TestWebSocket>;
  /** Closes open sockets and stops workerd. Safe to call twice. */
  dispose(): Promise<void>;
}

// ---------------------------------------------------------------------------
// bundle: once per process, or once per test run when `setup()` ran first
// ---------------------------------------------------------------------------

let bundle: Promise<string> | undefined;

const MODULE_TYPES: Record<string, ModuleType> = {
  '.js': 'ESModule',
  '.mjs': 'ESModule',
  '.cjs': 'CommonJS',
  '.wasm': 'CompiledWasm',
  '.txt': 'Text',
  '.html': 'Text',
  '.bin': 'Data',
};
type ModuleType = 'ESModule' | 'CommonJS' | 'CompiledWasm' | 'Text' | 'Data';

/** Every module wrangler wrote next to the entry (e.g. `.wasm` imports), entry first, as Miniflare module specs. */
async function bundleModules(scriptPath: string): Promise<Array<{ type: ModuleType; path: string }>> {
  const root = path.dirname(scriptPath);
  const files = (await readdir(root, { recursive: true, withFileTypes: true }))
    .filter((e) => e.isFile())
    .map((e) => path.join(e.parentPath, e.name))
    .filter((f) => f !== scriptPath && MODULE_TYPES[path.extname(f)] !== undefined);
  return [scriptPath, ...files.sort()].map((f) => ({ type: MODULE_TYPES[path.extname(f)]!, path: f }));
}

/** The bundled Worker's entry script; built on first call and reused for the rest of the process. */
export function buildWorker(): Promise<string> {
  bundle ??= (async () => {
    const shared = process.env[BUNDLE_DIR_ENV];
    if (shared && existsSync(path.join(shared, 'index.js'))) return path.join(shared, 'index.js');
    await ensureConsoleBuilt();
    const outdir = await mkdtemp(path.join(tmpdir(), 'edgecrew-bundle-'));
    process.once('exit', () => rmSync(outdir, { recursive: true, force: true }));
    return buildBundle({ outdir });
  })();
  bundle.catch(() => (bundle = undefined));
  return bundle;
}

/**
 * vitest `globalSetup` hook: builds the bundle once for the whole run and hands
 * its directory to every test file's process through `EDGECREW_E2E_BUNDLE_DIR`.
 */
export async function setup(): Promise<() => Promise<void>> {
  // wrangler.toml's [assets] serves console/dist (the web console): build it first when its sources changed.
  await ensureConsoleBuilt();
  const outdir = await mkdtemp(path.join(tmpdir(), 'edgecrew-bundle-'));
  await buildBundle({ outdir });
  process.env[BUNDLE_DIR_ENV] = outdir;
  return async () => {
    delete process.env[BUNDLE_DIR_ENV];
    await rm(outdir, { recursive: true, force: true });
  };
}

// ---------------------------------------------------------------------------
// D1 migrations
// ---------------------------------------------------------------------------

/** Reads migrations/*.sql in name order, split into single statements. */
export async function readMigrations(dir = MIGRATIONS_DIR): Promise<Array<{ name: string; statements: string[] }>> {
  const names = (await readdir(dir)).filter((n) => n.endsWith('.sql')).sort();
  return Promise.all(
    names.map(async (name) => {
      const text = await readFile(path.join(dir, name), 'utf8');
      // drizzle-kit separates statements with `--> statement-breakpoint`; split each chunk again for hand-written files.
      const statements = text
        .split('--> statement-breakpoint')
        .flatMap((chunk) => unstable_splitSqlQuery(chunk))
        .map((s) => s.trim())
        .filter((s) => s.length > 0);
      return { name, statements };
    }),
  );
}

/** Applies every migration not yet recorded, each atomically in one D1 batch, the way wrangler records them. */
export async function applyMigrations(mf: Miniflare, binding = 'DB'): Promise<string[]> {
  const db = await mf.getD1Database(binding);
  await db
    .prepare(
      `CREATE TABLE IF NOT EXISTS ${MIGRATIONS_TABLE} (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT UNIQUE, applied_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP NOT NULL)`,
    )
    .run();
  const done = await db.prepare(`SELECT name FROM ${MIGRATIONS_TABLE}`).all<{ name: string }>();
  const applied = new Set(done.results.map((r: { name: string }) => r.name));
  const ran: string[] = [];
  for (const migration of await readMigrations()) {
    if (applied.has(migration.name)) continue;
    try {
      await db.batch([
        ...migration.statements.map((s) => db.prepare(s)),
        db.prepare(`INSERT INTO ${MIGRATIONS_TABLE} (name) VALUES (?)`).bind(migration.name),
      ]);
    } catch (err) {
      throw new Error(`migration ${migration.name} failed: ${(err as Error).message}`, { cause: err });
    }
    ran.push(migration.name);
  }
  return ran;
}

// ---------------------------------------------------------------------------
// the running Worker
// ---------------------------------------------------------------------------

function resolveBindings(base: Record<string, unknown>, overrides: Record<string, string | undefined>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base, ENVIRONMENT: 'test', ...DEFAULT_TEST_SECRETS };
  for (const [key, value] of Object.entries(overrides)) {
    if (value === undefined) delete out[key];
    else out[key] = value;
  }
  return out;
}

function echo(line: WorkerLogLine, mode: NonNullable<StartWorkerOptions['echoLogs']>): void {
  if (mode === 'none') return;
  // Request logs are JSON at info level; in 'warnings' mode only they are hidden (plain console lines still show).
  if (mode === 'warnings' && /"level":"(info|debug)"/.test(line.message)) return;
  (line.level === 'error' || line.level === 'warn' ? process.stderr : process.stdout).write(`[worker ${line.level}] ${line.message}\n`);
}

/** Miniflare's outbound service for `StartWorkerOptions.outboundHosts`. */
function outboundTo(hosts: Record<string, string>) {
  return async (request: Request): Promise<Response> => {
    const url = new URL(request.url);
    const target = hosts[url.hostname];
    const to = target ? new URL(`${url.pathname}${url.search}`, target) : url;
    const body = request.method === 'GET' || request.method === 'HEAD' ? undefined : await request.arrayBuffer();
    const res = await fetch(to, { method: request.method, headers: request.headers, body, redirect: 'manual' });
    return new Response(await res.arrayBuffer(), { status: res.status, headers: res.headers });
  };
}

/** Starts the bundled Worker on workerd with fresh storage; see `StartWorkerOptions`. */
export async function startWorker(options: StartWorkerOptions = {}): Promise<RunningWorker> {
  const scriptPath = await buildWorker();
  const fromConfig = unstable_getMiniflareWorkerOptions(CONFIG_PATH, options.environment ?? '', {
    overrides: { enableContainers: false },
  });
  const logs: WorkerLogLine[] = [];
  const echoMode = options.echoLogs ?? 'warnings';

  // Module rules describe the source tree; the bundle's modules are listed explicitly instead.
  const { modulesRules: _rules, ...workerOptions } = fromConfig.workerOptions;
  const v4: V4MiniflareOptions = {
    ...workerOptions,
    name: 'edgecrew',
    modules: await bundleModules(scriptPath),
    modulesRoot: path.dirname(scriptPath),
    bindings: resolveBindings(
      (workerOptions.bindings ?? {}) as Record<string, unknown>,
      options.bindings ?? {},
    ) as V4MiniflareOptions['bindings'],
    host: '127.0.0.1',
    port: 0,
    ...(options.outboundHosts ? { outboundService: outboundTo(options.outboundHosts) } : {}),
    ...(options.triggerHandlers ? { unsafeTriggerHandlers: true } : {}),
    handleStructuredLogs: (log) => {
      const line = { level: log.level, message: log.message, timestamp: log.timestamp };
      logs.push(line);
      echo(line, echoMode);
    },
  } as V4MiniflareOptions;
  const mfOptions = convertV4MiniflareOptions(v4);
  const mf = new Miniflare(options.persistTo ? { ...mfOptions, resourcePersistencePath: options.persistTo } : mfOptions);

  let ready: URL;
  try {
    ready = await mf.ready;
    if (options.migrate !== false) await applyMigrations(mf);
  } catch (err) {
    await mf.dispose().catch(() => undefined);
    throw err;
  }
  const url = ready.origin;
  const sockets = new Set<TestWebSocket>();
  let disposed: Promise<void> | undefined;

  return {
    url,
    mf,
    logs,
    fetch: (p, init) => fetch(new URL(p, url), init),
    async ws(p, wsOptions = {}) {
      const client = await connectWebSocket(new URL(p, url).href, wsOptions);
      sockets.add(client);
      void client.closed.then(() => sockets.delete(client));
      return client;
    },
    dispose() {
      disposed ??= (async () => {
        await Promise.allSettled([...sockets].map((s) => s.close(1001, 'harness disposed')));
        await mf.dispose();
      })();
      return disposed;
    },
  };
}

/** Opens a WebSocket to any http(s) URL (over real TCP) and accepts it; rejects with `WebSocketUpgradeError` when not upgraded. */
export async function connectWebSocket(url: string, options: WebSocketOptions = {}): Promise<TestWebSocket> {
  const headers: Record<string, string> = { ...options.headers, upgrade: 'websocket' };
  if (options.protocols?.length) headers['sec-websocket-protocol'] = options.protocols.join(', ');
  // Miniflare's fetch speaks the upgrade over TCP (via `ws`) and, unlike a WHATWG WebSocket, reports a refusal's status and body.
  const res = await miniflareFetch(url, { headers });
  const socket = res.webSocket;
  if (res.status !== 101 || !socket) throw new WebSocketUpgradeError(res.status, new Headers([...res.headers]), await res.text());
  return wrapSocket(socket, new Headers([...res.headers]), options.timeoutMs);
}
