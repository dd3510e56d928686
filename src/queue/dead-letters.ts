/**
 * The dead-letter queue's consumer. A message lands there after `max_retries`
 * failed deliveries (about half an hour of infrastructure errors, src/queue/backoff.ts);
 * the hub has already marked its event published, so dropping it would lose it.
 * Each message becomes (or updates) a `dead_letters` row keyed by what it carries,
 * which the sweeper re-drives (src/queue/sweep.ts) up to MAX_REDRIVES times; after
 * that it stays `abandoned` for an operator (GET /v1/dead-letters).
 */
import { sql } from 'drizzle-orm';
import type { Config } from '../config';
import { getDb } from '../db/client';
import { deadLetters } from '../db/schema';
import { createLogger, errorFields } from '../observability/log';
import { retryDelayS } from './backoff';
import { ChildStartJobSchema, DeliveryJobSchema, EventMessageSchema } from './messages';
import { inPool } from './pool';

/** Re-drives per dead letter before it is left to an operator. */
export const MAX_REDRIVES = 5;
/** Wait before re-drive number n+1 is REDRIVE_BASE_S × 2^n (5 min, 10, 20, 40, 80). */
export const REDRIVE_BASE_S = 300;

export interface DeadLetterKey {
  id: string;
  tenantId: string | null;
  queue: 'events' | 'webhooks';
  kind: string;
  /** Unparseable bodies are never re-driven: nothing would make them succeed. */
  redrivable: boolean;
}

/** What a dead message is, keyed so the same content dying again updates one row. */
export function keyOf(body: unknown, messageId: string): DeadLetterKey {
  const job = DeliveryJobSchema.safeParse(body);
  if (job.success)
    return {
      id: `job:${job.data.deliveryId}:${job.data.attempt}`,
      tenantId: null,
      queue: 'webhooks',
      kind: 'webhook_attempt',
      redrivable: true,
    };
  const child = ChildStartJobSchema.safeParse(body);
  if (child.success)
    return { id: `child:${child.data.runId}`, tenantId: child.data.tenantId, queue: 'events', kind: 'flow_child_start', redrivable: true };
  const event = EventMessageSchema.safeParse(body);
  if (event.success) return { id: `evt:${event.data.id}`, tenantId: event.data.tenantId, queue: 'events', kind: 'event', redrivable: true };
  return { id: `msg:${messageId}`, tenantId: null, queue: 'events', kind: 'unknown', redrivable: false };
}

/** Stores one dead message; a known one counts another death and waits longer before its next re-drive. */
export async function recordDeadLetter(env: Env, body: unknown, messageId: string, now = new Date()): Promise<void> {
  const k = keyOf(body, messageId);
  const stamp = now.toISOString();
  const db = getDb(env.DB);
  // Webhook jobs name only their delivery: take the tenant from it, for the tenant-scoped operator view.
  const tenantId =
    k.kind === 'webhook_attempt'
      ? sql`(SELECT tenant_id FROM webhook_deliveries WHERE id = ${(body as { deliveryId: string }).deliveryId})`
      : k.tenantId;
  await db
    .insert(deadLetters)
    .values({
      id: k.id,
      tenantId: tenantId as string | null,
      queue: k.queue,
      kind: k.kind,
      body,
      status: k.redrivable ? 'pending' : 'abandoned',
      nextRedriveAt: k.redrivable ? new Date(now.getTime() + REDRIVE_BASE_S * 1000).toISOString() : null,
      updatedAt: stamp,
    })
    .onConflictDoUpdate({
      target: deadLetters.id,
      set: {
        deaths: sql`${deadLetters.deaths} + 1`,
        body: sql`excluded.body`,
        status: sql`CASE WHEN ${deadLetters.redrives} >= ${MAX_REDRIVES} OR excluded.status = 'abandoned' THEN 'abandoned' ELSE 'pending' END`,
        nextRedriveAt: sql`strftime('%Y-%m-%dT%H:%M:%fZ', ${stamp}, '+' || (${REDRIVE_BASE_S} << ${deadLetters.redrives}) || ' seconds')`,
        updatedAt: stamp,
      },
    })
    .run();
}

export async function consumeDeadLetters(batch: MessageBatch<unknown>, env: Env, config: Config): Promise<void> {
  const log = createLogger({ handler: 'queue', queue: batch.queue, env: config.ENVIRONMENT });
  await inPool(batch.messages, 6, async (msg) => {
    try {
      await recordDeadLetter(env, msg.body, msg.id);
      log.warn('dead letter stored', { messageId: msg.id, key: keyOf(msg.body, msg.id).id });
      msg.ack();
    } catch (err) {
      log.error('storing dead letter failed', { messageId: msg.id, attempts: msg.attempts, ...errorFields(err) });
      msg.retry({ delaySeconds: retryDelayS(msg.attempts) });
    }
  });
}
