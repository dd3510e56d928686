/**
 * Authentication, resolved once per request: `credential()` (app-wide) resolves
 * the bearer credential into `c.var.credential` without failing the request;
 * a route's `authenticate` guard turns it into the caller (401 if absent or
 * invalid), applies the plan's rate limits and builds `c.var.ctx`. Idempotency
 * and anonymous routes (logout) read the same resolution; nothing else calls
 * `resolveCredential`.
 */
import { createMiddleware } from 'hono/factory';
import { missingCredential, resolveCredential } from '../identity/credentials';
import { can, type Permission } from '../identity/roles';
import { callerOf, serviceCtx } from '../lib/context';
import { AppError } from '../lib/problem';
import type { AppEnv, AuthContext, ResolvedCredential } from '../types';

const RATE_PERIOD_SECONDS = 60;

/** App-wide: resolves `Authorization: Bearer …` (else `?access_token=`, which only socket routes accept) into `c.var.credential`. */
export function credential() {
  return createMiddleware<AppEnv>(async function credential(c, next) {
    const header = c.req.header('authorization');
    // Browsers cannot set headers on a WebSocket handshake, so socket routes also accept ?access_token=.
    const queryToken = header === undefined ? c.req.query('access_token') : undefined;
    if (header !== undefined || queryToken) {
      const via = header !== undefined ? 'header' : 'query';
      const { db, config, waitUntil } = c.get('requestCtx');
      try {
        const auth = await resolveCredential({ db, config, waitUntil }, header ?? `Bearer ${queryToken}`);
        c.set('credential', { via, ok: true, auth });
      } catch (error) {
        // Not this middleware's answer: a route that needs the caller fails with it, an anonymous route ignores it.
        c.set('credential', { via, ok: false, error });
      }
    }
    await next();
  });
}

/** The caller behind the Authorization header, or the reason it is not usable (the header's resolution only). */
export function headerCredential(resolved: ResolvedCredential | undefined): ResolvedCredential | undefined {
  return resolved?.via === 'header' ? resolved : undefined;
}

/** The resolved caller, or the 401 the route answers (a query token counts only where `allowQueryToken`). */
function callerAuth(resolved: ResolvedCredential | undefined, allowQueryToken: boolean): AuthContext {
  const usable = allowQueryToken ? resolved : headerCredential(resolved);
  if (!usable) throw missingCredential();
  if (!usable.ok) throw usable.error;
  return usable.auth;
}

/** Route guard: the caller into `c.var.auth` and `c.var.ctx`, then the plan's rate limit per tenant and per credential. */
export function authenticate(options: { allowQueryToken?: boolean } = {}) {
  return createMiddleware<AppEnv>(async function authenticate(c, next) {
    const auth = callerAuth(c.get('credential'), options.allowQueryToken ?? false);
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
    c.set('ctx', serviceCtx(c.get('requestCtx'), callerOf(auth)));
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
