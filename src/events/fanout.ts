/**
 * Webhook fan-out for one tenant's events (the EVENTS consumer's webhook sink).
 * Each (endpoint, event) pair becomes one delivery row, created with
 * INSERT … ON CONFLICT DO NOTHING on the unique (endpoint_id, event_id), so a
 * redelivered batch creates nothing new, and only the run whose insert created
 * a row sends its first attempt, so it sends nothing twice either.
 */
import { and, eq } from 'drizzle-orm';
import type { Config } from '../config';
import { getDb } from '../db/client';
import { webhookDeliveries, webhookEndpoints } from '../db/schema';
import { newId } from '../lib/ids';
import type { EventMessage } from '../queue/messages';
import { commitAttempts, LEASE_MS, sendAttempt } from './attempt';
import { matchesFilter } from './catalog';

/** Deliveries to different endpoints run side by side (Workers allow 6 open outbound connections). */
const ENDPOINT_CONCURRENCY = 6;
const INSERTS_PER_BATCH = 100;

/** The JSON body every endpoint receives for `event` (Standard Webhooks payload shape plus our envelope fields). */
export function payloadOf(event: EventMessage): string {
  return JSON.stringify({
    id: event.id,
    type: event.type,
    timestamp: event.occurredAt,
    tenantId: event.tenantId,
    sequence: event.sequence,
    data: event.data,
  });
}

/**
 * Creates the deliveries for `events` (one tenant's, in sequence order) and makes
 * their first attempts: in sequence order per endpoint, endpoints in parallel.
 */
export async function fanOut(
  env: Env,
  config: Config,
  tenantId: string,
  events: readonly EventMessage[],
  now = Date.now(),
): Promise<number> {
  const db = getDb(env.DB);
  const endpoints = await db
    .select()
    .from(webhookEndpoints)
    .where(and(eq(webhookEndpoints.tenantId, tenantId), eq(webhookEndpoints.enabled, true)))
    .all();
  if (endpoints.length === 0) return 0;
  const stamp = new Date(now).toISOString();
  // Rows are inserted already claimed for attempt 1 (attempts = 1, lease held): the insert that wins
  // the unique (endpoint, event) is the one that sends. If this run dies before recording, the lease
  // expires and the sweeper re-enqueues attempt 1.
  const lease = new Date(now + LEASE_MS).toISOString();
  const inserts = [];
  for (const event of events) {
    for (const ep of endpoints) {
      if (!matchesFilter(ep.eventTypes, event.type)) continue;
      inserts.push(
        db
          .insert(webhookDeliveries)
          .values({
            id: newId('dlv', now),
            tenantId,
            endpointId: ep.id,
            eventId: event.id,
            eventType: event.type,
            sequence: event.sequence,
            payload: payloadOf(event),
            status: 'pending',
            attempts: 1,
            nextAttemptAt: stamp,
            leaseUntil: lease,
            updatedAt: stamp,
          })
          .onConflictDoNothing()
          .returning(),
      );
    }
  }
  if (inserts.length === 0) return 0;
  const created: Array<typeof webhookDeliveries.$inferSelect> = [];
  for (let i = 0; i < inserts.length; i += INSERTS_PER_BATCH) {
    const results = await db.batch(inserts.slice(i, i + INSERTS_PER_BATCH) as [(typeof inserts)[number], ...(typeof inserts)[number][]]);
    for (const rows of results) created.push(...rows);
  }

  const byEndpoint = new Map<string, typeof created>();
  for (const d of created) byEndpoint.set(d.endpointId, [...(byEndpoint.get(d.endpointId) ?? []), d]);
  const lanes = [...byEndpoint].map(([id, list]) => ({
    ep: endpoints.find((e) => e.id === id)!,
    list: list.sort((a, b) => a.sequence - b.sequence),
  }));
  for (let i = 0; i < lanes.length; i += ENDPOINT_CONCURRENCY) {
    await Promise.all(
      lanes.slice(i, i + ENDPOINT_CONCURRENCY).map(async ({ ep, list }) => {
        const records = [];
        for (const d of list)
          records.push(await sendAttempt(config, db, { kind: 'webhook_attempt', deliveryId: d.id, attempt: 1, trigger: 'auto' }, d, ep));
        await commitAttempts(env, db, records);
      }),
    );
  }
  return created.length;
}
