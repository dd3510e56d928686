/**
 * The one value a service receives: `RequestCtx` (what every request has) and
 * `ServiceCtx` (that plus the authenticated caller and a scope bound to its
 * tenant). The rule: every service verb is `verb(ctx, input)` with `input` one
 * plain object (verbs without input take `ctx` alone); services never see Hono,
 * headers or `c`. Middleware builds the context once per request:
 * `requestContext()` the RequestCtx, the route guard (`authenticate`) the
 * ServiceCtx from the credential `credential()` resolved once; handlers read
 * `c.req.valid(...)`, call the verb with `c.var.ctx` and return JSON. Anything
 * else a verb needs (bindings, the clock, the event forwarder) is a field here,
 * not another parameter.
 */
import type { Config } from '../config';
import type { Db } from '../db/client';
import { TenantScope } from '../db/tenant-scope';
import type { EventForwarder } from '../events/outbox';
import type { Role } from '../identity/roles';
import type { StageTimer } from '../observability/timing';
import type { AuthContext } from '../types';

/** Live sessions (sync sockets) to close or downgrade when a credential is revoked or a role changes. */
export interface SessionControl {
  revoke(tenantId: string, actorId: string): Promise<void>;
  setRole(tenantId: string, actorId: string, role: Role): Promise<void>;
}

/** What every request carries, authenticated or not. */
export interface RequestCtx {
  requestId: string;
  /** The client's IP as Cloudflare reports it (null in local tools). */
  ip: string | null;
  env: Env;
  db: Db;
  config: Config;
  /** The request's clock: one instant for everything the request writes. */
  now: Date;
  waitUntil(promise: Promise<unknown>): void;
  /** Hands control-plane events to the tenant's hub after their batch committed. */
  events: EventForwarder;
  sessions: SessionControl;
  /** The request's stages and their durations (Server-Timing outside staging and production). */
  timing: StageTimer;
}

/** Who is calling, as resolved from the credential (never from the URL or body). */
export interface Caller {
  tenantId: string;
  actor: { type: 'user' | 'api_key'; id: string };
  role: Role;
  /** The credential presented: its id (idempotency, rate limits), the tenant's plan, when it stops being valid (ms epoch). */
  credential: { id: string; plan: 'free' | 'pro'; expiresAt: number | null };
}

/** What an authenticated service verb receives: `scope` is bound to the caller's tenant. */
export interface ServiceCtx extends RequestCtx, Caller {
  scope: TenantScope;
}

/** The caller a resolved credential names. */
export function callerOf(auth: AuthContext): Caller {
  return {
    tenantId: auth.tenantId,
    actor: { type: auth.actorType, id: auth.actorId },
    role: auth.role,
    credential: { id: auth.credentialId, plan: auth.plan, expiresAt: auth.expiresAt ?? null },
  };
}

/** The request's context for an authenticated caller. */
export function serviceCtx(request: RequestCtx, caller: Caller): ServiceCtx {
  return { ...request, ...caller, scope: new TenantScope(request.db, caller.tenantId) };
}
