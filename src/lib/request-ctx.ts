/**
 * The request context every service verb takes, built from the Worker's bindings: by the request
 * middleware for HTTP, and for work that arrives another way (a sync socket frame in the tenant's hub,
 * an agent's built-in tool call in a run) so those callers get the same D1 client, event forwarder
 * and session control as an HTTP request.
 */
import { type Config, loadConfig } from '../config';
import { getDb } from '../db/client';
import { eventForwarder } from '../events/outbox';
import { StageTimer } from '../observability/timing';
import type { RequestCtx, SessionControl } from './context';
import { newId } from './ids';
import { tenantHubStub } from './stubs';

export interface RequestCtxInput {
  waitUntil(p: Promise<unknown>): void;
  requestId?: string;
  ip?: string | null;
  config?: Config;
}

export function requestCtxFor(env: Env, o: RequestCtxInput): RequestCtx {
  return {
    requestId: o.requestId ?? newId('req'),
    ip: o.ip ?? null,
    env,
    db: getDb(env.DB),
    config: o.config ?? loadConfig(env),
    now: new Date(),
    waitUntil: o.waitUntil,
    events: eventForwarder(env, o.waitUntil),
    sessions: hubSessions(env),
    timing: new StageTimer(),
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
