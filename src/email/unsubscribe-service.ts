/**
 * RFC 8058 one-click unsubscribe: the List-Unsubscribe URL carries a signed, single-purpose token
 * (./tokens.ts) naming the tenant, member and address; POSTing it turns that member's email off in
 * that tenant and suppresses the address there, with no login. Anything not genuine is a 404.
 */
import { and, eq } from 'drizzle-orm';
import { emailSuppressions, notificationPreferences } from '../db/schema';
import type { RequestCtx } from '../lib/context';
import { AppError } from '../lib/problem';
import { parsePreferences } from './deliveries';
import { DEFAULT_PREFERENCES } from './schemas';
import { type UnsubscribeClaims, verifyUnsubscribe } from './tokens';

async function claimsOf(ctx: RequestCtx, token: string): Promise<UnsubscribeClaims> {
  const claims = ctx.config.TOKEN_PEPPER ? await verifyUnsubscribe(ctx.config.TOKEN_PEPPER, token) : null;
  if (!claims) throw new AppError('not_found', 'Unknown unsubscribe link.');
  return claims;
}

/** Checks the link without acting (GET: mail scanners and prefetchers must not unsubscribe anyone). */
export async function checkUnsubscribe(ctx: RequestCtx, { token }: { token: string }): Promise<{ address: string }> {
  return { address: (await claimsOf(ctx, token)).address };
}

/** Turns the member's email off and suppresses the address in that tenant; idempotent. */
export async function unsubscribe(ctx: RequestCtx, { token }: { token: string }): Promise<{ unsubscribed: true; address: string }> {
  const c = await claimsOf(ctx, token);
  const current = await ctx.db
    .select({ prefs: notificationPreferences.prefs })
    .from(notificationPreferences)
    .where(and(eq(notificationPreferences.tenantId, c.tenantId), eq(notificationPreferences.userId, c.userId)))
    .get();
  const prefs = current ? parsePreferences(current.prefs) : DEFAULT_PREFERENCES;
  const off = { ...prefs, email: { ...prefs.email, enabled: false } };
  const stamp = ctx.now.toISOString();
  await ctx.db.batch([
    ctx.db
      .insert(notificationPreferences)
      .values({ tenantId: c.tenantId, userId: c.userId, prefs: off, updatedAt: stamp })
      .onConflictDoUpdate({
        target: [notificationPreferences.tenantId, notificationPreferences.userId],
        set: { prefs: off, updatedAt: stamp },
      }),
    ctx.db.insert(emailSuppressions).values({ address: c.address, scope: c.tenantId, reason: 'unsubscribed' }).onConflictDoNothing(),
  ]);
  return { unsubscribed: true, address: c.address };
}
