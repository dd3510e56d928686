// Unhandled errors: an opaque 500 for the client, the full report to Sentry (a local fake speaking the envelope protocol).
import { createExecutionContext, waitOnExecutionContext } from 'cloudflare:test';
import { env } from 'cloudflare:workers';
import { describe, expect, inject, it } from 'vitest';
import { createApp } from '../../src/app';

const SECRET_MESSAGE = 'db password is hunter2 at internal.host:5432';

function appWithFault() {
  return createApp({
    extend: (app) => {
      app.get('/__test/boom', () => {
        throw new Error(SECRET_MESSAGE);
      });
    },
  });
}

describe('observability', () => {
  it('reports an unhandled error to Sentry with request context, and the client sees only an error id', async () => {
    const sentryUrl = new URL(inject('fakeSentryUrl'));
    const dsn = `http://publickey@${sentryUrl.host}/42`;
    const ctx = createExecutionContext();
    const res = await appWithFault().fetch(
      new Request('https://api.test/__test/boom', { headers: { 'x-request-id': 'req-sentry-test-0001', 'user-agent': 'vitest' } }),
      { ...env, SENTRY_DSN: dsn },
      ctx,
    );
    await waitOnExecutionContext(ctx);

    expect(res.status).toBe(500);
    expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    const problem = (await res.json()) as Record<string, string>;
    expect(problem.code).toBe('internal_error');
    expect(problem.errorId).toMatch(/^err_/);
    expect(JSON.stringify(problem)).not.toContain('hunter2');

    const received = (await (await fetch(`${sentryUrl.origin}/__received`)).json()) as Array<{
      path: string;
      auth?: string;
      items: Array<{ header: { type: string }; payload: any }>;
    }>;
    const event = received
      .flatMap((r) => r.items.map((i) => ({ ...i, path: r.path, auth: r.auth })))
      .find((i) => i.header.type === 'event' && i.payload.tags?.error_id === problem.errorId);
    expect(event, 'the fake Sentry received the event').toBeDefined();
    expect(event!.path).toMatch(/^\/api\/42\/envelope\//);
    // The DSN's public key authenticates the envelope (header or query string, both are Sentry's protocol).
    expect(`${event!.auth ?? ''} ${event!.path}`).toContain('sentry_key=publickey');
    expect(event!.payload.exception.values[0].value).toBe(SECRET_MESSAGE);
    expect(event!.payload.environment).toBe('test');
    expect(event!.payload.request.url).toBe('https://api.test/__test/boom');
    expect(event!.payload.tags.request_id).toBe('req-sentry-test-0001');
  });

  it('sends nothing when SENTRY_DSN is unset and still answers a problem', async () => {
    const ctx = createExecutionContext();
    const res = await appWithFault().fetch(new Request('https://api.test/__test/boom'), { ...env, SENTRY_DSN: '' }, ctx);
    await waitOnExecutionContext(ctx);
    expect(res.status).toBe(500);
  });

  it('writes one Analytics Engine point per request (route pattern, method, status class, latency)', async () => {
    const points: Array<{ blobs?: unknown[]; doubles?: number[]; indexes?: unknown[] }> = [];
    const ANALYTICS = { writeDataPoint: (p: (typeof points)[number]) => void points.push(p) } as unknown as AnalyticsEngineDataset;
    const ctx = createExecutionContext();
    await createApp().fetch(new Request('https://api.test/health/live'), { ...env, ANALYTICS }, ctx);
    await createApp().fetch(new Request('https://api.test/nope'), { ...env, ANALYTICS }, ctx);
    await waitOnExecutionContext(ctx);
    expect(points).toHaveLength(2);
    expect(points[0]!.blobs!.slice(0, 4)).toEqual(['request', '/health/live', 'GET', '2xx']);
    expect(points[0]!.doubles![1]).toBe(200);
    expect(points[0]!.indexes).toEqual(['anonymous']);
    expect(points[1]!.blobs!.slice(0, 4)).toEqual(['request', 'unmatched', 'GET', '4xx']);
  });
});
