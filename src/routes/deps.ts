/** Builds service inputs from a request: the only bridge between Hono and the services. */

import type { Context } from 'hono';
import { type ServiceDeps, type TenantCall, tenantCall } from '../identity/context';
import type { Permission } from '../identity/roles';
import { AppError } from '../lib/problem';
import { authenticate, requirePermission } from '../middleware/auth';
import type { AppEnv } from '../types';

export function serviceDeps(c: Context<AppEnv>): ServiceDeps {
  const r = c.get('requestCtx');
  return { db: r.db, config: r.config, meta: { requestId: r.requestId, ip: r.ip }, now: r.now, events: r.events, sessions: r.sessions };
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
