// Unhandled errors: an opaque 500 for the client, the full report to Sentry (a local fake speaking the envelope protocol).
import { createExecutionContext, waitOnExecutionContext } from 'cloudflare:test';
import { env } from 'cloudflare:workers';
import { describe, expect, inject, it } from 'vitest';
import { createApp } from '../../src/app';
import { STAGES } from '../../src/observability/timing';
import { signup } from '../support/workers/tenants';
import { createFlow } from './flows/_support';

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

  it("carries each request's stages in its point, in every environment (Server-Timing only outside staging and production)", async () => {
    const points: Array<{ blobs?: unknown[]; doubles?: number[] }> = [];
    const ANALYTICS = { writeDataPoint: (p: (typeof points)[number]) => void points.push(p) } as unknown as AnalyticsEngineDataset;
    const t = await signup('observability-stages');
    const stagesOf = (doubles: number[] | undefined) => Object.fromEntries(STAGES.map((s, i) => [s, doubles![2 + i]!]));
    for (const ENVIRONMENT of ['test', 'staging']) {
      points.length = 0;
      const ctx = createExecutionContext();
      const res = await createApp().fetch(
        new Request('https://api.test/v1/tasks', {
          method: 'POST',
          headers: { authorization: `Bearer ${t.accessToken}`, 'content-type': 'application/json' },
          body: JSON.stringify({ title: `staged in ${ENVIRONMENT}` }),
        }),
        { ...env, ANALYTICS, ENVIRONMENT },
        ctx,
      );
      await waitOnExecutionContext(ctx);
      expect(res.status).toBe(201);
      expect(res.headers.has('server-timing')).toBe(ENVIRONMENT === 'test');
      expect(points).toHaveLength(1);
      expect(points[0]!.blobs!.slice(0, 4)).toEqual(['request', '/v1/tasks', 'POST', '2xx']);
      expect(points[0]!.doubles).toHaveLength(2 + STAGES.length);
      const stages = stagesOf(points[0]!.doubles);
      // On a create's path: the credential, the limiter, the assignee check and the hub; a run start's stages are not.
      for (const s of ['credential', 'ratelimit', 'assignee', 'hub']) expect(stages[s], s).toBeGreaterThanOrEqual(0);
      expect(stages.version).toBe(-1);
      expect(stages.flowrun).toBe(-1);
      expect(stages.hub!).toBeLessThanOrEqual(points[0]!.doubles![0]!);
    }
    // A run start times the flow's version and the run's object, not the hub.
    const flowId = await createFlow(t, { nodes: [{ id: 'a', type: 'transform', config: { expression: '1' } }] });
    points.length = 0;
    const started = createExecutionContext();
    const run = await createApp().fetch(
      new Request(`https://api.test/v1/flows/${flowId}/runs`, {
        method: 'POST',
        headers: { authorization: `Bearer ${t.accessToken}`, 'content-type': 'application/json' },
        body: JSON.stringify({ input: {} }),
      }),
      { ...env, ANALYTICS, ENVIRONMENT: 'production' },
      started,
    );
    await waitOnExecutionContext(started);
    expect(run.status).toBe(201);
    expect(points[0]!.blobs!.slice(0, 4)).toEqual(['request', '/v1/flows/:flowId/runs', 'POST', '2xx']);
    const runStages = stagesOf(points[0]!.doubles);
    for (const s of ['credential', 'ratelimit', 'version', 'flowrun']) expect(runStages[s], s).toBeGreaterThanOrEqual(0);
    expect(runStages.hub).toBe(-1);
    // A request that timed nothing: every stage column says so.
    points.length = 0;
    const ctx = createExecutionContext();
    await createApp().fetch(new Request('https://api.test/health/live'), { ...env, ANALYTICS }, ctx);
    await waitOnExecutionContext(ctx);
    expect(points[0]!.doubles!.slice(2)).toEqual(STAGES.map(() => -1));
  });
});
