/**
 * Authentication, resolved once per request: `credential()` (app-wide) resolves
 * the bearer credential into `c.var.credential` without failing the request;
 * a route's `authenticate` guard turns it into the caller (401 if absent or
 * invalid), applies the plan's rate limits and builds `c.var.ctx`. Anonymous
 * routes (logout, invitation accept) read the same resolution; nothing else
 * calls `resolveCredential`.
 */
import { createMiddleware } from 'hono/factory';
import { TtlCache } from '../identity/credential-cache';
import { missingCredential, resolveCredential } from '../identity/credentials';
import { can, type Permission } from '../identity/roles';
import { isStreamPath, redeemStreamTicket } from '../identity/stream-tickets';
import { chargeCaller } from '../lib/caller-limit';
import { callerOf, serviceCtx } from '../lib/context';
import { AppError } from '../lib/problem';
import { MCP_PATH, validateMcpToken } from '../oauth/server';
import type { AppEnv, AuthContext, ResolvedCredential } from '../types';
import { clientIp } from './rate-limit';

const RATE_PERIOD_SECONDS = 60;

const isMcpPath = (path: string) => path === MCP_PATH || path.startsWith(`${MCP_PATH}/`);

/** IPs over their failed-authentication budget, refused before any lookup until the window passes. */
const blockedIps = new TtlCache<true>(RATE_PERIOD_SECONDS * 1000);

const credentialInUrl = () =>
  new AppError(
    'unauthorized',
    'Credentials in URLs are refused: send `Authorization: Bearer …`, or get a stream ticket from POST /v1/stream-tickets.',
    {
      headers: { 'www-authenticate': 'Bearer' },
    },
  );

const tooManyFailures = () =>
  new AppError('rate_limited', 'Too many failed authentication attempts from this address; retry later.', {
    headers: { 'retry-after': String(RATE_PERIOD_SECONDS) },
  });

/**
 * App-wide: resolves `Authorization: Bearer …` (else a stream route's `?ticket=`) into `c.var.credential`.
 * A credential in the query string (`?access_token=`) is refused, never resolved (URLs end up in logs).
 * Failed authentication is budgeted per IP (RL_AUTH_FAIL): an IP over budget is refused before any
 * lookup, so random keys cost the attacker, not a D1 query each (issue 13).
 */
export function credential() {
  return createMiddleware<AppEnv>(async function credential(c, next) {
    const header = c.req.header('authorization');
    // Most requests carry no query string: parse the URL only when one could hold a ticket or a token.
    const query = c.req.url.includes('?') ? new URL(c.req.url).searchParams : null;
    const ticket = header === undefined ? (query?.get('ticket') ?? null) : null;
    if (query?.has('access_token')) {
      c.set('credential', { via: 'query', ok: false, error: credentialInUrl() });
    } else if (header !== undefined || (ticket && isStreamPath(c.req.path))) {
      const via = header !== undefined ? 'header' : 'query';
      const ctx = c.get('requestCtx');
      const ip = clientIp(c.req.raw.headers);
      if (blockedIps.get(ip)) {
        c.set('credential', { via, ok: false, error: tooManyFailures() });
      } else {
        try {
          // OAuth access tokens are accepted at /mcp only (their audience); elsewhere they are a 401.
          const oauth = isMcpPath(c.req.path) ? (token: string) => validateMcpToken(c.env, new URL(c.req.url).origin, token) : undefined;
          const auth = await ctx.timing.time(
            'credential',
            via === 'header'
              ? resolveCredential({ db: ctx.db, config: ctx.config, waitUntil: ctx.waitUntil, ...(oauth ? { oauth } : {}) }, header)
              : redeemStreamTicket({ env: c.env, config: ctx.config }, ticket!, c.req.path),
          );
          c.set('credential', { via, ok: true, auth });
        } catch (error) {
          // Not this middleware's answer: a route that needs the caller fails with it, an anonymous route ignores it.
          // No address only in local tools; there one shared key would couple unrelated clients.
          const over =
            ip !== 'unknown' &&
            error instanceof AppError &&
            error.code === 'unauthorized' &&
            !(await c.env.RL_AUTH_FAIL.limit({ key: `ip:${ip}` })).success;
          if (over) blockedIps.set(ip, true);
          c.set('credential', { via, ok: false, error: over ? tooManyFailures() : error });
        }
      }
    }
    await next();
  });
}

/** The caller behind the Authorization header, or the reason it is not usable (the header's resolution only). */
export function headerCredential(resolved: ResolvedCredential | undefined): ResolvedCredential | undefined {
  return resolved?.via === 'header' ? resolved : undefined;
}

/** The resolved caller, or the 401 the route answers (a stream ticket counts only where `allowStreamTicket`). */
function callerAuth(resolved: ResolvedCredential | undefined, allowStreamTicket: boolean): AuthContext {
  const usable = allowStreamTicket ? resolved : headerCredential(resolved);
  if (!usable) throw missingCredential();
  if (!usable.ok) throw usable.error;
  return usable.auth;
}

/** Route guard: the caller into `c.var.auth` and `c.var.ctx`, then the plan's rate limit per tenant and per credential. */
export function authenticate(options: { allowStreamTicket?: boolean } = {}) {
  return createMiddleware<AppEnv>(async function authenticate(c, next) {
    const auth = callerAuth(c.get('credential'), options.allowStreamTicket ?? false);
    c.set('auth', auth);
    const caller = callerOf(auth);
    const requestCtx = c.get('requestCtx');
    const charge = requestCtx.timing.time('ratelimit', chargeCaller(c.env, caller));
    c.set('ctx', serviceCtx(requestCtx, caller));
    if (readsOnly(c.req.method, c.req.path, c.req.raw.headers)) {
      // A read changes nothing, so it runs beside the limiter's round trip instead of after it;
      // over budget, its answer is replaced by the 429 all the same.
      await Promise.all([charge, next()]);
      return;
    }
    await charge;
    await next();
  });
}

/**
 * A GET or HEAD that answers at once changes nothing. Streams and WebSocket upgrades open a
 * session the 429 could not take back, so they wait for the limiter like writes.
 */
function readsOnly(method: string, path: string, headers: Headers): boolean {
  if (method !== 'GET' && method !== 'HEAD') return false;
  if (headers.has('upgrade') || isStreamPath(path) || path.startsWith('/mcp')) return false;
  return !(headers.get('accept') ?? '').includes('text/event-stream');
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
