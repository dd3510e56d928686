/** Platform behaviour every response shares: readiness, request ids, security headers, CORS. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningWorker, startWorker } from '../support/node/worker';

let worker: RunningWorker;
beforeAll(async () => {
  worker = await startWorker();
});
afterAll(() => worker?.dispose());

describe('health', () => {
  it('GET /health/ready is 200 with D1 and Durable Object checks ok', async () => {
    const res = await worker.fetch('/health/ready');
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ status: 'ok', checks: { d1: { status: 'ok' }, durableObject: { status: 'ok' } } });
  });

  it('GET /health reports the test environment', async () => {
    const res = await worker.fetch('/health');
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ status: 'ok', name: 'edgecrew', environment: 'test' });
  });
});

describe('request id', () => {
  it('echoes a well-formed X-Request-Id', async () => {
    const id = `e2e-${crypto.randomUUID()}`;
    const res = await worker.fetch('/health', { headers: { 'x-request-id': id } });
    expect(res.headers.get('x-request-id')).toBe(id);
  });

  it('mints one when none is sent, and on errors too', async () => {
    const ok = await worker.fetch('/health');
    expect(ok.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    const missing = await worker.fetch('/v1/nope');
    expect(missing.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('replaces a malformed one instead of echoing it', async () => {
    const res = await worker.fetch('/health', { headers: { 'x-request-id': 'bad id <script>' } });
    const id = res.headers.get('x-request-id');
    expect(id).not.toBe('bad id <script>');
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
  });
});

describe('security headers', () => {
  it.each([
    ['a success', '/health'],
    ['an error', '/v1/nope'],
  ])('are set on %s', async (_, path) => {
    const res = await worker.fetch(path);
    expect(res.headers.get('content-security-policy')).toContain("default-src 'none'");
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.get('strict-transport-security')).toMatch(/max-age=\d+/);
  });
});

describe('CORS', () => {
  it('answers a preflight', async () => {
    const res = await worker.fetch('/health', {
      method: 'OPTIONS',
      headers: {
        origin: 'https://app.example.com',
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'authorization, content-type, idempotency-key',
      },
    });
    expect(res.status).toBe(204);
    expect(res.headers.get('access-control-allow-origin')).toBe('*');
    expect(res.headers.get('access-control-allow-methods')).toMatch(/\bPOST\b/);
    const allowed = (res.headers.get('access-control-allow-headers') ?? '').toLowerCase();
    for (const h of ['authorization', 'content-type', 'idempotency-key']) expect(allowed).toContain(h);
    expect(Number(res.headers.get('access-control-max-age'))).toBeGreaterThan(0);
  });

  it('exposes X-Request-Id to browsers', async () => {
    const res = await worker.fetch('/health', { headers: { origin: 'https://app.example.com' } });
    expect(res.headers.get('access-control-allow-origin')).toBe('*');
    expect(res.headers.get('access-control-expose-headers')?.toLowerCase()).toContain('x-request-id');
  });
});

describe('with configured origins and overridden vars', () => {
  let restricted: RunningWorker;
  beforeAll(async () => {
    restricted = await startWorker({ bindings: { CORS_ORIGINS: 'https://console.example.com', APP_VERSION: '9.9.9-e2e' }, migrate: false });
  });
  afterAll(() => restricted?.dispose());

  it('allows a listed origin only', async () => {
    const preflight = (origin: string) =>
      restricted.fetch('/health', { method: 'OPTIONS', headers: { origin, 'access-control-request-method': 'GET' } });
    expect((await preflight('https://console.example.com')).headers.get('access-control-allow-origin')).toBe('https://console.example.com');
    expect((await preflight('https://evil.example.com')).headers.get('access-control-allow-origin')).toBeNull();
  });

  it('reports the overridden version', async () => {
    expect(await (await restricted.fetch('/health')).json()).toMatchObject({ version: '9.9.9-e2e' });
  });
});
