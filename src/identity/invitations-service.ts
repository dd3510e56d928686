/** Invitations: single-use, expiring tokens that let a person join a tenant with a role. */
import { and, desc, eq, isNull, lt, sql } from 'drizzle-orm';
import { invitations, memberships, refreshTokens, tenants, users } from '../db/schema';
import { TenantScope } from '../db/tenant-scope';
import { afterCommit, controlEvent, outboxInsert, outboxInsertWhere } from '../events/outbox';
import type { RequestCtx, ServiceCtx } from '../lib/context';
import { newId } from '../lib/ids';
import { decodeCursor, type PageInput, toPage } from '../lib/pagination';
import { AppError } from '../lib/problem';
import { auditInsert } from './audit';
import { assertStrongPassword, isUniqueViolation, normalizeEmail } from './auth-service';
import { pepperOf } from './context';
import { forgetMembership } from './credentials';
import { hashPassword, verifyPassword } from './passwords';
import type { Role } from './roles';
import { hashSecret, newSecret } from './secrets';
import { accessTokenFor, newRefreshToken, session } from './sessions';
import { invitationView, tenantView, userView } from './views';

export const INVITATION_PREFIX = 'inv_';
export const INVITATION_TTL_MS = 7 * 24 * 3600_000;

export async function createInvitation(ctx: ServiceCtx, input: { email: string; role: Role }) {
  const { db, scope, now } = ctx;
  const email = normalizeEmail(input.email);
  const member = await db
    .select({ userId: memberships.userId })
    .from(memberships)
    .innerJoin(users, eq(users.id, memberships.userId))
    .where(scope.where(memberships, eq(users.email, email)))
    .get();
  if (member) throw new AppError('conflict', `${email} is already a member of this tenant.`);
  const token = newSecret(INVITATION_PREFIX);
  const id = newId('inv');
  const event = controlEvent(scope.tenantId, 'invitation.created', { invitationId: id, email, role: input.role }, now);
  await db.batch([
    scope.insert(invitations, {
      id,
      email,
      role: input.role,
      tokenHash: await hashSecret(token, pepperOf(ctx.config)),
      invitedBy: ctx.actor.id,
      expiresAt: new Date(now.getTime() + INVITATION_TTL_MS).toISOString(),
      createdAt: now.toISOString(),
    }),
    auditInsert(scope, ctx.actor, 'invitation.created', { type: 'invitation', id }, ctx, { email, role: input.role }),
    outboxInsert(db, event),
  ]);
  await afterCommit(ctx, event);
  const row = (await scope.select(invitations, eq(invitations.id, id)).get()) as typeof invitations.$inferSelect;
  return { ...invitationView(row), token };
}

export async function listInvitations(ctx: ServiceCtx, { limit, cursor }: PageInput) {
  const after = decodeCursor(cursor);
  const rows = (await ctx.scope
    .select(invitations, after ? lt(invitations.id, after) : undefined)
    .orderBy(desc(invitations.id))
    .limit(limit + 1)
    .all()) as (typeof invitations.$inferSelect)[];
  const page = toPage(rows, limit, (r) => r.id);
  return { data: page.data.map(invitationView), nextCursor: page.nextCursor };
}

export async function getInvitation(ctx: ServiceCtx, { id }: { id: string }) {
  const row = (await ctx.scope.select(invitations, eq(invitations.id, id)).get()) as typeof invitations.$inferSelect | undefined;
  if (!row) throw new AppError('not_found', `Invitation ${id} not found.`);
  return invitationView(row);
}

export async function revokeInvitation(ctx: ServiceCtx, { id }: { id: string }): Promise<void> {
  const { scope, now } = ctx;
  const inv = await getInvitation(ctx, { id });
  if (inv.status !== 'pending') throw new AppError('conflict', `Invitation ${id} is ${inv.status} and cannot be revoked.`);
  const res = await scope
    .update(
      invitations,
      { revokedAt: now.toISOString() },
      and(eq(invitations.id, id), isNull(invitations.acceptedAt), isNull(invitations.revokedAt)),
    )
    .run();
  if (res.meta.changes !== 1) throw new AppError('conflict', `Invitation ${id} was accepted or revoked meanwhile.`);
  await auditInsert(scope, ctx.actor, 'invitation.revoked', { type: 'invitation', id }, ctx).run();
}

export interface AcceptInput {
  token: string;
  password?: string | undefined;
  name?: string | undefined;
}

/**
 * Joins the invitation's tenant. An existing account proves itself with its
 * password; a new one is created from `name` + `password`. Single use is a
 * compare-and-set: the membership row is inserted only if this request's mark
 * on the invitation is the one that stuck.
 */
