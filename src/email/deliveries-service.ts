/** GET /v1/notifications/{id}/deliveries: where a notification went by email (docs/notifications.md). */
import { and, asc, eq } from 'drizzle-orm';
import { emailDeliveries } from '../db/schema';
import type { ServiceCtx } from '../lib/context';
import { unwrap } from '../lib/result';
import { tenantHubStub } from '../lib/stubs';
import type { EmailDelivery } from './schemas';

/**
 * The email deliveries of a notification the caller can see (404 otherwise, also across tenants):
 * all of them for admins, the caller's own for everyone else.
 */
export async function listDeliveries(ctx: ServiceCtx, { notificationId }: { notificationId: string }): Promise<{ data: EmailDelivery[] }> {
  unwrap(await tenantHubStub(ctx.env, ctx.tenantId).getNotification(ctx.tenantId, { id: ctx.actor.id, role: ctx.role }, notificationId));
  const rows = await ctx.db
    .select()
    .from(emailDeliveries)
    .where(
      ctx.scope.where(
        emailDeliveries,
        eq(emailDeliveries.notificationId, notificationId),
        ctx.role === 'admin' ? undefined : and(eq(emailDeliveries.userId, ctx.actor.id)),
      ),
    )
    .orderBy(asc(emailDeliveries.id))
    .all();
  return {
    data: rows.map((r) => ({
      id: r.id,
      notificationId: r.notificationId,
      channel: 'email' as const,
      recipientId: r.userId,
      status: r.status,
      reason: r.reason,
      attempts: r.attempts,
      nextAttemptAt: r.nextAttemptAt,
      providerMessageId: r.providerMessageId,
      lastStatusCode: r.lastStatusCode,
      lastError: r.lastError,
      createdAt: r.createdAt,
      updatedAt: r.updatedAt,
    })),
  };
}
