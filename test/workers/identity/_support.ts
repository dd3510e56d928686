/**
 * Shared helpers for the identity suites (on top of the kit, test/support/workers). Black-box first: tests drive the
 * Worker over HTTP; D1 is read directly only to prove "nothing changed" and to inspect what a
 * client cannot see (hashes, revocation marks).
 */

import { env } from 'cloudflare:workers';
import { type JWK, SignJWT } from 'jose';
import { verifyEmail } from '../../support/workers/email';
import { call, expectJson } from '../../support/workers/http';
import { PASSWORD, type Role, type TestTenant } from '../../support/workers/tenants';

/** The problem body without what legitimately differs between two requests. */
export function stableProblem(body: Record<string, any>): Record<string, any> {
  const { requestId: _r, instance: _i, ...rest } = body;
  return rest;
}

export async function login(email: string, password = PASSWORD, tenantId?: string): Promise<Response> {
  return call('/v1/auth/login', { body: { email, password, ...(tenantId ? { tenantId } : {}) } });
}

/** Logs in and returns a session shaped like the helpers' TestTenant. */
export async function loginOk(email: string, tenantId?: string): Promise<TestTenant & { role: Role }> {
  const body = await expectJson(await login(email, PASSWORD, tenantId), 200);
  return {
    tenantId: body.tenant.id,
    userId: body.user.id,
    email,
    accessToken: body.accessToken,
    refreshToken: body.refreshToken,
    role: body.role,
  };
}

export async function refresh(refreshToken: string): Promise<Response> {
  return call('/v1/auth/refresh', { body: { refreshToken } });
}

export async function invite(
  owner: TestTenant,
  email: string,
  role: Role = 'member',
): Promise<{ id: string; token: string; body: Record<string, any> }> {
  const body = await expectJson(await call('/v1/invitations', { token: owner.accessToken, body: { email, role } }), 201);
  return { id: body.id, token: body.token, body };
}

/** Brings an existing account (`user`) into `owner`'s tenant with `role` (verifies its address, then accepts with the account's own session). */
export async function joinExisting(owner: TestTenant, user: TestTenant, role: Role = 'member'): Promise<TestTenant> {
  // Only a verified address joins another tenant (docs/notifications.md).
  if (!(await expectJson(await call('/v1/me', { token: user.accessToken }), 200)).user.emailVerified) await verifyEmail(user);
  const { token } = await invite(owner, user.email, role);
  const body = await expectJson(await call('/v1/invitations/accept', { token: user.accessToken, body: { token } }), 200);
  return {
    tenantId: body.tenant.id,
    userId: body.user.id,
    email: user.email,
    accessToken: body.accessToken,
    refreshToken: body.refreshToken,
  };
}

export async function getStatus(path: string, token: string): Promise<number> {
  const res = await call(path, { token });
  await res.body?.cancel();
  return res.status;
}

export async function tenantName(t: TestTenant): Promise<string> {
  return (await expectJson(await call('/v1/tenant', { token: t.accessToken }), 200)).name;
}

/** Every audit entry of the tenant (admin token), newest first. */
export async function auditEntries(admin: TestTenant): Promise<Record<string, any>[]> {
  const out: Record<string, any>[] = [];
  let cursor: string | null = null;
  do {
    const q: string = cursor ? `?limit=100&cursor=${encodeURIComponent(cursor)}` : '?limit=100';
    const page = await expectJson(await call(`/v1/audit-log${q}`, { token: admin.accessToken }), 200);
    out.push(...page.data);
    cursor = page.nextCursor;
  } while (cursor);
  return out;
}

// ---------------------------------------------------------------------------------------------
// D1 snapshots: "nothing changed" is checked on the rows themselves, not only on what the API shows.
// ---------------------------------------------------------------------------------------------

