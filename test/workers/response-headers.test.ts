// X-Request-Id and CORS are set once, after the handler (src/middleware/response-headers.ts): every kind of
// response must still carry them, including problems, preflights and a Durable Object's WebSocket upgrade.

import { exports } from 'cloudflare:workers';
import { Hono } from 'hono';
import { describe, expect, it } from 'vitest';
import { requestId, responseHeaders } from '../../src/middleware/response-headers';
import type { AppEnv } from '../../src/types';
import { call, json } from '../support/workers/http';
import { signup } from '../support/workers/tenants';
import { upgrade } from '../support/workers/websocket';

const ORIGIN = 'https://app.example.com';

/** What every API response carries (the set Hono's secureHeaders() sends by default, with our options). */
const SECURITY = {
  'content-security-policy': "default-src 'none'; frame-ancestors 'none'",
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-site',
  'origin-agent-cluster': '?1',
  'referrer-policy': 'no-referrer',
  'strict-transport-security': 'max-age=63072000; includeSubDomains; preload',
  'x-content-type-options': 'nosniff',
  'x-dns-prefetch-control': 'off',
  'x-download-options': 'noopen',
  'x-frame-options': 'SAMEORIGIN',
  'x-permitted-cross-domain-policies': 'none',
  'x-xss-protection': '0',
};

function expectEdgeHeaders(res: Response) {
  expect(res.headers.get('x-request-id')).toMatch(/^[A-Za-z0-9._:-]{8,128}$/);
  expect(res.headers.get('access-control-allow-origin')).toBe('*');
  expect(res.headers.get('access-control-expose-headers')).toContain('X-Request-Id');
  for (const [name, value] of Object.entries(SECURITY)) expect(res.headers.get(name), name).toBe(value);
}

describe('request id', () => {
  it('echoes every documented character ([A-Za-z0-9._:-], 8–128) and replaces anything else', async () => {
    for (const id of ['svc.a:b_c-1234', 'x'.repeat(128), 'ABCDEFGH']) {
      expect((await call('/health', { headers: { 'x-request-id': id } })).headers.get('x-request-id')).toBe(id);
    }
    for (const bad of ['short', 'x'.repeat(129), 'has space 123', 'semi;colon12', 'eq=ual=1234']) {
      const got = (await call('/health', { headers: { 'x-request-id': bad } })).headers.get('x-request-id');
      expect(got).toMatch(/^[0-9a-f-]{36}$/);
    }
  });
});

describe('headers on every kind of response', () => {
  it('a route answer, a problem from a validator, a problem from a thrown error and an unknown path', async () => {
    const owner = await signup('edge-headers');
    const ok = await call('/v1/tenant', { token: owner.accessToken, headers: { origin: ORIGIN } });
    expect(ok.status).toBe(200);
    expectEdgeHeaders(ok);

    const invalid = await call('/v1/tasks', { token: owner.accessToken, body: { title: 7 }, headers: { origin: ORIGIN } });
    expect(invalid.status).toBe(422);
    expectEdgeHeaders(invalid);
    // The problem's requestId is the header's.
    expect((await json(invalid)).requestId).toBe(invalid.headers.get('x-request-id'));

    const unauthenticated = await call('/v1/tasks', { headers: { origin: ORIGIN } });
    expect(unauthenticated.status).toBe(401);
    expectEdgeHeaders(unauthenticated);

    const missing = await call('/v1/no-such-thing', { token: owner.accessToken });
    expect(missing.status).toBe(404);
    expectEdgeHeaders(missing);
  });

  it("a Durable Object's WebSocket upgrade (a response with immutable headers) is copied, socket and all", async () => {
    const owner = await signup('edge-headers-ws');
    const res = await upgrade('/v1/sync/ws', owner.accessToken, { 'x-request-id': 'ws-upgrade-0001' });
    expect(res.status).toBe(101);
    expect(res.webSocket).not.toBeNull();
    expect(res.headers.get('x-request-id')).toBe('ws-upgrade-0001');
    expectEdgeHeaders(res);
    res.webSocket!.accept();
    res.webSocket!.close(1000, 'done');
  });

  it("a route's own Content-Security-Policy is kept: the API reference page loads its script", async () => {
    const res = await call('/docs');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-security-policy')).toContain("script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net");
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.get('x-request-id')).toMatch(/.{8,}/);
  });

  it('a preflight answers 204 before credentials, with the allowed methods and headers', async () => {
    const res = await call('/v1/tasks', {
      method: 'OPTIONS',
      headers: { origin: ORIGIN, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization' },
    });
    expect(res.status).toBe(204);
    expectEdgeHeaders(res);
    expect(res.headers.get('access-control-allow-methods')).toBe('GET,POST,PUT,PATCH,DELETE,OPTIONS');
    expect(res.headers.get('access-control-allow-headers')).toContain('Idempotency-Key');
    expect(res.headers.get('access-control-max-age')).toBe('600');
  });
});

describe('listed origins (CORS_ORIGINS without *)', () => {
  // The Worker under test allows any origin; the middleware alone, with a restricted config.
  const app = new Hono<AppEnv>();
  app.use(requestId());
  app.use(async (c, next) => {
    c.set('config', { CORS_ORIGINS: ['https://console.example.com'] } as AppEnv['Variables']['config']);
    await next();
  });
  app.use(responseHeaders());
  app.get('/thing', (c) => c.json({ ok: true }));
  app.post('/token', (c) => c.json({ ok: true }));

  app.get(
    '/page',
    () => new Response('<p>', { headers: { 'content-type': 'text/html', 'content-security-policy': "frame-ancestors 'none'" } }),
  );
  app.get('/docs', () => new Response('<p>', { headers: { 'content-type': 'text/html', 'content-security-policy': "script-src 'self'" } }));
  // A response with immutable headers that carries its own X-Request-Id (our Worker's answer, through its fetch handler).
  app.get('/upstream', () =>
    exports.default.fetch(new Request('https://api.test/health', { headers: { 'x-request-id': 'upstream-id-0001' } })),
  );

  it("a handler's CSP is replaced by the strict one, except on the pages that set their own (/docs)", async () => {
    expect((await app.request('/page')).headers.get('content-security-policy')).toBe("default-src 'none'; frame-ancestors 'none'");
    expect((await app.request('/docs')).headers.get('content-security-policy')).toBe("script-src 'self'");
  });

  it('an immutable upstream answer is copied once, and our headers win over the ones it carried', async () => {
    const res = await app.request('/upstream', { headers: { 'x-request-id': 'outer-id-00001', origin: 'https://console.example.com' } });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-request-id')).toBe('outer-id-00001');
    expect(res.headers.get('access-control-allow-origin')).toBe('https://console.example.com');
    expect(res.headers.get('vary')).toBe('Origin');
    expect(await res.json()).toMatchObject({ status: 'ok' });
  });

  it('echoes a listed origin with Vary: Origin, and allows no other', async () => {
    const listed = await app.request('/thing', { headers: { origin: 'https://console.example.com' } });
    expect(listed.headers.get('access-control-allow-origin')).toBe('https://console.example.com');
    expect(listed.headers.get('vary')).toBe('Origin');
    const other = await app.request('/thing', { headers: { origin: 'https://evil.example.com' } });
    expect(other.headers.get('access-control-allow-origin')).toBeNull();
    expect(other.headers.get('vary')).toBe('Origin');
    expect(other.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    const preflight = await app.request('/thing', {
      method: 'OPTIONS',
      headers: { origin: 'https://console.example.com', 'access-control-request-method': 'GET' },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('vary')).toBe('Origin, Access-Control-Request-Headers');
  });
});
