/** Members of the caller's tenant. The last admin can be neither removed nor demoted. */
import { and, eq, gt, isNull, sql } from 'drizzle-orm';
import { memberships, refreshTokens, users } from '../db/schema';
import { afterCommit, controlEvent, outboxInsertWhere } from '../events/outbox';
import type { ServiceCtx } from '../lib/context';
import { newId } from '../lib/ids';
import { decodeCursor, type PageInput, toPage } from '../lib/pagination';
import { AppError } from '../lib/problem';
import { auditInsertWhere, auditWritten, previousStatementChanged } from './audit';
import { forgetMembership } from './credentials';
import type { Role } from './roles';

const notFound = (userId: string) => new AppError('not_found', `Member ${userId} not found.`);

export async function listMembers(ctx: ServiceCtx, { limit, cursor }: PageInput) {
  const after = decodeCursor(cursor);
  const rows = await ctx.db
    .select({ userId: memberships.userId, role: memberships.role, joinedAt: memberships.createdAt, email: users.email, name: users.name })
    .from(memberships)
    .innerJoin(users, eq(users.id, memberships.userId))
    .where(ctx.scope.where(memberships, after ? gt(memberships.userId, after) : undefined))
    .orderBy(memberships.userId)
    .limit(limit + 1)
    .all();
  return toPage(rows, limit, (r) => r.userId);
}

export async function getMember(ctx: ServiceCtx, { userId }: { userId: string }) {
  const row = await ctx.db
    .select({ userId: memberships.userId, role: memberships.role, joinedAt: memberships.createdAt, email: users.email, name: users.name })
    .from(memberships)
    .innerJoin(users, eq(users.id, memberships.userId))
    .where(ctx.scope.where(memberships, eq(memberships.userId, userId)))
    .get();
  if (!row) throw notFound(userId);
  return row;
}

/** SQL guard: the change may proceed unless it would leave the tenant without an admin. */
function keepsAnAdmin(tenantId: string) {
  return sql`(${memberships.role} <> 'admin' OR (SELECT COUNT(*) FROM memberships m2 WHERE m2.tenant_id = ${tenantId} AND m2.role = 'admin') > 1)`;
}

export async function changeRole(ctx: ServiceCtx, { userId, role }: { userId: string; role: Role }) {
  const { scope, now } = ctx;
  const before = await getMember(ctx, { userId });
  if (before.role === role) return before;
  const guard = role === 'admin' ? undefined : keepsAnAdmin(scope.tenantId);
  const stamp = now.toISOString();
  const event = controlEvent(scope.tenantId, 'member.role_changed', { userId, from: before.role, to: role }, now);
  const auditId = newId('aud');
  const [res] = await ctx.db.batch([
    // Compare-and-set on the role read, so two concurrent changes cannot both apply (and both be audited).
    scope.update(memberships, { role, updatedAt: stamp }, and(eq(memberships.userId, userId), eq(memberships.role, before.role), guard)),
    // The audit entry and the event commit with the change, and only if this request's update applied.
    auditInsertWhere(
      scope,
      ctx.actor,
      'member.role_changed',
      { type: 'user', id: userId },
      ctx,
      { from: before.role, to: role },
      previousStatementChanged,
      auditId,
    ),
    outboxInsertWhere(ctx.db, event, auditWritten(auditId)),
  ]);
  if (res.meta.changes !== 1) {
    const now = await getMember(ctx, { userId });
    if (now.role === role) return now; // a concurrent request made the same change
    if (now.role !== before.role) throw new AppError('conflict', 'The role was changed concurrently; read it and retry.');
    throw new AppError('conflict', 'The last admin of a tenant cannot be demoted; promote another member first.');
  }
  forgetMembership(scope.tenantId, userId);
  await ctx.sessions?.setRole(scope.tenantId, userId, role);
  await afterCommit(ctx, event);
  return getMember(ctx, { userId });
}

export async function removeMember(ctx: ServiceCtx, { userId }: { userId: string }): Promise<void> {
  const { db, scope, now } = ctx;
  await getMember(ctx, { userId });
  const event = controlEvent(scope.tenantId, 'member.removed', { userId }, now);
  const auditId = newId('aud');
  const [res] = await db.batch([
    scope.delete(memberships, and(eq(memberships.userId, userId), keepsAnAdmin(scope.tenantId))),
    // Only if this request's delete removed the row (a concurrent removal writes no second entry or event).
    auditInsertWhere(scope, ctx.actor, 'member.removed', { type: 'user', id: userId }, ctx, {}, previousStatementChanged, auditId),
    // Sign the member out of this tenant: their refresh tokens here stop working at once.
    scope.update(
      refreshTokens,
      { revokedAt: now.toISOString() },
      and(
        eq(refreshTokens.userId, userId),
        isNull(refreshTokens.revokedAt),
        sql`NOT EXISTS (SELECT 1 FROM memberships m3 WHERE m3.tenant_id = ${scope.tenantId} AND m3.user_id = ${userId})`,
      ),
    ),
    outboxInsertWhere(db, event, auditWritten(auditId)),
  ]);
  if (res.meta.changes !== 1) {
    await getMember(ctx, { userId }); // 404 if a concurrent request removed them
    throw new AppError('conflict', 'The last admin of a tenant cannot be removed; promote another member first.');
  }
  forgetMembership(scope.tenantId, userId);
  await ctx.sessions?.revoke(scope.tenantId, userId);
  await afterCommit(ctx, event);
}
