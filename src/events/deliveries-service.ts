/** Delivery log, manual replay, recovery and test events of one webhook endpoint. */
import { and, asc, desc, eq, gte, inArray, isNull, lt, or, sql } from 'drizzle-orm';
import { webhookAttempts, webhookDeliveries } from '../db/schema';
import { bindChunks } from '../lib/bind-chunks';
import type { ServiceCtx } from '../lib/context';
import { newId } from '../lib/ids';
import { decodeCursor, toPage } from '../lib/pagination';
import { AppError } from '../lib/problem';
import type { DeliveryJob } from '../queue/messages';
import { sendInBatches } from '../queue/send';
import { payloadOf } from './fanout';
import { loadEndpoint } from './webhooks-service';

type Delivery = typeof webhookDeliveries.$inferSelect;
type Attempt = typeof webhookAttempts.$inferSelect;

const RECOVER_LIMIT = 1000;

/** One delivery of one endpoint. */
export interface DeliveryRef {
  endpointId: string;
  deliveryId: string;
}

function deliveryView(d: Delivery, attempts: Attempt[]) {
  return {
    id: d.id,
    endpointId: d.endpointId,
    eventId: d.eventId,
    eventType: d.eventType,
    sequence: d.sequence,
    status: d.status,
    attempts: d.attempts,
    nextAttemptAt: d.status === 'pending' ? d.nextAttemptAt : null,
    lastStatusCode: d.lastStatusCode,
    lastError: d.lastError,
    createdAt: d.createdAt,
    updatedAt: d.updatedAt,
    attemptLog: attempts.map((a) => ({
      attempt: a.attempt,
      trigger: a.trigger,
      startedAt: a.startedAt,
      durationMs: a.durationMs,
      statusCode: a.statusCode,
      error: a.error,
      responseExcerpt: a.responseExcerpt,
    })),
  };
}

async function withAttempts(ctx: ServiceCtx, rows: Delivery[]) {
  if (rows.length === 0) return [];
  const attempts: Attempt[] = [];
  // One query per BIND_CHUNK ids (the tenant scope binds one value more).
  for (const chunk of bindChunks(rows)) {
    const ids = chunk.map((r) => r.id);
    attempts.push(
      ...((await ctx.scope
        .select(webhookAttempts, inArray(webhookAttempts.deliveryId, ids))
        .orderBy(asc(webhookAttempts.deliveryId), asc(webhookAttempts.attempt))
        .all()) as Attempt[]),
    );
  }
  return rows.map((r) =>
    deliveryView(
      r,
      attempts.filter((a) => a.deliveryId === r.id),
    ),
  );
}

export async function listDeliveries(
  ctx: ServiceCtx,
  q: { endpointId: string; status?: Delivery['status'] | undefined; limit: number; cursor?: string | undefined },
) {
  const { endpointId } = q;
  await loadEndpoint(ctx, endpointId);
  const after = decodeCursor(q.cursor);
  const rows = (await ctx.scope
    .select(
      webhookDeliveries,
      and(
        eq(webhookDeliveries.endpointId, endpointId),
        q.status ? eq(webhookDeliveries.status, q.status) : undefined,
        after ? lt(webhookDeliveries.id, after) : undefined,
      ),
    )
    .orderBy(desc(webhookDeliveries.id))
    .limit(q.limit + 1)
    .all()) as Delivery[];
  const page = toPage(rows, q.limit, (r) => r.id);
  return { data: await withAttempts(ctx, page.data), nextCursor: page.nextCursor };
}

async function loadDelivery(ctx: ServiceCtx, endpointId: string, deliveryId: string): Promise<Delivery> {
  await loadEndpoint(ctx, endpointId);
  const row = (await ctx.scope
    .select(webhookDeliveries, and(eq(webhookDeliveries.id, deliveryId), eq(webhookDeliveries.endpointId, endpointId)))
    .get()) as Delivery | undefined;
  if (!row) throw new AppError('not_found', `Delivery ${deliveryId} not found.`);
  return row;
}

export async function getDelivery(ctx: ServiceCtx, { endpointId, deliveryId }: DeliveryRef) {
  const [view] = await withAttempts(ctx, [await loadDelivery(ctx, endpointId, deliveryId)]);
  return view!;
}

