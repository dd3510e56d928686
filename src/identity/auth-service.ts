/** Sign-up, login, refresh and logout. Callers are anonymous until these succeed. */
import { and, asc, eq } from 'drizzle-orm';
import { memberships, refreshTokens, tenants, users } from '../db/schema';
import { TenantScope } from '../db/tenant-scope';
import { sendVerification } from '../email/verification-service';
import type { Caller, RequestCtx } from '../lib/context';
import { newId } from '../lib/ids';
import { AppError } from '../lib/problem';
import { auditInsert } from './audit';
import { pepperOf } from './context';
import { forgetMembership } from './credentials';
import { checkPasswordStrength, getDummyHash, hashPassword, needsRehash, verifyPassword } from './passwords';
import { hashSecret } from './secrets';
import { accessTokenFor, newRefreshToken, revokeFamily, rotateRefreshToken, session } from './sessions';
import { tenantView, userView } from './views';

export function normalizeEmail(email: string): string {
  return email.trim().toLowerCase();
}

/** 422 listing each strength rule the password breaks. */
export function assertStrongPassword(password: string, ctx: { email?: string; name?: string }): void {
  const issues = checkPasswordStrength(password, ctx);
  if (issues.length > 0) {
    throw new AppError('validation_failed', issues.map((i) => i.message).join(' '), {
      errors: issues.map((i) => ({ in: 'body' as const, path: 'password', pointer: '/password', message: i.message, code: i.code })),
    });
  }
}

/**
 * The per-account login budget (`login:account:<email>` on RL_AUTH), shared by login and invitation
 * accept, so a password costs the same to guess through either.
 */
export async function throttleAccount(ctx: RequestCtx, email: string): Promise<void> {
  const { success } = await ctx.env.RL_AUTH.limit({ key: `login:account:${normalizeEmail(email)}` });
  if (!success) {
    throw new AppError('rate_limited', 'Too many attempts; wait a minute and try again.', { headers: { 'retry-after': '60' } });
  }
}

export function isUniqueViolation(err: unknown): boolean {
  const msg = err instanceof Error ? `${err.message} ${String((err as { cause?: unknown }).cause ?? '')}` : String(err);
  return /UNIQUE constraint failed/i.test(msg);
}

export interface SignupInput {
  email: string;
  password: string;
  name: string;
  tenantName: string;
}

export async function signup(ctx: RequestCtx, input: SignupInput) {
  const { db, now } = ctx;
  const email = normalizeEmail(input.email);
  assertStrongPassword(input.password, { email, name: input.name });
  const exists = await db.select({ id: users.id }).from(users).where(eq(users.email, email)).get();
  if (exists) throw new AppError('conflict', 'An account with this email already exists; log in instead.');

  const userId = newId('usr');
  const tenantId = newId('tnt');
  const stamp = now.toISOString();
  const passwordHash = await hashPassword(input.password);
  const refresh = await newRefreshToken(ctx, tenantId, userId);
  const scope = new TenantScope(db, tenantId);
  try {
    await db.batch([
      db.insert(tenants).values({ id: tenantId, name: input.tenantName.trim(), createdAt: stamp, updatedAt: stamp }),
      db.insert(users).values({ id: userId, email, name: input.name.trim(), passwordHash, createdAt: stamp, updatedAt: stamp }),
      scope.insert(memberships, { userId, role: 'admin', createdAt: stamp, updatedAt: stamp }),
      db.insert(refreshTokens).values(refresh.row),
      auditInsert(scope, { type: 'user', id: userId }, 'auth.signup', { type: 'tenant', id: tenantId }, ctx),
    ]);
  } catch (err) {
    if (isUniqueViolation(err)) throw new AppError('conflict', 'An account with this email already exists; log in instead.');
    throw err;
  }
  // The address is proven by the link this sends (docs/notifications.md); the account works meanwhile.
  await sendVerification(ctx, { userId, address: email });
  const [user, tenant] = await Promise.all([
    db.select().from(users).where(eq(users.id, userId)).get(),
    db.select().from(tenants).where(eq(tenants.id, tenantId)).get(),
  ]);
  const accessToken = await accessTokenFor(ctx, tenantId, userId, 'admin');
  return { user: userView(user!), tenant: tenantView(tenant!), role: 'admin' as const, ...session(accessToken, refresh.token) };
}

const badLogin = () => new AppError('unauthorized', 'Invalid email or password.');

export interface LoginInput {
  email: string;
  password: string;
  tenantId?: string | undefined;
}

/**
 * The account behind an email and password and its memberships (oldest first), or the generic 401.
 * Same answer and comparable work for an unknown email and a wrong password: an unknown email is
 * verified against a dummy hash before failing. `tenantId` (login) must be one of the memberships.
 */
