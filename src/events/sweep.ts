/**
 * Cron sweeper jobs of the events pipeline (registered in src/cron/sweeper.ts).
 * Each is bounded and idempotent.
 */
import { and, asc, eq, isNotNull, isNull, lt, lte, or } from 'drizzle-orm';
import type { SweepJob } from '../cron/job';
import { getDb } from '../db/client';
import { eventOutbox, webhookDeliveries } from '../db/schema';
import type { DeliveryJob } from '../queue/messages';
import { sendInBatches } from '../queue/send';
import { type ControlEvent, forwardEvents } from './outbox';
import { purgeConsumedBefore } from './sinks';

/** The request that committed an event forwards it within milliseconds; only older rows are stragglers. */
export const FORWARD_GRACE_MS = 30_000;
/** A queued attempt normally runs on time; only deliveries overdue by more than this are re-enqueued. */
export const DELIVERY_GRACE_MS = 60_000;
const BATCH = 500;
const DAY = 24 * 3600_000;

/** Forwards control-plane events committed in D1 whose hand-over to the hub never finished. */
export const forwardOutboxStragglers: SweepJob = {
  name: 'forward-event-outbox',
  async run(env, now) {
    const db = getDb(env.DB);
    const rows = await db
      .select()
      .from(eventOutbox)
      .where(and(isNull(eventOutbox.forwardedAt), lt(eventOutbox.occurredAt, new Date(now.getTime() - FORWARD_GRACE_MS).toISOString())))
      .orderBy(asc(eventOutbox.occurredAt), asc(eventOutbox.id))
      .limit(BATCH)
      .all();
    const events = rows.map(
      (r) => ({ id: r.id, tenantId: r.tenantId, type: r.type, occurredAt: r.occurredAt, data: r.data }) as ControlEvent,
    );
    const forwarded = await forwardEvents(env, events, now);
    return { pending: rows.length, forwarded };
  },
};

/** Re-enqueues pending deliveries whose next attempt is overdue (a lost queue send, or an attempt that died mid-flight). */
export const requeueOverdueDeliveries: SweepJob = {
  name: 'requeue-webhook-deliveries',
  async run(env, now) {
    const db = getDb(env.DB);
    const stamp = now.toISOString();
    const rows = await db
      .select({ id: webhookDeliveries.id, attempts: webhookDeliveries.attempts, leaseUntil: webhookDeliveries.leaseUntil })
      .from(webhookDeliveries)
      .where(
        and(
          eq(webhookDeliveries.status, 'pending'),
          lte(webhookDeliveries.nextAttemptAt, new Date(now.getTime() - DELIVERY_GRACE_MS).toISOString()),
          or(isNull(webhookDeliveries.leaseUntil), and(isNotNull(webhookDeliveries.leaseUntil), lt(webhookDeliveries.leaseUntil, stamp))),
        ),
      )
      .orderBy(asc(webhookDeliveries.nextAttemptAt))
      .limit(BATCH)
      .all();
    // An expired lease means attempt `attempts` died: redo it. Otherwise the next one is due.
    const jobs = rows.map((r) => ({
      body: {
        kind: 'webhook_attempt',
        deliveryId: r.id,
        attempt: r.leaseUntil ? r.attempts : r.attempts + 1,
        trigger: r.attempts === 0 ? 'auto' : 'retry',
      } satisfies DeliveryJob,
      contentType: 'json' as const,
    }));
    await sendInBatches(env.WEBHOOKS, jobs);
    return { requeued: jobs.length };
  },
};

/** Keeps the events tables small: forwarded outbox rows after 3 days, consumed marks after 15 (longer than queue retention), deliveries after 30. */
export const purgeEventHistory: SweepJob = {
  name: 'purge-event-history',
  async run(env, now) {
    const db = getDb(env.DB);
    const ago = (days: number) => new Date(now.getTime() - days * DAY).toISOString();
    const [outbox, deliveries] = await db.batch([
      db.delete(eventOutbox).where(and(isNotNull(eventOutbox.forwardedAt), lt(eventOutbox.forwardedAt, ago(3)))),
      db
        .delete(webhookDeliveries)
        .where(
          and(
            or(eq(webhookDeliveries.status, 'succeeded'), eq(webhookDeliveries.status, 'failed')),
            lt(webhookDeliveries.updatedAt, ago(30)),
          ),
        ),
    ]);
    const consumed = await purgeConsumedBefore(env, ago(15));
    return { outbox: outbox.meta.changes, deliveries: deliveries.meta.changes, consumed: consumed.meta.changes };
  },
};

export const EVENT_SWEEP_JOBS: SweepJob[] = [forwardOutboxStragglers, requeueOverdueDeliveries, purgeEventHistory];