export async function acceptInvitation(ctx: RequestCtx, input: AcceptInput) {
  const { db, now } = ctx;
  const tokenHash = await hashSecret(input.token, pepperOf(ctx.config));
  const inv = await db.select().from(invitations).where(eq(invitations.tokenHash, tokenHash)).get();
  if (!inv) throw new AppError('not_found', 'Invitation not found.');
  if (inv.acceptedAt) throw new AppError('conflict', 'This invitation has already been used.');
  if (inv.revokedAt || Date.parse(inv.expiresAt) <= now.getTime())
    throw new AppError('gone', 'This invitation has expired or was revoked.');

  let user = await db.select().from(users).where(eq(users.email, inv.email)).get();
  const stamp = now.toISOString();
  const stmts = [];
  if (user) {
    if (!input.password || !(await verifyPassword(input.password, user.passwordHash))) {
      throw new AppError('unauthorized', 'An account exists for this email: send its password to accept.');
    }
    const already = await db
      .select({ u: memberships.userId })
      .from(memberships)
      .where(and(eq(memberships.tenantId, inv.tenantId), eq(memberships.userId, user.id)))
      .get();
    if (already) throw new AppError('conflict', 'You are already a member of this tenant.');
  } else {
    const missing = [
      ...(input.password
        ? []
        : [{ in: 'body' as const, path: 'password', pointer: '/password', message: 'Required for a new account', code: 'required' }]),
      ...(input.name?.trim()
        ? []
        : [{ in: 'body' as const, path: 'name', pointer: '/name', message: 'Required for a new account', code: 'required' }]),
    ];
    if (missing.length > 0) throw new AppError('validation_failed', 'A new account needs a name and a password.', { errors: missing });
    assertStrongPassword(input.password!, { email: inv.email, name: input.name! });
    const id = newId('usr');
    const passwordHash = await hashPassword(input.password!);
    stmts.push(
      db.insert(users).values({ id, email: inv.email, name: input.name!.trim(), passwordHash, createdAt: stamp, updatedAt: stamp }),
    );
    user = { id, email: inv.email, name: input.name!.trim(), passwordHash, createdAt: stamp, updatedAt: stamp };
  }
  const userId = user.id;
  const scope = new TenantScope(db, inv.tenantId);
  const refresh = await newRefreshToken(ctx, inv.tenantId, userId);
  // Both events commit only if this request's compare-and-set on the invitation stuck (same test as the membership insert).
  const ours = sql`EXISTS (SELECT 1 FROM invitations WHERE id = ${inv.id} AND accepted_by = ${userId} AND accepted_at = ${stamp})`;
  const accepted = controlEvent(inv.tenantId, 'invitation.accepted', { invitationId: inv.id, userId, role: inv.role }, now);
  const joined = controlEvent(inv.tenantId, 'member.joined', { userId, role: inv.role, invitationId: inv.id }, now);
  const results = await db
    .batch([
      db
        .update(invitations)
        .set({ acceptedAt: stamp, acceptedBy: userId })
        .where(and(eq(invitations.id, inv.id), isNull(invitations.acceptedAt), isNull(invitations.revokedAt))),
      ...stmts,
      // Inserted only if the compare-and-set above was ours (INSERT … SELECT … WHERE).
      db.insert(memberships).select(
        db
          .select({
            tenantId: sql<string>`${inv.tenantId}`.as('tenant_id'),
            userId: sql<string>`${userId}`.as('user_id'),
            role: sql<Role>`${inv.role}`.as('role'),
            createdAt: sql<string>`${stamp}`.as('created_at'),
            updatedAt: sql<string>`${stamp}`.as('updated_at'),
          })
          .from(invitations)
          .where(and(eq(invitations.id, inv.id), eq(invitations.acceptedBy, userId), eq(invitations.acceptedAt, stamp))),
      ),
      db.insert(refreshTokens).values(refresh.row),
      auditInsert(scope, { type: 'user', id: userId }, 'invitation.accepted', { type: 'invitation', id: inv.id }, ctx, {
        role: inv.role,
      }),
      outboxInsertWhere(db, accepted, ours),
      outboxInsertWhere(db, joined, ours),
    ])
    .catch((err: unknown) => {
      // A concurrent accept won the race (its new account holds the email): the same answer as a used invitation.
      if (isUniqueViolation(err)) throw new AppError('conflict', 'This invitation has already been used.');
      throw err;
    });
  if (results[0].meta.changes !== 1) throw new AppError('conflict', 'This invitation has already been used.');
  forgetMembership(inv.tenantId, userId);
  await afterCommit(ctx, accepted, joined);
  const tenant = await db.select().from(tenants).where(eq(tenants.id, inv.tenantId)).get();
  const accessToken = await accessTokenFor(ctx, inv.tenantId, userId, inv.role);
  return { user: userView(user), tenant: tenantView(tenant!), role: inv.role, ...session(accessToken, refresh.token) };
}
