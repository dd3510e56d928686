/**
 * Resolves a bearer credential (access JWT or API key) to the tenant context.
 * Hot path: JWT verification is local; membership and API-key rows come from a
 * 30 s in-isolate cache, so D1 is read once per credential per isolate per TTL.
 */
import { and, eq } from 'drizzle-orm';
import type { Config } from '../config';
import type { Db } from '../db/client';
import { apiKeys, memberships, tenants } from '../db/schema';
import { AppError } from '../lib/problem';
import type { AuthContext } from '../types';
import { TtlCache } from './credential-cache';
import { verifyAccessToken } from './jwt';
import { minRole, type Role } from './roles';
import { hashPresentedSecret } from './secrets';
import { recheckStreams } from './stream-guard';

export const API_KEY_PREFIX = 'ek_live_';
const LAST_USED_RESOLUTION_MS = 60_000;

type Plan = 'free' | 'pro';

interface MembershipRecord {
  role: Role;
  plan: Plan;
}

/** A cached "no membership" remembers when it was seen, so a token issued later (a re-join) is not refused by it. */
interface MissingMembership {
  missingSince: number;
}
interface ApiKeyRecord {
  id: string;
  tenantId: string;
  role: Role;
  plan: Plan;
  expiresAt: string | null;
  lastUsedAt: number;
}

const membershipCache = new TtlCache<MembershipRecord | MissingMembership>();
const apiKeyCache = new TtlCache<ApiKeyRecord | null>();

/** Call after a membership changes or disappears (applies at once in this isolate). */
export function forgetMembership(tenantId: string, userId: string): void {
  membershipCache.delete(`${tenantId}:${userId}`);
  recheckStreams((a) => a.actorType === 'user' && a.tenantId === tenantId && a.actorId === userId);
}

/** Call after a key is revoked. */
export function forgetApiKey(keyId: string): void {
  apiKeyCache.deleteWhere((_k, v) => v?.id === keyId);
  recheckStreams((a) => a.actorType === 'api_key' && a.actorId === keyId);
}

/** Call after a tenant's plan changes or the tenant is deleted. */
export function forgetTenant(tenantId: string): void {
  membershipCache.deleteWhere((k) => k.startsWith(`${tenantId}:`));
  apiKeyCache.deleteWhere((_k, v) => v?.tenantId === tenantId);
}

const unauthorized = (detail: string) =>
  new AppError('unauthorized', detail, { headers: { 'www-authenticate': 'Bearer error="invalid_token"' } });

/** What an OAuth access token for /mcp carries once the authorization server validated it (src/oauth/server.ts). */
export interface OAuthGrantToken {
  tenantId: string;
  userId: string;
  /** The member's role when they consented (the current one can only lower it). */
  role: Role;
  grantId: string;
  scope: string[];
  /** ms epoch */
  expiresAt: number;
}

export interface ResolveDeps {
  db: Db;
  config: Config;
  waitUntil: (p: Promise<unknown>) => void;
  now?: number;
  /** Validates OAuth access tokens; set only where they are accepted (/mcp). Elsewhere such a token is a 401. */
  oauth?: (token: string) => Promise<OAuthGrantToken | null>;
}

async function loadMembership(db: Db, tenantId: string, userId: string): Promise<MembershipRecord | null> {
  const row = await db
    .select({ role: memberships.role, plan: tenants.plan })
    .from(memberships)
    .innerJoin(tenants, eq(tenants.id, memberships.tenantId))
    .where(and(eq(memberships.tenantId, tenantId), eq(memberships.userId, userId)))
    .get();
  return row ?? null;
}

/** The member's current role and plan, or null once they left the tenant (cached; `issuedAtMs` guards a cached absence). */
async function currentMembership(
  deps: ResolveDeps,
  tenantId: string,
  userId: string,
  issuedAtMs: number,
): Promise<MembershipRecord | null> {
  const key = `${tenantId}:${userId}`;
  let m = membershipCache.get(key);
  if (m === undefined || ('missingSince' in m && issuedAtMs >= m.missingSince)) {
    const now = deps.now ?? Date.now();
    const loaded = await loadMembership(deps.db, tenantId, userId);
    m = loaded ?? { missingSince: now };
    membershipCache.set(key, m, now);
  }
  return 'missingSince' in m ? null : m;
}

async function resolveJwt(deps: ResolveDeps, token: string): Promise<AuthContext> {
  const claims = await verifyAccessToken(
    { keys: deps.config.JWT_PRIVATE_KEYS, issuer: deps.config.JWT_ISSUER, audience: deps.config.JWT_AUDIENCE },
    token,
    deps.now,
  );
  const m = await currentMembership(deps, claims.tid, claims.sub, claims.iat * 1000);
  // A removed member's (or deleted user's) token stops working; a demoted one keeps only the lesser role.
  if (!m) throw unauthorized('The access token is invalid or expired.');
  return {
    tenantId: claims.tid,
    actorId: claims.sub,
    actorType: 'user',
    role: minRole(claims.role, m.role),
    credentialId: claims.jti,
    plan: m.plan,
    expiresAt: claims.exp * 1000,
  };
}

