/** Builds service inputs from a request: the only bridge between Hono and the services. */
import type { Context } from 'hono';
import { getDb } from '../db/client';
import { tenantCall, type ServiceDeps, type TenantCall } from '../identity/context';
import { authenticate, requirePermission } from '../middleware/auth';
import type { Permission } from '../identity/roles';
import { AppError } from '../lib/problem';
import type { AppEnv } from '../types';

export function serviceDeps(c: Context<AppEnv>): ServiceDeps {
  return {
    db: getDb(c.env.DB),
    config: c.get('config'),
    meta: { requestId: c.get('requestId'), ip: c.req.header('cf-connecting-ip') ?? null },
    now: new Date(),
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
