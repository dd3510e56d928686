/**
 * Sessions: an access JWT plus an opaque refresh token. Refresh tokens rotate on
 * every use and belong to a family; presenting a used one revokes the whole
 * family (OAuth 2.0 Security BCP, RFC 9700 §4.14.2).
 */
import { and, eq, isNull, sql } from 'drizzle-orm';
import type { Db } from '../db/client';
import { memberships, refreshTokens } from '../db/schema';
import type { RequestCtx } from '../lib/context';
import { newId } from '../lib/ids';
import { AppError } from '../lib/problem';
import { jwtSettings, pepperOf } from './context';
import { forgetMembership } from './credentials';
import { ACCESS_TOKEN_TTL_SECONDS, signAccessToken } from './jwt';
import type { Role } from './roles';
import { hashSecret, newSecret } from './secrets';

export const REFRESH_TOKEN_PREFIX = 'ert_';
export const REFRESH_TOKEN_TTL_MS = 30 * 24 * 3600_000;

/** What issuing tokens needs from the request: its configuration and its clock. */
type TokenCtx = Pick<RequestCtx, 'config' | 'now'>;

export interface IssuedSession {
  accessToken: string;
  refreshToken: string;
  tokenType: 'Bearer';
  expiresIn: number;
}

/** Builds the statements that start (or continue) a refresh family; run them in the caller's batch. */
export async function newRefreshToken(deps: TokenCtx, tenantId: string, userId: string, familyId = newId('rtf')) {
  const token = newSecret(REFRESH_TOKEN_PREFIX);
  const id = newId('rtk');
  const row = {
    id,
    tenantId,
    userId,
    familyId,
    tokenHash: await hashSecret(token, pepperOf(deps.config)),
    expiresAt: new Date(deps.now.getTime() + REFRESH_TOKEN_TTL_MS).toISOString(),
  };
  return { token, id, row };
}

export async function accessTokenFor(deps: TokenCtx, tenantId: string, userId: string, role: Role): Promise<string> {
  return signAccessToken(jwtSettings(deps.config), { sub: userId, tid: tenantId, role, jti: newId('jti') }, deps.now.getTime());
}

export function session(accessToken: string, refreshToken: string): IssuedSession {
  return { accessToken, refreshToken, tokenType: 'Bearer', expiresIn: ACCESS_TOKEN_TTL_SECONDS };
}

const invalidRefresh = () => new AppError('unauthorized', 'The refresh token is invalid, expired or revoked.');

export async function revokeFamily(db: Db, familyId: string, now: Date): Promise<void> {
  await db
    .update(refreshTokens)
    .set({ revokedAt: now.toISOString() })
    .where(and(eq(refreshTokens.familyId, familyId), isNull(refreshTokens.revokedAt)))
    .run();
}

export interface RefreshOutcome {
  session: IssuedSession;
  tenantId: string;
  userId: string;
  reuse?: never;
}

/**
 * Exchanges a refresh token for a new session. Rotation is a compare-and-set in
 * one D1 batch: the old row is marked used only if still unused, and the new row
 * is inserted only if that mark is ours, so two concurrent uses cannot both win.
 */
export async function rotateRefreshToken(
  deps: Pick<RequestCtx, 'db' | 'config' | 'now'>,
  presented: string,
  onReuse: (tenantId: string, userId: string, familyId: string) => Promise<void>,
): Promise<RefreshOutcome> {
  const { db, now } = deps;
  if (!presented.startsWith(REFRESH_TOKEN_PREFIX)) throw invalidRefresh();
  const hash = await hashSecret(presented, pepperOf(deps.config));
  const row = await db.select().from(refreshTokens).where(eq(refreshTokens.tokenHash, hash)).get();
  if (!row || row.revokedAt || Date.parse(row.expiresAt) <= now.getTime()) throw invalidRefresh();
  if (row.usedAt) {
    await revokeFamily(db, row.familyId, now);
    await onReuse(row.tenantId, row.userId, row.familyId);
    throw invalidRefresh();
  }
  // Refresh always re-reads the membership: a removed member cannot refresh, a demoted one gets the new role.
  const member = await db
    .select({ role: memberships.role })
    .from(memberships)
    .where(and(eq(memberships.tenantId, row.tenantId), eq(memberships.userId, row.userId)))
    .get();
  if (!member) {
    await revokeFamily(db, row.familyId, now);
    throw invalidRefresh();
  }
  forgetMembership(row.tenantId, row.userId);
  const next = await newRefreshToken(deps, row.tenantId, row.userId, row.familyId);
  const [claimed] = await db.batch([
    db
      .update(refreshTokens)
      .set({ usedAt: now.toISOString(), replacedBy: next.id })
      .where(and(eq(refreshTokens.id, row.id), isNull(refreshTokens.usedAt), isNull(refreshTokens.revokedAt))),
    // The successor is inserted only if the compare-and-set above was ours (INSERT … SELECT … WHERE).
    db.insert(refreshTokens).select(
      db
        .select({
          id: sql<string>`${next.row.id}`.as('id'),
          tenantId: sql<string>`${next.row.tenantId}`.as('tenant_id'),
          userId: sql<string>`${next.row.userId}`.as('user_id'),
          familyId: sql<string>`${next.row.familyId}`.as('family_id'),
          tokenHash: sql<string>`${next.row.tokenHash}`.as('token_hash'),
          usedAt: sql<string | null>`NULL`.as('used_at'),
          replacedBy: sql<string | null>`NULL`.as('replaced_by'),
          revokedAt: sql<string | null>`NULL`.as('revoked_at'),
          expiresAt: sql<string>`${next.row.expiresAt}`.as('expires_at'),
          createdAt: sql<string>`${now.toISOString()}`.as('created_at'),
        })
        .from(refreshTokens)
        .where(and(eq(refreshTokens.id, row.id), eq(refreshTokens.replacedBy, next.id))),
    ),
  ]);
  if (claimed.meta.changes !== 1) {
    // Someone else used this token a moment ago: that is reuse.
    await revokeFamily(db, row.familyId, now);
    await onReuse(row.tenantId, row.userId, row.familyId);
    throw invalidRefresh();
  }
  const accessToken = await accessTokenFor(deps, row.tenantId, row.userId, member.role);
  return { session: session(accessToken, next.token), tenantId: row.tenantId, userId: row.userId };
}
