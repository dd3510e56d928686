/** Validates configuration once and attaches config, a request-scoped logger and the request's service context. */
import type { Context } from 'hono';
import { createMiddleware } from 'hono/factory';
import { loadConfig } from '../config';
import { getDb } from '../db/client';
import { eventForwarder } from '../events/outbox';
import type { RequestCtx, SessionControl } from '../lib/context';
import { tenantHubStub } from '../lib/stubs';
import { createLogger } from '../observability/log';
import type { AppEnv } from '../types';

export function requestContext() {
  return createMiddleware<AppEnv>(async function requestContext(c, next) {
    const config = loadConfig(c.env);
    c.set('config', config);
    c.set('log', createLogger({ requestId: c.get('requestId'), env: config.ENVIRONMENT }));
    c.set('requestCtx', buildRequestCtx(c, config));
    await next();
  });
}

function buildRequestCtx(c: Context<AppEnv>, config: RequestCtx['config']): RequestCtx {
  // Deferred: app.request() in tests has no execution context until something is handed to it.
  const waitUntil = (p: Promise<unknown>) => c.executionCtx.waitUntil(p);
  return {
    requestId: c.get('requestId'),
    ip: c.req.header('cf-connecting-ip') ?? null,
    env: c.env,
    db: getDb(c.env.DB),
    config,
    now: new Date(),
    waitUntil,
    events: eventForwarder(c.env, waitUntil),
    sessions: hubSessions(c.env),
  };
}

/** Live socket sessions live in the tenant's hub. */
function hubSessions(env: Env): SessionControl {
  const hub = (tenantId: string) => tenantHubStub(env, tenantId);
  return {
    revoke: async (tenantId, actorId) => void (await hub(tenantId).closeSessions(tenantId, actorId)),
    setRole: async (tenantId, actorId, role) => void (await hub(tenantId).setSessionRole(tenantId, actorId, role)),
  };
}
