/** Authentication, per-plan rate limits and permission checks for /v1 routes. */
import { createMiddleware } from 'hono/factory';
import { getDb } from '../db/client';
import { resolveCredential } from '../identity/credentials';
import { can, type Permission } from '../identity/roles';
import { AppError } from '../lib/problem';
import type { AppEnv } from '../types';

const RATE_PERIOD_SECONDS = 60;

/** Resolves the bearer credential into `c.var.auth`, then applies the plan's rate limit per tenant and per credential. */
export function authenticate(options: { allowQueryToken?: boolean } = {}) {
  return createMiddleware<AppEnv>(async function authenticate(c, next) {
    // Browsers cannot set headers on a WebSocket handshake, so socket routes also accept ?access_token=.
    const queryToken = options.allowQueryToken ? c.req.query('access_token') : undefined;
    const auth = await resolveCredential(
      { db: getDb(c.env.DB), config: c.get('config'), waitUntil: (p) => c.executionCtx.waitUntil(p) },
      c.req.header('authorization') ?? (queryToken ? `Bearer ${queryToken}` : undefined),
    );
    c.set('auth', auth);
    const limiter = auth.plan === 'pro' ? c.env.RL_PRO : c.env.RL_FREE;
    const [tenant, credential] = await Promise.all([
      limiter.limit({ key: `tenant:${auth.tenantId}` }),
      limiter.limit({ key: `credential:${auth.credentialId}` }),
    ]);
    if (!tenant.success || !credential.success) {
      throw new AppError('rate_limited', `Rate limit exceeded for this ${tenant.success ? 'credential' : 'tenant'}; retry later.`, {
        headers: { 'retry-after': String(RATE_PERIOD_SECONDS) },
      });
    }
    await next();
  });
}

/** 403 unless the caller's role grants `permission` (see identity/roles.ts). */
export function requirePermission(permission: Permission) {
  return createMiddleware<AppEnv>(async function requirePermission(c, next) {
    const auth = c.get('auth');
    if (!auth) throw new AppError('unauthorized', 'Authentication required.', { headers: { 'www-authenticate': 'Bearer' } });
    if (!can(auth.role, permission)) {
      throw new AppError('forbidden', `Your role '${auth.role}' does not allow '${permission}'.`);
    }
    await next();
  });
}