async function assertEnabled(ctx: ServiceCtx, endpointId: string): Promise<void> {
  const ep = await loadEndpoint(ctx, endpointId);
  if (!ep.enabled)
    throw new AppError('conflict', `Webhook ${endpointId} is disabled; re-enable it (PATCH {"enabled": true}) before resending.`);
}

/**
 * Starts a new round of attempts (the retry schedule restarts) for deliveries not
 * in flight right now, and enqueues their next attempt. Returns the ids restarted.
 */
async function restart(ctx: ServiceCtx, ids: string[], trigger: DeliveryJob['trigger']): Promise<string[]> {
  if (ids.length === 0) return [];
  const stamp = ctx.now.toISOString();
  const rows = await ctx.db
    .update(webhookDeliveries)
    .set({ status: 'pending', roundStart: sql`${webhookDeliveries.attempts}`, nextAttemptAt: stamp, leaseUntil: null, updatedAt: stamp })
    .where(
      ctx.scope.where(
        webhookDeliveries,
        inArray(webhookDeliveries.id, ids),
        or(isNull(webhookDeliveries.leaseUntil), lt(webhookDeliveries.leaseUntil, stamp)),
      ),
    )
    .returning({ id: webhookDeliveries.id, attempts: webhookDeliveries.attempts })
    .all();
  const jobs = rows.map((r) => ({
    body: { kind: 'webhook_attempt', deliveryId: r.id, attempt: r.attempts + 1, trigger } satisfies DeliveryJob,
    contentType: 'json' as const,
  }));
  // If a send is lost, the sweeper re-enqueues the delivery (next_attempt_at is now).
  await sendInBatches(ctx.env.WEBHOOKS, jobs);
  return rows.map((r) => r.id);
}

export async function replayDelivery(ctx: ServiceCtx, { endpointId, deliveryId }: DeliveryRef) {
  await loadDelivery(ctx, endpointId, deliveryId);
  await assertEnabled(ctx, endpointId);
  const restarted = await restart(ctx, [deliveryId], 'manual');
  if (restarted.length === 0) throw new AppError('conflict', `Delivery ${deliveryId} has an attempt in flight; try again in a minute.`);
  return getDelivery(ctx, { endpointId, deliveryId });
}

/** Resends every failed delivery of the endpoint created at or after `since` (at most 1,000 per ctx). */
export async function recoverDeliveries(ctx: ServiceCtx, { endpointId, since }: { endpointId: string; since: string }) {
  await assertEnabled(ctx, endpointId);
  // Ids are time-sortable, so "created at or after" is an id range on the tenant index.
  const from = newId('dlv', Date.parse(since)).slice(0, 14);
  const failed = await ctx.db
    .select({ id: webhookDeliveries.id })
    .from(webhookDeliveries)
    .where(
      ctx.scope.where(
        webhookDeliveries,
        eq(webhookDeliveries.endpointId, endpointId),
        eq(webhookDeliveries.status, 'failed'),
        gte(webhookDeliveries.id, from),
      ),
    )
    .orderBy(asc(webhookDeliveries.id))
    .limit(RECOVER_LIMIT)
    .all();
  const restarted = [];
  for (const chunk of bindChunks(failed))
    restarted.push(
      ...(await restart(
        ctx,
        chunk.map((f) => f.id),
        'recover',
      )),
    );
  return { recovered: restarted.length };
}

/** Sends a `webhook.test` event to this endpoint only (sequence 0: outside the tenant's event order). */
export async function sendTestEvent(ctx: ServiceCtx, { endpointId }: { endpointId: string }) {
  await assertEnabled(ctx, endpointId);
  const now = ctx.now;
  const event = {
    id: newId('evt', now.getTime()),
    type: 'webhook.test',
    tenantId: ctx.scope.tenantId,
    occurredAt: now.toISOString(),
    sequence: 0,
    data: { message: 'Test event from Edgecrew', endpointId },
  };
  const id = newId('dlv', now.getTime());
  await ctx.scope
    .insert(webhookDeliveries, {
      id,
      endpointId,
      eventId: event.id,
      eventType: event.type,
      sequence: 0,
      payload: payloadOf(event),
      status: 'pending',
      nextAttemptAt: now.toISOString(),
      updatedAt: now.toISOString(),
    })
    .run();
  await ctx.env.WEBHOOKS.send({ kind: 'webhook_attempt', deliveryId: id, attempt: 1, trigger: 'test' } satisfies DeliveryJob);
  return getDelivery(ctx, { endpointId, deliveryId: id });
}
