/** Invitations: single-use, expiring tokens that let a person join a tenant with a role. */

import { and, asc, desc, eq, isNull, lt } from 'drizzle-orm';
import { insertWhere } from '../db/insert-where';
import { invitations, memberships, refreshTokens, tenants, users } from '../db/schema';
import { TenantScope } from '../db/tenant-scope';
import { sendVerification } from '../email/verification-service';
import { afterCommit, controlEvent, outboxInsert, outboxInsertWhere } from '../events/outbox';
import type { RequestCtx, ServiceCtx } from '../lib/context';
import { newId } from '../lib/ids';
import { decodeCursor, type PageInput, toPage } from '../lib/pagination';
import { AppError } from '../lib/problem';
import { auditInsert, auditInsertWhere, auditWritten, previousStatementChanged } from './audit';
import { assertStrongPassword, isUniqueViolation, normalizeEmail, throttleAccount } from './auth-service';
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
  const stamp = now.toISOString();
  const [res] = await ctx.db.batch([
    scope.update(
      invitations,
      { revokedAt: stamp },
      and(eq(invitations.id, id), isNull(invitations.acceptedAt), isNull(invitations.revokedAt)),
    ),
    // With the revocation, and only if it was this request's.
    auditInsertWhere(scope, ctx.actor, 'invitation.revoked', { type: 'invitation', id }, ctx, {}, previousStatementChanged),
  ]);
  if (res.meta.changes !== 1) throw new AppError('conflict', `Invitation ${id} was accepted or revoked meanwhile.`);
}

export interface AcceptInput {
  token: string;
  password?: string | undefined;
  name?: string | undefined;
  /** The user behind the request's access token, when one was presented and valid (API keys do not count). */
  sessionUserId?: string | undefined;
}

const newAccountFields = (input: AcceptInput) => [
  ...(input.password
    ? []
    : [{ in: 'body' as const, path: 'password', pointer: '/password', message: 'Required for a new account', code: 'required' }]),
  ...(input.name?.trim()
    ? []
    : [{ in: 'body' as const, path: 'name', pointer: '/name', message: 'Required for a new account', code: 'required' }]),
];

/** The one refusal for an existing account's wrong password (or another person's session). */
const refused = () =>
  new AppError('unauthorized', 'Invalid credentials for this invitation: accept signed in as the invited account, or with its password.', {
    headers: { 'www-authenticate': 'Bearer' },
  });

