/**
 * Address verification (docs/notifications.md): signup emails a link; opening it and pressing its
 * button (POST) proves the address. Links are single-use (compare-and-set on `used_at`), expire
 * after 24 h and are stored only as peppered hashes. A new link can be asked for at most once a
 * minute and 5 times a day. An unverified account can sign in, but cannot join another tenant nor
 * receive email notifications.
 */
import { and, count, desc, eq, gt, isNull, sql } from 'drizzle-orm';
import { emailVerifications, users } from '../db/schema';
import { hashSecret, newSecret } from '../identity/secrets';
import type { RequestCtx, ServiceCtx } from '../lib/context';
import { AppError } from '../lib/problem';
import { createLogger } from '../observability/log';
import { publicUrl } from './deliveries';
import { renderEmail } from './render';
import { sendEmail } from './transport';

export const VERIFICATION_TTL_MS = 24 * 3600_000;
export const RESEND_MIN_INTERVAL_MS = 60_000;
export const RESEND_PER_DAY = 5;

function pepper(ctx: RequestCtx): string {
  if (!ctx.config.TOKEN_PEPPER) throw new Error('TOKEN_PEPPER is not set');
  return ctx.config.TOKEN_PEPPER;
}

/**
 * Writes a new link for `userId` and emails it (after the response: `waitUntil`). Returns when it
 * expires. Called by signup and by the re-send verb.
 */
export async function sendVerification(
  ctx: RequestCtx,
  { userId, address }: { userId: string; address: string },
): Promise<{ expiresAt: string }> {
  const token = newSecret('ev_');
  const expiresAt = new Date(ctx.now.getTime() + VERIFICATION_TTL_MS).toISOString();
  await ctx.db
    .insert(emailVerifications)
    .values({ tokenHash: await hashSecret(token, pepper(ctx)), userId, address, expiresAt, createdAt: ctx.now.toISOString() })
    .run();
  const link = `${publicUrl(ctx.config)}/v1/auth/verify-email/${token}`;
  const email = await renderEmail(
    { kind: 'verification', title: address, body: '', taskId: null, dueAt: null, dueDate: null, timeZone: 'UTC', locale: 'en', link },
    {
      id: `evl_${userId.slice(4)}${ctx.now.getTime().toString(36)}`,
      from: { address: ctx.config.EMAIL_FROM, name: ctx.config.EMAIL_FROM_NAME },
      to: address,
      links: {},
      now: ctx.now,
    },
  );
  ctx.waitUntil(
    sendEmail(ctx.env, ctx.config, email, email.messageId).then((r) => {
      if (!r.ok) createLogger({ handler: 'email' }).warn('verification email not sent', { userId, status: r.status, error: r.error });
    }),
  );
  return { expiresAt };
}

/** POST /v1/me/verify-email: a new link for the caller, rate-limited (429 with Retry-After). */
export async function resendVerification(ctx: ServiceCtx): Promise<{ sent: true; expiresAt: string }> {
  if (ctx.actor.type !== 'user') throw new AppError('forbidden', 'Only people have an email address to verify.');
  const user = await ctx.db.select().from(users).where(eq(users.id, ctx.actor.id)).get();
  if (!user) throw new AppError('not_found', 'User not found.');
  if (user.emailVerifiedAt) throw new AppError('conflict', 'Your email address is already verified.');
  const since = new Date(ctx.now.getTime() - 24 * 3600_000).toISOString();
  const [recent, last] = await Promise.all([
    ctx.db
      .select({ n: count() })
      .from(emailVerifications)
      .where(and(eq(emailVerifications.userId, user.id), gt(emailVerifications.createdAt, since)))
      .get(),
    ctx.db
      .select({ createdAt: emailVerifications.createdAt })
      .from(emailVerifications)
      .where(eq(emailVerifications.userId, user.id))
      .orderBy(desc(emailVerifications.createdAt))
      .limit(1)
      .get(),
  ]);
  const wait = last ? Date.parse(last.createdAt) + RESEND_MIN_INTERVAL_MS - ctx.now.getTime() : 0;
  if ((recent?.n ?? 0) >= RESEND_PER_DAY || wait > 0) {
    const retryAfter = (recent?.n ?? 0) >= RESEND_PER_DAY ? 3600 : Math.ceil(wait / 1000);
    throw new AppError('rate_limited', 'A verification link was sent recently; check your inbox or try again later.', {
      headers: { 'retry-after': String(retryAfter) },
    });
  }
  return { sent: true, ...(await sendVerification(ctx, { userId: user.id, address: user.email })) };
}

/** Checks a link without using it (the GET page). Unknown → 404, used → 409, expired → 410. */
export async function checkVerification(ctx: RequestCtx, { token }: { token: string }) {
  const row = await ctx.db
    .select()
    .from(emailVerifications)
    .where(eq(emailVerifications.tokenHash, await hashSecret(token, pepper(ctx))))
    .get();
  if (!row) throw new AppError('not_found', 'Unknown verification link.');
  if (row.usedAt) throw new AppError('conflict', 'This verification link was already used.');
  if (Date.parse(row.expiresAt) <= ctx.now.getTime()) throw new AppError('gone', 'This verification link has expired; ask for a new one.');
  return row;
}

/** POST /v1/auth/verify-email/{token}: uses the link once and marks the address verified. */
export async function verifyEmail(ctx: RequestCtx, { token }: { token: string }): Promise<{ verified: true; email: string }> {
  const row = await checkVerification(ctx, { token });
  const stamp = ctx.now.toISOString();
  const [used] = await ctx.db.batch([
    ctx.db
      .update(emailVerifications)
      .set({ usedAt: stamp })
      .where(
        and(eq(emailVerifications.tokenHash, row.tokenHash), isNull(emailVerifications.usedAt), gt(emailVerifications.expiresAt, stamp)),
      ),
    // Only the address the link was made for (an address changed since is not proven by it).
    ctx.db
      .update(users)
      .set({ emailVerifiedAt: sql`COALESCE(${users.emailVerifiedAt}, ${stamp})`, updatedAt: stamp })
      .where(
        and(
          eq(users.id, row.userId),
          eq(users.email, row.address),
          sql`EXISTS (SELECT 1 FROM email_verifications WHERE token_hash = ${row.tokenHash} AND used_at = ${stamp})`,
        ),
      ),
  ]);
  if (used.meta.changes !== 1) throw new AppError('conflict', 'This verification link was already used.');
  return { verified: true, email: row.address };
}
