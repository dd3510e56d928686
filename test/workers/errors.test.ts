// The bad-input matrix: every error is RFC 9457 problem+json with a stable type, and never a stack trace.
import { Hono } from 'hono';
import { describe, expect, it } from 'vitest';
import { handleError, isTransientPlatformError } from '../../src/middleware/errors';
import type { AppEnv } from '../../src/types';
import { call, json } from '../support/workers/http';
import { signup } from '../support/workers/tenants';

async function expectProblem(res: Response, status: number, code: string) {
  expect(res.status).toBe(status);
  expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  const body = await json(res);
  expect(body).toMatchObject({ status, code, type: `https://edgecrew.dev/problems/${code.replaceAll('_', '-')}` });
  expect(typeof body.title).toBe('string');
  expect(typeof body.detail).toBe('string');
  expect(JSON.stringify(body)).not.toMatch(/\bat .+\.(ts|js):\d+/);
  return body;
}

const validSignup = () => ({ email: `e-${crypto.randomUUID()}@example.com`, password: 'Sturdy-Passw0rd-x', name: 'N', tenantName: 'T' });

describe('problem+json for bad input', () => {
  it('malformed JSON → 400', async () => {
    await expectProblem(
      await call('/v1/auth/signup', { method: 'POST', rawBody: '{"email": ', headers: { 'content-type': 'application/json' } }),
      400,
      'malformed_json',
    );
  });

  it('schema violation → 422 listing every offending field path', async () => {
    const body = await expectProblem(
      await call('/v1/auth/signup', { body: { email: 'not-an-email', password: '', tenantName: 7 } }),
      422,
      'validation_failed',
    );
    const paths = (body.errors as Array<{ path: string; in: string }>).map((e) => e.path).sort();
    expect(paths).toEqual(['email', 'name', 'password', 'tenantName']);
    expect(body.errors.every((e: { in: string }) => e.in === 'body')).toBe(true);
  });

  it('nested paths use dots and array indexes, pointers are RFC 6901', async () => {
    const body = await expectProblem(
      await call('/v1/auth/signup', { body: { ...validSignup(), extra: { a: 1 } } }),
      422,
      'validation_failed',
    );
    expect(body.errors[0]).toMatchObject({ path: 'extra', pointer: '/extra', code: 'unrecognized_keys' });
  });

  it('query validation → 422 with in=query', async () => {
    const owner = await signup();
    const body = await expectProblem(await call('/v1/members?limit=0', { token: owner.accessToken }), 422, 'validation_failed');
    expect(body.errors[0]).toMatchObject({ in: 'query', path: 'limit' });
  });

  it('wrong content type → 415', async () => {
    await expectProblem(
      await call('/v1/auth/signup', {
        method: 'POST',
        rawBody: 'email=a',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
      }),
      415,
      'unsupported_media_type',
    );
    await expectProblem(await call('/v1/auth/signup', { method: 'POST', rawBody: 'hello' }), 415, 'unsupported_media_type');
  });

  it('body over the limit → 413', async () => {
    const big = JSON.stringify({ ...validSignup(), name: 'x'.repeat(1_100_000) });
    await expectProblem(
      await call('/v1/auth/signup', { method: 'POST', rawBody: big, headers: { 'content-type': 'application/json' } }),
      413,
      'payload_too_large',
    );
  });

  it('unknown route → 404', async () => {
    await expectProblem(await call('/nope'), 404, 'not_found');
    await expectProblem(await call('/v1/definitely-not-a-route'), 404, 'not_found');
  });

  it('wrong method → 405 with Allow', async () => {
    const res = await call('/health', { method: 'DELETE' });
    await expectProblem(res, 405, 'method_not_allowed');
    expect(res.headers.get('allow')).toContain('GET');
    const put = await call('/v1/auth/login', { method: 'PUT', body: {} });
    await expectProblem(put, 405, 'method_not_allowed');
    expect(put.headers.get('allow')).toBe('POST');
  });

  it('missing credentials → 401 with WWW-Authenticate', async () => {
    const res = await call('/v1/me');
    await expectProblem(res, 401, 'unauthorized');
    expect(res.headers.get('www-authenticate')).toMatch(/^Bearer/);
  });

  it('empty body where one is required → 422, not 500', async () => {
    const res = await call('/v1/auth/signup', { method: 'POST', headers: { 'content-type': 'application/json' } });
    const body = await expectProblem(res, 422, 'validation_failed');
    expect((body.errors as Array<{ path: string }>).map((e) => e.path).sort()).toEqual(['email', 'name', 'password', 'tenantName']);
  });

  it('no body at all where one is required → 422 listing the fields, not 500', async () => {
    const res = await call('/v1/auth/signup', { method: 'POST' });
    const body = await expectProblem(res, 422, 'validation_failed');
    expect(body.errors.length).toBeGreaterThan(0);
  });

  it('a bad request loses nothing already stored', async () => {
    const owner = await signup();
    await expectProblem(
      await call('/v1/tenant', { method: 'PATCH', token: owner.accessToken, body: { name: '' } }),
      422,
      'validation_failed',
    );
    const tenant = await json(await call('/v1/tenant', { token: owner.accessToken }));
    expect(tenant.name).toMatch(/^Tenant /);
  });

  it('echoes a well-formed X-Request-Id and replaces a malformed one', async () => {
    const mine = 'req-0123456789abcdef';
    const a = await call('/health', { headers: { 'x-request-id': mine } });
    expect(a.headers.get('x-request-id')).toBe(mine);
    const b = await call('/health', { headers: { 'x-request-id': 'bad id with spaces' } });
    expect(b.headers.get('x-request-id')).not.toBe('bad id with spaces');
  });

  it('sets security headers', async () => {
    const res = await call('/health');
    expect(res.headers.get('content-security-policy')).toContain("default-src 'none'");
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.get('strict-transport-security')).toContain('max-age=');
  });
});

describe('platform errors that say "retry shortly"', () => {
  // A real D1/Durable Object outage cannot be forced here; the handler is exercised on the messages the platform sends.
  const appThrowing = (err: Error) => {
    const app = new Hono<AppEnv>();
    app.get('/x', () => {
      throw err;
    });
    app.onError(handleError);
    return app;
  };

  it('D1 or a Durable Object unreachable, overloaded or reset → 503 problem with Retry-After', async () => {
    for (const message of [
      'D1_ERROR: Network connection lost.',
      'Durable Object is overloaded. Too many requests queued.',
      'Durable Object storage operation exceeded timeout which caused object to be reset.',
    ]) {
      const res = await appThrowing(new Error(message)).request('/x');
      const body = await expectProblem(res, 503, 'service_unavailable');
      expect(res.headers.get('retry-after')).toBe('5');
      expect(body.errorId).toMatch(/^err_/);
      expect(body.detail).not.toContain(message);
    }
    expect(isTransientPlatformError(Object.assign(new Error('anything'), { retryable: true }))).toBe(true);
  });

  it('other failures stay an opaque 500', async () => {
    for (const message of ['D1_ERROR: no such table: tasks: SQLITE_ERROR', 'TypeError: x is undefined']) {
      expect(isTransientPlatformError(new Error(message))).toBe(false);
      await expectProblem(await appThrowing(new Error(message)).request('/x'), 500, 'internal_error');
    }
  });
});
