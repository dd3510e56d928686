/** What identity services receive: storage, configuration and request metadata. Never a Hono context. */
import type { Config } from '../config';
import type { Db } from '../db/client';
import { TenantScope } from '../db/tenant-scope';
import type { EventForwarder } from '../events/outbox';
import type { SessionControl } from '../lib/context';
import type { AuthContext } from '../types';
import type { AuditActor, AuditMeta } from './audit';

export interface ServiceDeps {
  db: Db;
  config: Config;
  meta: AuditMeta;
  now: Date;
  /** Hands control-plane events to the tenant's hub after their batch committed (absent: the sweeper forwards them). */
  events?: EventForwarder | undefined;
  /** Live sessions (sync sockets) to close or downgrade when a credential is revoked or a role changes. */
  sessions?: SessionControl | undefined;
}

/** A service call made by an authenticated caller: `scope` is bound to the caller's tenant. */
export interface TenantCall extends ServiceDeps {
  auth: AuthContext;
  scope: TenantScope;
}

export function tenantCall(deps: ServiceDeps, auth: AuthContext): TenantCall {
  return { ...deps, auth, scope: new TenantScope(deps.db, auth.tenantId) };
}

export function actorOf(auth: AuthContext): AuditActor {
  return { type: auth.actorType, id: auth.actorId };
}

export function pepperOf(config: Config): string {
  if (!config.TOKEN_PEPPER) throw new Error('TOKEN_PEPPER is not set');
  return config.TOKEN_PEPPER;
}

export function jwtSettings(config: Config) {
  return { keys: config.JWT_PRIVATE_KEYS, issuer: config.JWT_ISSUER, audience: config.JWT_AUDIENCE };
}
