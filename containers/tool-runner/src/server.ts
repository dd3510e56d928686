/**
 * The runner's HTTP surface:
 *   GET  /health          → 200 { status, sandbox, sandboxReason, active, capacity, tenantCapacity, tenantsActive, pool? }
 *                           (no secrets, no tenant ids; for readiness probes)
 *   POST /v1/invocations  → signed; runs one invocation, 200 with its typed result
 * Unsigned, stale, replayed or badly signed requests → 401. Over capacity → 503
 * `busy` with Retry-After; a tenant already running its share of the sandboxes
 * (`tenantConcurrency`) → 503 `tenant_busy` with Retry-After, so one tenant's
 * burst never takes every sandbox. Bodies over the limit → 413. Everything
 * else → 404/405.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { ReplayCache, verify } from './auth.ts';
import type { RunnerConfig, SandboxMode } from './config.ts';
import { type InvocationRequest, type InvocationResult, parseInvocation } from './protocol.ts';

/** One isolation mode: bubblewrap (sandbox.ts) or WebAssembly (wasm/supervisor.ts). */
export interface Isolation {
  mode: SandboxMode;
  run(req: InvocationRequest, running: Set<() => void>): Promise<InvocationResult>;
  /** Extra, non-secret facts for /health (the wasm pool's state). */
  health(): Record<string, unknown>;
  /** Stops whatever the mode keeps running between invocations. */
  close(): void;
}

export interface Runner {
  server: Server;
  /** Kills every running sandbox (shutdown). */
  killAll(): void;
  readonly active: () => number;
}

type Log = (msg: string, fields?: Record<string, unknown>) => void;

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
    ...headers,
  });
  res.end(text);
}

class TooLarge extends Error {}

/** How much of an oversized body is read and thrown away so the client, still sending, reads the 413. */
const DISCARD_MAX_BYTES = 16 * 1024 * 1024;
const DISCARD_MAX_MS = 5_000;

/**
 * Reads the body up to `max` bytes. Past it (declared or streamed) it rejects with TooLarge and
 * keeps the request flowing into the void: nothing more is buffered.
 */
function readBody(req: IncomingMessage, max: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > max) return reject(new TooLarge());
    const chunks: Buffer[] = [];
    let size = 0;
    let overflow = false;
    req.on('data', (chunk: Buffer) => {
      if (overflow) return;
      size += chunk.length;
      if (size > max) {
        overflow = true;
        chunks.length = 0;
        reject(new TooLarge());
      } else chunks.push(chunk);
    });
    req.on('end', () => {
      if (!overflow) resolve(Buffer.concat(chunks));
    });
    req.on('error', reject);
  });
}

/**
 * 413, answered once the client has finished sending (the rest is discarded unread, up to a bound).
 * Closing a socket with unread bytes makes the kernel send a reset, which a client still writing
 * its body sees as a dropped connection instead of the 413.
 */
function refuseTooLarge(req: IncomingMessage, res: ServerResponse): void {
  let discarded = 0;
  let done = false;
  const finish = (abort: boolean) => {
    if (done) return;
    done = true;
    clearTimeout(timer);
    send(res, 413, { error: 'payload_too_large' }, { connection: 'close' });
    if (abort) res.once('finish', () => req.destroy());
  };
  const timer = setTimeout(() => finish(true), DISCARD_MAX_MS);
  req.on('data', (chunk: Buffer) => {
    discarded += chunk.length;
    if (discarded > DISCARD_MAX_BYTES) finish(true);
  });
  req.on('end', () => finish(false));
  req.on('error', () => finish(true));
  if (req.readableEnded) finish(false);
  else req.resume();
}

export function createRunner(cfg: RunnerConfig, isolation: Isolation, log: Log, now: () => number = Date.now): Runner {
  const replay = new ReplayCache();
  const running = new Set<() => void>();
  let active = 0;
  /** Invocations running per tenant (entries leave at 0). */
  const perTenant = new Map<string, number>();

  async function invoke(req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
    let body: Buffer;
    try {
      body = await readBody(req, cfg.maxBodyBytes);
    } catch (err) {
      if (err instanceof TooLarge) return refuseTooLarge(req, res);
      throw err;
    }
    const failure = verify(cfg.secret, { method: req.method ?? '', path, headers: req.headers, body }, replay, now());
    if (failure) {
      log('refused', { reason: failure, ip: req.socket.remoteAddress });
      return send(res, 401, { error: 'unauthorized' });
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(body.toString('utf8'));
    } catch {
      return send(res, 400, { error: 'bad_request', errors: ['body must be JSON'] });
    }
    const request = parseInvocation(parsed);
    if (!request.ok) return send(res, 400, { error: 'bad_request', errors: request.errors });
    if (active >= cfg.concurrency) return send(res, 503, { error: 'busy', capacity: cfg.concurrency }, { 'retry-after': '1' });
    const tenant = request.value.tenant;
    const held = tenant === undefined ? 0 : (perTenant.get(tenant) ?? 0);
    if (tenant !== undefined && held >= cfg.tenantConcurrency) {
      log('tenant_busy', { id: request.value.id, tenant, active: held });
      return send(res, 503, { error: 'tenant_busy', capacity: cfg.tenantConcurrency }, { 'retry-after': '1' });
    }

    active++;
    if (tenant !== undefined) perTenant.set(tenant, held + 1);
    try {
      const result = await isolation.run(request.value, running);
      log('invocation', {
        id: request.value.id,
        tenant: request.value.tenant,
        sandbox: isolation.mode,
        runtime: request.value.runtime,
        outcome: result.ok ? 'ok' : result.error.type,
        durationMs: result.durationMs,
      });
      // Which isolation ran it travels with every result (the Worker records it on the invocation).
      send(res, 200, { sandbox: isolation.mode, ...result });
    } finally {
      active--;
      if (tenant !== undefined) {
        const left = (perTenant.get(tenant) ?? 1) - 1;
        if (left > 0) perTenant.set(tenant, left);
        else perTenant.delete(tenant);
      }
    }
  }

  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://runner');
    const path = url.pathname + url.search;
    const route = url.pathname;
    if (route === '/health') {
      if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, { error: 'method_not_allowed' }, { allow: 'GET, HEAD' });
      return send(res, 200, {
        status: 'ok',
        sandbox: isolation.mode,
        active,
        capacity: cfg.concurrency,
        tenantCapacity: cfg.tenantConcurrency,
        tenantsActive: perTenant.size,
        ...isolation.health(),
      });
    }
    if (route === '/v1/invocations') {
      if (req.method !== 'POST') return send(res, 405, { error: 'method_not_allowed' }, { allow: 'POST' });
      invoke(req, res, path).catch((err: unknown) => {
        log('error', { message: (err as Error).message });
        if (!res.headersSent) send(res, 500, { error: 'internal_error' });
        else res.destroy();
      });
      return;
    }
    send(res, 404, { error: 'not_found' });
  });
  // Invocations may take a minute; keep-alive sockets from the Worker are reused.
  server.requestTimeout = 120_000;
  server.headersTimeout = 10_000;
  server.keepAliveTimeout = 30_000;

  return {
    server,
    killAll: () => {
      for (const kill of running) kill();
      isolation.close();
    },
    active: () => active,
  };
}
