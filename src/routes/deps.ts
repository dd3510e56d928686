/** Builds service inputs from a request: the only bridge between Hono and the services. */

import type { Context } from 'hono';
import { getDb } from '../db/client';
import { eventForwarder } from '../events/outbox';
import { type ServiceDeps, type SessionControl, type TenantCall, tenantCall } from '../identity/context';
import type { Permission } from '../identity/roles';
import { AppError } from '../lib/problem';
import { tenantHubStub } from '../lib/stubs';
import { authenticate, requirePermission } from '../middleware/auth';
import type { AppEnv } from '../types';

export function serviceDeps(c: Context<AppEnv>): ServiceDeps {
  return {
    db: getDb(c.env.DB),
    config: c.get('config'),
    meta: { requestId: c.get('requestId'), ip: c.req.header('cf-connecting-ip') ?? null },
    now: new Date(),
    events: eventForwarder(c.env, (p) => c.executionCtx.waitUntil(p)),
    sessions: hubSessions(c.env),
  };
}

export function callOf(c: Context<AppEnv>): TenantCall {
  const auth = c.get('auth');
  if (!auth) throw new AppError('unauthorized', 'Authentication required.');
  return tenantCall(serviceDeps(c), auth);
}

/** Route middleware: authenticate, then require `permission`. */
export function guarded(permission: Permission, options: { allowQueryToken?: boolean } = {}) {
  return [authenticate(options), requirePermission(permission)];
}

/** Live socket sessions live in the tenant's hub. */
function hubSessions(env: Env): SessionControl {
  const hub = (tenantId: string) => tenantHubStub(env, tenantId);
  return {
    revoke: async (tenantId, actorId) => void (await hub(tenantId).closeSessions(tenantId, actorId)),
    setRole: async (tenantId, actorId, role) => void (await hub(tenantId).setSessionRole(tenantId, actorId, role)),
  };
}
