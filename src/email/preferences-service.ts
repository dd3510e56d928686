/** GET|PUT /v1/me/notification-preferences: a member's channels, quiet hours and digest (docs/notifications.md). */
import { and, eq } from 'drizzle-orm';
import { emailSuppressions, notificationPreferences, users } from '../db/schema';
import type { ServiceCtx } from '../lib/context';
import { AppError } from '../lib/problem';
import { parsePreferences } from './deliveries';
import { DEFAULT_PREFERENCES, type NotificationPreferences } from './schemas';

function personOnly(ctx: ServiceCtx): string {
  if (ctx.actor.type !== 'user') throw new AppError('forbidden', 'Notification preferences belong to people; API keys have none.');
  return ctx.actor.id;
}

export async function getPreferences(ctx: ServiceCtx): Promise<NotificationPreferences> {
  const userId = personOnly(ctx);
  const row = await ctx.db
    .select({ prefs: notificationPreferences.prefs })
    .from(notificationPreferences)
    .where(ctx.scope.where(notificationPreferences, eq(notificationPreferences.userId, userId)))
    .get();
  return row ? parsePreferences(row.prefs) : DEFAULT_PREFERENCES;
}

/**
 * Replaces the caller's preferences. The address must be the account's own (the only one proven);
 * turning email on again lifts the caller's own one-click unsubscribe in this tenant (a bounce stays).
 */
export async function putPreferences(ctx: ServiceCtx, input: NotificationPreferences): Promise<NotificationPreferences> {
  const userId = personOnly(ctx);
  const user = await ctx.db.select({ email: users.email }).from(users).where(eq(users.id, userId)).get();
  if (!user) throw new AppError('not_found', 'User not found.');
  if (input.email.address !== null && input.email.address.toLowerCase() !== user.email.toLowerCase()) {
    const message = "Only the account's own address can receive email (null means that address).";
    throw new AppError('validation_failed', message, {
      errors: [{ in: 'body', path: 'email.address', pointer: '/email/address', message, code: 'invalid' }],
    });
  }
  const prefs: NotificationPreferences = { ...input, email: { ...input.email, address: input.email.address?.toLowerCase() ?? null } };
  const stamp = ctx.now.toISOString();
  const upsert = ctx.db
    .insert(notificationPreferences)
    .values({ tenantId: ctx.tenantId, userId, prefs, updatedAt: stamp })
    .onConflictDoUpdate({ target: [notificationPreferences.tenantId, notificationPreferences.userId], set: { prefs, updatedAt: stamp } });
  if (prefs.email.enabled) {
    const address = (prefs.email.address ?? user.email).toLowerCase();
    await ctx.db.batch([
      upsert,
      ctx.db
        .delete(emailSuppressions)
        .where(
          and(
            eq(emailSuppressions.address, address),
            eq(emailSuppressions.scope, ctx.tenantId),
            eq(emailSuppressions.reason, 'unsubscribed'),
          ),
        ),
    ]);
  } else await upsert.run();
  return prefs;
}
