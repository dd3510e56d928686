/** Liveness, readiness and build information. Unauthenticated and cheap: readiness results are shared for 5 s per isolate. */

import { createRoute, z } from '@hono/zod-openapi';
import pkg from '../../package.json';
import { pingDb } from '../db/client';
import { jsonContent, problemResponses, retryAfterRef } from '../lib/openapi';
import { newRouter } from '../lib/router';
import { tenantHubStub } from '../lib/stubs';
import { runnerHealth, runnerTransport, SANDBOX_MODES } from '../tools/runner-client';

const HealthSchema = z
  .object({
    status: z.literal('ok'),
    name: z.string(),
    version: z.string(),
    commit: z.string().nullable(),
    environment: z.string(),
    time: z.string().openapi({ format: 'date-time' }),
  })
  .openapi('Health');

const CheckSchema = z.object({ status: z.enum(['ok', 'fail']), latencyMs: z.number(), error: z.string().optional() });
const ToolRunnerCheckSchema = CheckSchema.extend({
  sandbox: z.enum(SANDBOX_MODES).nullable().openapi({
    description: "The runner's isolation mode: `bwrap` (bubblewrap) or `wasm` (Pyodide / QuickJS); null when it did not answer",
  }),
});
const ReadySchema = z
  .object({
    status: z.enum(['ok', 'fail']),
    checkedAt: z.string().openapi({ format: 'date-time', description: 'When the checks ran (results are shared for a few seconds)' }),
    checks: z.object({ d1: CheckSchema, durableObject: CheckSchema, toolRunner: ToolRunnerCheckSchema }),
  })
  .openapi('Readiness');

const TIMEOUT_MS = 3000;
/** Anyone may ask: one D1 query, one Durable Object call and one runner ping per isolate per this window, however many ask (issue 13). */
const READY_CACHE_MS = 5000;
type Readiness = z.infer<typeof ReadySchema>;
let lastReady: { at: number; result: Promise<Readiness> } | undefined;

function readiness(env: Env, transport: ReturnType<typeof runnerTransport>): Promise<Readiness> {
  const now = Date.now();
  if (lastReady && now - lastReady.at < READY_CACHE_MS) return lastReady.result;
  let sandbox: (typeof SANDBOX_MODES)[number] | null = null;
  const result = Promise.all([
    check(() => pingDb(env.DB)),
    check(() => tenantHubStub(env, '__health__').ping()),
    check(async () => {
      if (!transport) throw new Error('not configured');
      sandbox = (await runnerHealth(transport, TIMEOUT_MS)).sandbox;
    }),
  ]).then(([d1, durableObject, runner]) => ({
    // The runner is reported, not gating: tools are one feature, and a runner that is down (or not configured)
    // must not take the whole API out of rotation. Monitors alert on checks.toolRunner.status.
    status: d1.status === 'ok' && durableObject.status === 'ok' ? ('ok' as const) : ('fail' as const),
    checkedAt: new Date(now).toISOString(),
    checks: { d1, durableObject, toolRunner: { ...runner, sandbox } },
  }));
  lastReady = { at: now, result };
  return result;
}

async function check(run: () => Promise<unknown>): Promise<z.infer<typeof CheckSchema>> {
  const started = Date.now();
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    await Promise.race([
      run(),
      new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`timed out after ${TIMEOUT_MS} ms`)), TIMEOUT_MS))),
    ]);
    return { status: 'ok', latencyMs: Date.now() - started };
  } catch (err) {
    // The check's name is public; the underlying message is not (it may carry internals).
    return {
      status: 'fail',
      latencyMs: Date.now() - started,
      error: err instanceof Error && err.message.startsWith('timed out') ? err.message : 'check failed',
    };
  } finally {
    if (timer !== undefined) clearTimeout(timer);
  }
}

export const healthRoutes = newRouter()
  .openapi(
    createRoute({
      method: 'get',
      path: '/health',
      operationId: 'health.get',
      security: [],
      tags: ['Platform'],
      summary: 'Build and environment information',
      responses: { 200: jsonContent(HealthSchema, 'The service is up'), ...problemResponses([], { authenticated: false }) },
    }),
    (c) => {
      const config = c.get('config');
      c.header('cache-control', 'no-store');
      return c.json(
        {
          status: 'ok' as const,
          name: pkg.name,
          version: config.APP_VERSION ?? pkg.version,
          commit: config.GIT_COMMIT ?? null,
          environment: config.ENVIRONMENT,
          time: new Date().toISOString(),
        },
        200,
      );
    },
  )
  .openapi(
    createRoute({
      method: 'get',
      path: '/health/live',
      operationId: 'health.live',
      security: [],
      tags: ['Platform'],
      summary: 'Liveness: the isolate answers',
      responses: {
        200: jsonContent(z.object({ status: z.literal('ok') }), 'Alive'),
        ...problemResponses([], { authenticated: false }),
      },
    }),
    (c) => {
      c.header('cache-control', 'no-store');
      return c.json({ status: 'ok' as const }, 200);
    },
  )
  .openapi(
    createRoute({
      method: 'get',
      path: '/health/ready',
      operationId: 'health.ready',
      security: [],
      tags: ['Platform'],
      summary: 'Readiness: D1 and a Durable Object round trip; also reports the tool runner and its sandbox mode',
      responses: {
        200: jsonContent(ReadySchema, 'All dependencies answer'),
        503: { ...jsonContent(ReadySchema, 'A dependency failed; the failing check is named'), headers: { 'Retry-After': retryAfterRef } },
        ...problemResponses([], { authenticated: false }),
      },
    }),
    async (c) => {
      const ready = await readiness(c.env, runnerTransport(c.get('config'), c.env));
      c.header('cache-control', 'no-store');
      if (ready.status !== 'ok') c.header('retry-after', String(READY_CACHE_MS / 1000));
      return c.json(ready, ready.status === 'ok' ? 200 : 503);
    },
  );