/**
 * Joins the invitation's tenant. An existing account proves itself with a
 * session of that account (its access token: preferred), or the way login
 * does: its password, under the same per-account throttle as login, and a
 * failure is audited on the account's own tenant (issue 13: no cheaper
 * password oracle than login). Without that session the request must carry
 * `name` + `password` whether or not the email is registered, and both paths
 * spend one argon2 computation, so nothing short of creating the account (as
 * sign-up would) tells whether the email has one. Single use is a compare-and-set: every
 * row (user, membership, refresh token, audit, events) is inserted only if
 * this request's mark on the invitation is the one that stuck, so a losing
 * accept leaves nothing behind.
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
  let newUser: typeof users.$inferInsert | undefined;
  if (!(user && input.sessionUserId === user.id)) {
    // Checked before looking at whether the account exists, so these answers tell nothing about it.
    const missing = newAccountFields(input);
    if (missing.length > 0)
      throw new AppError('validation_failed', 'Send a name and a password (or accept signed in as the invited account).', {
        errors: missing,
      });
    assertStrongPassword(input.password!, { email: inv.email, name: input.name! });
    // The account's login budget: guessing a password here costs what guessing it at login does.
    await throttleAccount(ctx, inv.email);
    if (user) {
      if (!(await verifyPassword(input.password!, user.passwordHash))) {
        await auditRefusal(ctx, user.id, inv, input.sessionUserId);
        throw refused();
      }
    } else {
      const id = newId('usr');
      const passwordHash = await hashPassword(input.password!);
      newUser = { id, email: inv.email, name: input.name!.trim(), passwordHash, createdAt: stamp, updatedAt: stamp };
      user = {
        id,
        email: inv.email,
        name: input.name!.trim(),
        passwordHash,
        timezone: null,
        emailVerifiedAt: null,
        createdAt: stamp,
        updatedAt: stamp,
      };
    }
  }
  // An unverified account joins no tenant besides one it is in (an account with none left may come back).
  // Checked only after the account proved it is the caller's, so the inviter learns nothing of it.
  if (!newUser && !user.emailVerifiedAt) {
    const elsewhere = await db.select({ t: memberships.tenantId }).from(memberships).where(eq(memberships.userId, user.id)).limit(1).get();
    if (elsewhere)
      throw new AppError('forbidden', 'Confirm your email address first (POST /v1/me/verify-email sends a new link), then accept again.');
  }
  if (!newUser) {
    const already = await db
      .select({ u: memberships.userId })
      .from(memberships)
      .where(and(eq(memberships.tenantId, inv.tenantId), eq(memberships.userId, user.id)))
      .get();
    if (already) throw new AppError('conflict', 'You are already a member of this tenant.');
  }
  const userId = user.id;
  const scope = new TenantScope(db, inv.tenantId);
  const refresh = await newRefreshToken(ctx, inv.tenantId, userId);
  // Every row after the mark commits only if this request's compare-and-set on the invitation stuck: the audit
  // entry (unique id) is written right after it only then, and everything else is conditional on that entry.
  const auditId = newId('aud');
  const ours = auditWritten(auditId);
  const accepted = controlEvent(inv.tenantId, 'invitation.accepted', { invitationId: inv.id, userId, role: inv.role }, now);
  const joined = controlEvent(inv.tenantId, 'member.joined', { userId, role: inv.role, invitationId: inv.id }, now);
  const results = await db
    .batch([
      db
        .update(invitations)
        .set({ acceptedAt: stamp, acceptedBy: userId })
        .where(and(eq(invitations.id, inv.id), isNull(invitations.acceptedAt), isNull(invitations.revokedAt))),
      auditInsertWhere(
        scope,
        { type: 'user', id: userId },
        'invitation.accepted',
        { type: 'invitation', id: inv.id },
        ctx,
        { role: inv.role },
        previousStatementChanged,
        auditId,
      ),
      ...(newUser ? [insertWhere(db, users, newUser, ours)] : []),
      insertWhere(db, memberships, { tenantId: inv.tenantId, userId, role: inv.role, createdAt: stamp, updatedAt: stamp }, ours),
      insertWhere(db, refreshTokens, refresh.row, ours),
      outboxInsertWhere(db, accepted, ours),
      outboxInsertWhere(db, joined, ours),
    ])
    .catch((err: unknown) => {
      // Another invitation's accept created this email's account meanwhile: the same answer as a used invitation.
      if (isUniqueViolation(err)) throw new AppError('conflict', 'This invitation has already been used.');
      throw err;
    });
  if (results[0].meta.changes !== 1) throw new AppError('conflict', 'This invitation has already been used.');
  forgetMembership(inv.tenantId, userId);
  await afterCommit(ctx, accepted, joined);
  // A new account proves its address like a signup does (docs/notifications.md).
  if (newUser) await sendVerification(ctx, { userId, address: inv.email });
  const tenant = await db.select().from(tenants).where(eq(tenants.id, inv.tenantId)).get();
  const accessToken = await accessTokenFor(ctx, inv.tenantId, userId, inv.role);
  return { user: userView(user), tenant: tenantView(tenant!), role: inv.role, ...session(accessToken, refresh.token) };
}

/** Audits a refused accept on the invited account's own (first) tenant, where its owner reads the log. */
async function auditRefusal(ctx: RequestCtx, userId: string, inv: typeof invitations.$inferSelect, sessionUserId: string | undefined) {
  const home = await ctx.db
    .select({ tenantId: memberships.tenantId })
    .from(memberships)
    .where(eq(memberships.userId, userId))
    .orderBy(asc(memberships.createdAt))
    .get();
  if (!home) return;
  await auditInsert(
    new TenantScope(ctx.db, home.tenantId),
    sessionUserId ? { type: 'user', id: sessionUserId } : { type: 'anonymous', id: null },
    'invitation.accept_refused',
    { type: 'user', id: userId },
    ctx,
    { invitationId: inv.id, invitingTenantId: inv.tenantId, reason: 'bad_password' },
  ).run();
}
