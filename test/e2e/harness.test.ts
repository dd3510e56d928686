/** The e2e harness itself: bindings from wrangler.toml plus overrides, migrations, logs, WebSockets. */
import { readdir } from 'node:fs/promises';
import { convertV4MiniflareOptions, Miniflare } from 'miniflare';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectWebSocket, PROJECT_ROOT, type RunningWorker, startWorker, WebSocketUpgradeError } from '../support/node/worker';

describe('startWorker', () => {
  let worker: RunningWorker;
  beforeAll(async () => {
    worker = await startWorker({ echoLogs: 'none' });
  });
  afterAll(() => worker?.dispose());

  it('listens on a random loopback port', () => {
    expect(worker.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
  });

  it('applies every migration in order and records it like wrangler does', async () => {
    const files = (await readdir(`${PROJECT_ROOT}/migrations`)).filter((f) => f.endsWith('.sql')).sort();
    const db = await worker.mf.getD1Database('DB');
    const { results } = await db.prepare('SELECT name FROM d1_migrations ORDER BY id').all<{ name: string }>();
    expect(results.map((r: { name: string }) => r.name)).toEqual(files);
    const tables = await db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'tenants'").all();
    expect(tables.results).toHaveLength(1);
  });

  it('binds everything wrangler.toml declares, plus test secrets', async () => {
    const bindings = await worker.mf.getBindings<Record<string, unknown>>();
    for (const name of ['DB', 'TENANT_HUB', 'FLOW_RUN', 'EVENTS', 'ANALYTICS', 'RL_FREE', 'RL_PRO', 'RL_AUTH']) {
      expect(bindings[name], name).toBeDefined();
    }
    expect(bindings).toMatchObject({ ENVIRONMENT: 'test', MAX_BODY_BYTES: '1048576', TOKEN_PEPPER: expect.any(String) });
  });

  it('keeps the Worker logs', async () => {
    const id = `e2e-logs-${crypto.randomUUID()}`;
    await worker.fetch('/health', { headers: { 'x-request-id': id } });
    await expect.poll(() => worker.logs.some((l) => l.message.includes(id))).toBe(true);
  });

  it('reports a refused WebSocket upgrade with its status', async () => {
    const err = await worker.ws('/v1/no-such-socket').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WebSocketUpgradeError);
    expect((err as WebSocketUpgradeError).status).toBe(404);
  });

  it('can be disposed twice', async () => {
    const extra = await startWorker({ migrate: false });
    await extra.dispose();
    await expect(extra.dispose()).resolves.toBeUndefined();
  });
});

describe('startWorker with a broken configuration', () => {
  let worker: RunningWorker;
  beforeAll(async () => {
    worker = await startWorker({ bindings: { JWT_ISSUER: 'not a url' }, migrate: false, echoLogs: 'none' });
  });
  afterAll(() => worker?.dispose());

  it('answers 500 problem+json without internals', async () => {
    const res = await worker.fetch('/health');
    expect(res.status).toBe(500);
    expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    const text = await res.text();
    expect(text).not.toContain('JWT_ISSUER');
    await expect.poll(() => worker.logs.some((l) => l.message.includes('JWT_ISSUER'))).toBe(true);
  });
});

describe('connectWebSocket', () => {
  // A tiny echo Worker: the helper is tested on its own until the API has WebSocket routes.
  const ECHO = `export default {
    fetch(request) {
      if (request.headers.get('upgrade') !== 'websocket') return new Response('no', { status: 426 });
      const [client, server] = Object.values(new WebSocketPair());
      server.accept();
      server.send(JSON.stringify({ hello: request.headers.get('authorization') }));
      server.addEventListener('message', (e) => {
        if (e.data === 'bye') server.close(4000, 'bye');
        else server.send(e.data);
      });
      return new Response(null, { status: 101, webSocket: client });
    },
  };`;
  let mf: Miniflare;
  let url: string;
  beforeAll(async () => {
    mf = new Miniflare(
      convertV4MiniflareOptions({ modules: true, script: ECHO, compatibilityDate: '2026-11-01', host: '127.0.0.1', port: 0 }),
    );
    url = (await mf.ready).origin;
  });
  afterAll(() => mf?.dispose());

  it('sends headers, queues messages in order and reports the close', async () => {
    const ws = await connectWebSocket(url, { headers: { authorization: 'Bearer t0k' } });
    expect(await ws.nextJson()).toEqual({ hello: 'Bearer t0k' });
    ws.send('one');
    ws.send({ two: 2 });
    await expect.poll(() => ws.pending.length).toBe(2);
    expect(await ws.next()).toBe('one');
    expect(await ws.nextJson()).toEqual({ two: 2 });
    await expect(ws.next(50)).rejects.toThrow(/no WebSocket message within 50 ms/);
    ws.send('bye');
    expect(await ws.closed).toEqual({ code: 4000, reason: 'bye' });
    await expect(ws.next()).rejects.toThrow(/closed/);
  });
});
