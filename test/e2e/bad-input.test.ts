/**
 * Invariant 3 over real HTTP: bad input is a clear 4xx in problem+json
 * (type, title, status, detail; field paths for validation), never a stack trace.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningWorker, startWorker } from '../support/node/worker';

let worker: RunningWorker;
beforeAll(async () => {
  worker = await startWorker();
});
afterAll(() => worker?.dispose());

/** The first JSON-accepting public route; any JSON route must behave the same. */
const SIGNUP = '/v1/auth/signup';
const MAX_BODY_BYTES = 1024 * 1024;

/** Asserts an RFC 9457 problem response and returns its body. */
async function expectProblem(res: Response, status: number, type: string): Promise<Record<string, unknown>> {
  const text = await res.text();
  expect(res.status, text).toBe(status);
  expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  const body = JSON.parse(text) as Record<string, unknown>;
  expect(body).toMatchObject({ type: `https://edgecrew.dev/problems/${type}`, status });
  expect(typeof body.title).toBe('string');
  expect(typeof body.detail).toBe('string');
  expect((body.detail as string).length).toBeGreaterThan(0);
  expect(body.requestId).toBe(res.headers.get('x-request-id'));
  // No stack traces or internals: no `stack` member and no "at fn (file:line:col)" frames anywhere.
  expect(text).not.toMatch(/"stack"/);
  expect(text).not.toMatch(/\bat .*(\.[cm]?[jt]s|<anonymous>):\d+:\d+/);
  return body;
}

describe('routing', () => {
  it('answers an unknown route with 404', async () => {
    await expectProblem(await worker.fetch('/v1/no-such-thing'), 404, 'not-found');
  });

  it('answers an unknown route with a body and any method with 404', async () => {
    const res = await worker.fetch('/v1/no-such-thing', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    await expectProblem(res, 404, 'not-found');
  });

  it('answers a wrong method on an existing path with 405 and Allow', async () => {
    const res = await worker.fetch('/health', { method: 'DELETE' });
    await expectProblem(res, 405, 'method-not-allowed');
    const allow = (res.headers.get('allow') ?? '').split(',').map((m) => m.trim());
    expect(allow).toEqual(expect.arrayContaining(['GET', 'HEAD']));
    expect(allow).not.toContain('DELETE');
  });

  it('answers a body over MAX_BODY_BYTES with 413 even on a path without a body', async () => {
    const res = await worker.fetch('/health', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: 'x'.repeat(MAX_BODY_BYTES + 1),
    });
    await expectProblem(res, 413, 'payload-too-large');
  });
});

describe('JSON bodies (POST /v1/auth/signup)', () => {
  const post = (body: BodyInit, headers: Record<string, string> = { 'content-type': 'application/json' }) =>
    worker.fetch(SIGNUP, { method: 'POST', headers, body });

  it('answers malformed JSON with 400', async () => {
    await expectProblem(await post('{"email": "a@example.com",'), 400, 'malformed-json');
  });

  it('answers a non-JSON content type with 415', async () => {
    const body = await expectProblem(
      await post('email=a@example.com', { 'content-type': 'application/x-www-form-urlencoded' }),
      415,
      'unsupported-media-type',
    );
    expect(body.detail).toMatch(/application\/json/);
  });

  it('answers a body without a content type with 415', async () => {
    // A Uint8Array body makes fetch send no Content-Type at all.
    await expectProblem(await post(new TextEncoder().encode('{}'), {}), 415, 'unsupported-media-type');
  });

  it('answers a body over MAX_BODY_BYTES with 413 (Content-Length)', async () => {
    const big = JSON.stringify({ email: 'a@example.com', password: 'x'.repeat(MAX_BODY_BYTES), name: 'A', tenantName: 'T' });
    await expectProblem(await post(big), 413, 'payload-too-large');
  });

  it('answers a chunked body over MAX_BODY_BYTES with 413 (no Content-Length)', async () => {
    const chunk = new TextEncoder().encode(' '.repeat(64 * 1024));
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        for (let sent = 0; sent <= MAX_BODY_BYTES; sent += chunk.length) controller.enqueue(chunk);
        controller.close();
      },
    });
    const res = await worker.fetch(SIGNUP, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: stream,
      duplex: 'half',
    } as RequestInit);
    await expectProblem(res, 413, 'payload-too-large');
  });

  it('answers a schema violation with 422 listing every offending field path', async () => {
    const res = await post(JSON.stringify({ email: 'not-an-email', password: 12345 }));
    const body = await expectProblem(res, 422, 'validation-failed');
    const errors = body.errors as Array<{ in: string; path: string; pointer: string; message: string }>;
    expect(Array.isArray(errors)).toBe(true);
    expect(errors.map((e) => e.path)).toEqual(expect.arrayContaining(['email', 'password', 'name', 'tenantName']));
    for (const e of errors) {
      expect(e.in).toBe('body');
      expect(e.pointer).toBe(`/${e.path}`);
      expect(e.message.length).toBeGreaterThan(0);
    }
  });

  it('answers a JSON body that is not an object with 422', async () => {
    await expectProblem(await post('[1,2,3]'), 422, 'validation-failed');
  });

  it('answers a wrong method on signup with 405 allowing POST', async () => {
    const res = await worker.fetch(SIGNUP, { method: 'GET' });
    await expectProblem(res, 405, 'method-not-allowed');
    expect(res.headers.get('allow')).toMatch(/\bPOST\b/);
  });
});