/**
 * An OAuth access token (only where `deps.oauth` validates them: /mcp). The member is checked again as
 * for a JWT: a removed member's grant stops working, a demoted one keeps only the lesser role, and the
 * token's scopes narrow that role further (src/mcp/scopes.ts).
 */
async function resolveOAuth(deps: ResolveDeps, token: string): Promise<AuthContext> {
  const grant = deps.oauth ? await deps.oauth(token) : null;
  if (!grant) throw unauthorized('The access token is invalid or expired.');
  // No issue time is known here: a cached absence is always re-read (a re-joined member works at once).
  const m = await currentMembership(deps, grant.tenantId, grant.userId, Number.POSITIVE_INFINITY);
  if (!m) throw unauthorized('The access token is invalid or expired.');
  return {
    tenantId: grant.tenantId,
    actorId: grant.userId,
    actorType: 'user',
    role: minRole(grant.role, m.role),
    credentialId: `oauth:${grant.grantId}`,
    plan: m.plan,
    expiresAt: grant.expiresAt,
    scopes: grant.scope,
  };
}

async function resolveApiKey(deps: ResolveDeps, token: string): Promise<AuthContext> {
  const pepper = deps.config.TOKEN_PEPPER;
  if (!pepper) throw new Error('TOKEN_PEPPER is not set');
  const hash = await hashPresentedSecret(token, pepper);
  let rec = apiKeyCache.get(hash);
  if (rec === undefined) {
    const row = await deps.db
      .select({
        id: apiKeys.id,
        tenantId: apiKeys.tenantId,
        role: apiKeys.role,
        expiresAt: apiKeys.expiresAt,
        revokedAt: apiKeys.revokedAt,
        lastUsedAt: apiKeys.lastUsedAt,
        plan: tenants.plan,
      })
      .from(apiKeys)
      .innerJoin(tenants, eq(tenants.id, apiKeys.tenantId))
      .where(eq(apiKeys.keyHash, hash))
      .get();
    rec =
      row && !row.revokedAt
        ? {
            id: row.id,
            tenantId: row.tenantId,
            role: row.role,
            plan: row.plan,
            expiresAt: row.expiresAt,
            lastUsedAt: row.lastUsedAt ? Date.parse(row.lastUsedAt) : 0,
          }
        : null;
    apiKeyCache.set(hash, rec);
  }
  const now = deps.now ?? Date.now();
  if (rec === null || (rec.expiresAt !== null && Date.parse(rec.expiresAt) <= now)) {
    throw unauthorized('The API key is invalid, revoked or expired.');
  }
  if (now - rec.lastUsedAt > LAST_USED_RESOLUTION_MS) {
    // lastUsedAt has minute resolution so the hot path writes at most once a minute per key per isolate.
    rec.lastUsedAt = now;
    const id = rec.id;
    deps.waitUntil(
      deps.db
        .update(apiKeys)
        .set({ lastUsedAt: new Date(now).toISOString() })
        .where(eq(apiKeys.id, id))
        .run()
        .catch(() => undefined),
    );
  }
  return {
    tenantId: rec.tenantId,
    actorId: rec.id,
    actorType: 'api_key',
    role: rec.role,
    credentialId: rec.id,
    plan: rec.plan,
    expiresAt: rec.expiresAt === null ? null : Date.parse(rec.expiresAt),
  };
}

/** The 401 for a request that presented no (usable) bearer credential. */
export function missingCredential(): AppError {
  return new AppError('unauthorized', 'Send an access token or API key as `Authorization: Bearer <credential>`.', {
    headers: { 'www-authenticate': 'Bearer' },
  });
}

/** Parses `Authorization: Bearer …` and resolves it; every failure is a generic 401. */
export async function resolveCredential(deps: ResolveDeps, authorization: string | undefined): Promise<AuthContext> {
  // RFC 6750 b64token, plus `:` (the OAuth provider's tokens are `<user>:<grant>:<secret>`).
  const m = /^Bearer\s+([A-Za-z0-9._~+/=:-]+)\s*$/i.exec(authorization ?? '');
  if (!m) throw missingCredential();
  const token = m[1]!;
  if (token.includes(':')) return resolveOAuth(deps, token);
  return token.startsWith(API_KEY_PREFIX) ? resolveApiKey(deps, token) : resolveJwt(deps, token);
}