async function checkPassword(ctx: RequestCtx, input: LoginInput) {
  const { db } = ctx;
  const email = normalizeEmail(input.email);
  const user = await db.select().from(users).where(eq(users.email, email)).get();
  if (!user) {
    await verifyPassword(input.password, await getDummyHash());
    throw badLogin();
  }
  const all = await db
    .select({ tenant: tenants, role: memberships.role })
    .from(memberships)
    .innerJoin(tenants, eq(tenants.id, memberships.tenantId))
    .where(eq(memberships.userId, user.id))
    .orderBy(asc(memberships.createdAt))
    .all();
  const chosen = input.tenantId ? all.find((m) => m.tenant.id === input.tenantId) : all[0];
  const ok = await verifyPassword(input.password, user.passwordHash);
  if (!ok || !chosen) {
    const target = chosen ?? all[0];
    if (target && !ok) {
      await auditInsert(
        new TenantScope(db, target.tenant.id),
        { type: 'anonymous', id: null },
        'auth.login_failed',
        { type: 'user', id: user.id },
        ctx,
        { reason: 'bad_password' },
      ).run();
    }
    throw badLogin();
  }
  return { user, all, chosen };
}

/**
 * An account's identity and tenants from its email and password, without starting a session (the
 * OAuth consent page signs in with it; the caller throttles as login does).
 */
export async function verifyAccount(ctx: RequestCtx, input: { email: string; password: string }) {
  const { user, all } = await checkPassword(ctx, input);
  return { user: userView(user), tenants: all.map((m) => ({ id: m.tenant.id, name: m.tenant.name, role: m.role })) };
}

export async function login(ctx: RequestCtx, input: LoginInput) {
  const { db, now } = ctx;
  const { user, all, chosen } = await checkPassword(ctx, input);
  const scope = new TenantScope(db, chosen.tenant.id);
  const refresh = await newRefreshToken(ctx, chosen.tenant.id, user.id);
  const stmts = [
    db.insert(refreshTokens).values(refresh.row),
    auditInsert(scope, { type: 'user', id: user.id }, 'auth.login', { type: 'user', id: user.id }, ctx),
  ] as const;
  if (needsRehash(user.passwordHash)) {
    // Upgrade hashes made under an older policy while we hold the plaintext.
    const upgraded = await hashPassword(input.password);
    await db.batch([...stmts, db.update(users).set({ passwordHash: upgraded, updatedAt: now.toISOString() }).where(eq(users.id, user.id))]);
  } else {
    await db.batch([...stmts]);
  }
  forgetMembership(chosen.tenant.id, user.id);
  const accessToken = await accessTokenFor(ctx, chosen.tenant.id, user.id, chosen.role);
  return {
    user: userView(user),
    tenant: tenantView(chosen.tenant),
    role: chosen.role,
    tenants: all.map((m) => ({ id: m.tenant.id, name: m.tenant.name, role: m.role })),
    ...session(accessToken, refresh.token),
  };
}

export async function refresh(ctx: RequestCtx, input: { refreshToken: string }) {
  const out = await rotateRefreshToken(ctx, input.refreshToken, async (tenantId, userId, familyId) => {
    await auditInsert(
      new TenantScope(ctx.db, tenantId),
      { type: 'anonymous', id: null },
      'auth.refresh_reuse_detected',
      { type: 'user', id: userId },
      ctx,
      { familyId },
    ).run();
  });
  return out.session;
}

/**
 * Revokes the presented refresh token's family; with no token, every refresh
 * token of the calling user in this tenant. Unknown tokens are not an error
 * (RFC 7009 §2.2), so logout is safe to retry. `caller` is the bearer's, when one was presented and valid.
 */
export async function logout(ctx: RequestCtx, input: { refreshToken?: string | undefined; caller?: Caller | undefined }): Promise<void> {
  const { db, now } = ctx;
  const { refreshToken, caller } = input;
  if (refreshToken) {
    const row = await db
      .select()
      .from(refreshTokens)
      .where(eq(refreshTokens.tokenHash, await hashSecret(refreshToken, pepperOf(ctx.config))))
      .get();
    if (!row) return;
    if (caller && (caller.tenantId !== row.tenantId || caller.actor.id !== row.userId)) return;
    await revokeFamily(db, row.familyId, now);
    await auditInsert(
      new TenantScope(db, row.tenantId),
      { type: 'user', id: row.userId },
      'auth.logout',
      { type: 'user', id: row.userId },
      ctx,
    ).run();
    return;
  }
  if (caller?.actor.type !== 'user') {
    throw new AppError('unauthorized', 'Send the refresh token to revoke, or authenticate as the user to sign out everywhere.');
  }
  const scope = new TenantScope(db, caller.tenantId);
  await db.batch([
    scope.update(refreshTokens, { revokedAt: now.toISOString() }, and(eq(refreshTokens.userId, caller.actor.id))),
    auditInsert(scope, caller.actor, 'auth.logout', { type: 'user', id: caller.actor.id }, ctx, {
      everywhere: true,
    }),
  ]);
}