const SNAPSHOT_TABLES: Record<string, { where: string; ignore?: string[] }> = {
  tenants: { where: 'id = ?1' },
  memberships: { where: 'tenant_id = ?1' },
  invitations: { where: 'tenant_id = ?1' },
  // last_used_at is written after any successful use of a key (waitUntil) and is not a "change" by an attacker.
  api_keys: { where: 'tenant_id = ?1', ignore: ['last_used_at'] },
  refresh_tokens: { where: 'tenant_id = ?1' },
};

/** Every identity row owned by `tenantId` (audit log excluded: failed attempts may be audited). */
export async function snapshotTenant(tenantId: string): Promise<Record<string, unknown[]>> {
  const out: Record<string, unknown[]> = {};
  for (const [table, { where, ignore = [] }] of Object.entries(SNAPSHOT_TABLES)) {
    const { results } = await env.DB.prepare(`SELECT * FROM ${table} WHERE ${where} ORDER BY 1, 2`)
      .bind(tenantId)
      .all<Record<string, unknown>>();
    out[table] = results.map((r) => Object.fromEntries(Object.entries(r).filter(([k]) => !ignore.includes(k))));
  }
  return out;
}

export async function auditCount(tenantId: string): Promise<number> {
  const row = await env.DB.prepare('SELECT COUNT(*) AS n FROM audit_log WHERE tenant_id = ?1').bind(tenantId).first<{ n: number }>();
  return row?.n ?? 0;
}

// ---------------------------------------------------------------------------------------------
// JWT forging (attacks, jwks): the test runtime sees the same JWT_PRIVATE_KEYS as the Worker.
// ---------------------------------------------------------------------------------------------

export function privateKeys(): JWK[] {
  const raw = (env as unknown as { JWT_PRIVATE_KEYS?: string }).JWT_PRIVATE_KEYS;
  if (!raw) throw new Error('JWT_PRIVATE_KEYS is not bound in the test runtime');
  return JSON.parse(raw) as JWK[];
}

export const ISSUER = (env as unknown as { JWT_ISSUER: string }).JWT_ISSUER;
export const AUDIENCE = (env as unknown as { JWT_AUDIENCE: string }).JWT_AUDIENCE;

export interface ForgeOptions {
  sub: string;
  tid: string;
  role?: Role | string;
  iss?: string;
  aud?: string;
  iat?: number;
  exp?: number;
  nbf?: number;
  jti?: string;
  kid?: string;
  typ?: string;
  /** A private JWK to sign with (default: the Worker's signing key). */
  key?: JWK;
}

/** An ES256 access token; with no overrides it is indistinguishable from one the Worker issues. */
export async function forgeAccessToken(o: ForgeOptions): Promise<string> {
  const jwk = o.key ?? privateKeys()[0]!;
  const { importJWK } = await import('jose');
  const key = await importJWK({ ...jwk, alg: 'ES256' }, 'ES256');
  const now = Math.floor(Date.now() / 1000);
  const iat = o.iat ?? now;
  const jwt = new SignJWT({ tid: o.tid, role: o.role ?? 'admin' })
    .setProtectedHeader({ alg: 'ES256', kid: o.kid ?? jwk.kid!, typ: o.typ ?? 'at+jwt' })
    .setSubject(o.sub)
    .setIssuer(o.iss ?? ISSUER)
    .setAudience(o.aud ?? AUDIENCE)
    .setIssuedAt(iat)
    .setExpirationTime(o.exp ?? iat + 900)
    .setJti(o.jti ?? `jti_forged${Math.random().toString(36).slice(2)}`);
  if (o.nbf !== undefined) jwt.setNotBefore(o.nbf);
  return jwt.sign(key);
}

export function b64url(data: string | Uint8Array): string {
  const bytes = typeof data === 'string' ? new TextEncoder().encode(data) : data;
  let s = '';
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

export function decodeJwtPart(part: string): Record<string, any> {
  return JSON.parse(atob(part.replace(/-/g, '+').replace(/_/g, '/'))) as Record<string, any>;
}
