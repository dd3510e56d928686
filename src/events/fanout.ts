/**
 * Webhook fan-out for one tenant's events (the EVENTS consumer's webhook sink).
 * Each (endpoint, event) pair becomes one delivery row, created with
 * INSERT … ON CONFLICT DO NOTHING on the unique (endpoint_id, event_id), so a
 * redelivered batch creates nothing new, and only the run whose insert created
 * a row makes its first attempt.
 *
 * First attempts go inline only while they are quick: per endpoint, in sequence
 * order, each claimed by the insert that creates its row, sent, and recorded within
 * a few milliseconds of its answer (with the answers that came meanwhile), while the
 * next one is already being sent (a lease covers one attempt, never a lane; the
 * next send still waits for this one's answer). Once an endpoint's lane has spent
 * INLINE_BUDGET_MS, or one of its attempts failed, or the endpoint was already
 * failing, its remaining deliveries become `webhook_attempt` jobs on the
 * WEBHOOKS queue, so a slow endpoint never holds up another tenant's events.
 */
import { and, eq, inArray, sql } from 'drizzle-orm';
import type { Config } from '../config';
import { type Db, getDb, preparedPer } from '../db/client';
import { type webhookDeliveries, webhookEndpoints } from '../db/schema';
import { bindChunks } from '../lib/bind-chunks';
import { newId } from '../lib/ids';
import type { DeliveryJob, EventMessage } from '../queue/messages';
import { inPool } from '../queue/pool';
import { sendInBatches } from '../queue/send';
import { type AttemptRecord, commitAttempts, LEASE_MS, releaseClaims, sendAttempt } from './attempt';
import { matchesFilter } from './catalog';

/** Endpoint lanes run side by side (Workers allow 6 open outbound connections). */
const ENDPOINT_CONCURRENCY = 6;
/**
 * First attempts in flight at once to one endpoint that does not need them in order (`ordering: 'none'`);
 * the runtime keeps at most 6 connections open per invocation and queues the rest.
 */
export const UNORDERED_CONCURRENCY = 16;
/** Delivery rows per INSERT statement: each binds 12 parameters, and D1 allows 100 per statement. */
const ROWS_PER_INSERT = 8;
/** INSERT statements per D1 batch. */
const INSERTS_PER_BATCH = 50;
/** An endpoint lane starts no inline attempt after this long; the rest go to the WEBHOOKS queue. */
export const INLINE_BUDGET_MS = 1_000;
/**
 * The same for the tenant's hub making first attempts itself (durable-objects/tenant-hub/direct-webhooks.ts):
 * its fan-out holds up no other tenant, only its own next pages (merged meanwhile), so a healthy lane
 * keeps going instead of handing a busy tenant's deliveries to the queue's batch window.
 */
export const DIRECT_INLINE_BUDGET_MS = 10_000;
/** An inline attempt gives up after this (a retry job gets the full WEBHOOK_TIMEOUT_MS). */
export const INLINE_TIMEOUT_MS = 5_000;

type Delivery = typeof webhookDeliveries.$inferSelect;
export type Endpoint = typeof webhookEndpoints.$inferSelect;

const firstAttempt = (d: Delivery): DeliveryJob => ({ kind: 'webhook_attempt', deliveryId: d.id, attempt: 1, trigger: 'auto' });

/**
 * A lane's answers wait up to this long for company before they are written (or until RECORD_BATCH of
 * them are in, or the lane stops or ends): a 'sequence' lane answered faster than a D1 round trip
 * writes several attempts in one batch instead of one each (issue 20: 1,000 events to one endpoint went
 * from 360–440 to 490–600 events/s here at 5 ms and 16; 15 ms and 32 wrote a third as many batches and
 * delivered 550–630/s against 490–590 in the same hour, while 30 ms and 64 gained nothing more). An
 * attempt stays unrecorded that much longer, far inside its lease (LEASE_MS); if the lane dies
 * meanwhile, the attempt is made again once the lease has expired.
 */
export const RECORD_LINGER_MS = 15;
/** Answers written at once, lingering or not. */
export const RECORD_BATCH = 32;

/**
 * One endpoint's first attempts, its rows inserted claimed under `lease` (`fanOut` does so for an
 * endpoint that is not failing): sent inline without a claim statement while quick and healthy, the
 * rest given back unclaimed and handed to the WEBHOOKS queue. An endpoint with `ordering: 'sequence'`
 * gets them one at a time in sequence order; with 'none', UNORDERED_CONCURRENCY at once.
 *
 * Pipelining: each attempt is recorded soon after its own send (within `lingerMs`, with the answers
 * that came meanwhile), in order, but the lane's next send does not wait for that write. The next send
 * still waits for the previous answer, so the endpoint receives them in order and a failure stops the
 * lane before anything else is sent. A write that fails stops the lane too; the attempt it did not
 * record is retried once its lease expires (src/events/attempt.ts).
 */
async function runLane(
  env: Env,
  config: Config,
  db: Db,
  ep: Endpoint,
  list: readonly Delivery[],
  lease: string,
  { budgetMs, lingerMs }: { budgetMs: number; lingerMs: number },
): Promise<void> {
  const started = Date.now();
  /** Rows this lane did not send: given back unclaimed, then handed to the queue. */
  const unsent: Delivery[] = [];
  let inline = true;
  const writeFailed: { error?: unknown; failed: boolean } = { failed: false };
  // Group commit: attempts answered while the lane's previous write is in flight wait for it and are
  // then written together in one D1 batch, in the order they were answered (one round trip for many
  // attempts when sends outpace writes, as with 16 unordered sends in flight); with no write in flight,
  // the first answer waits `lingerMs` for the next ones.
  const answered: AttemptRecord[] = [];
  let writing = null as Promise<void> | null;
  const writeAnswered = async () => {
    while (answered.length > 0) {
      const records = answered.splice(0);
      await commitAttempts(env, db, records).catch((error: unknown) => {
        if (!writeFailed.failed) Object.assign(writeFailed, { failed: true, error });
      });
    }
    writing = null;
  };
  let linger: ReturnType<typeof setTimeout> | null = null;
  const write = () => {
    if (linger !== null) clearTimeout(linger);
    linger = null;
    writing ??= writeAnswered();
  };
  const going = () => inline && !writeFailed.failed && Date.now() - started < budgetMs;
  const send = async (d: Delivery) => {
    if (!going()) return void unsent.push(d);
    const record = await sendAttempt(config, db, firstAttempt(d), d, ep, Date.now(), INLINE_TIMEOUT_MS);
    if (!record.result.ran || record.result.status !== 'succeeded') inline = false;
    answered.push(record);
    if (writing !== null) return;
    if (answered.length >= RECORD_BATCH || !inline) write();
    else linger ??= setTimeout(write, lingerMs);
  };

  try {
    if (ep.ordering === 'none') await inPool(list, UNORDERED_CONCURRENCY, send);
    else for (const d of list) await send(d);
  } finally {
    // Answered attempts are written also when the lane stops on an error (a send that threw).
    write();
    await writing;
  }
  await releaseClaims(
    db,
    unsent.map((d) => d.id),
    lease,
    Date.now(),
  ).catch(() => undefined);
  await handOff(env, unsent);
  if (writeFailed.failed) throw writeFailed.error;
}

/**
 * First attempts of `deliveries` as `webhook_attempt` jobs on the WEBHOOKS queue. A failed send ends the
 * hand-off, and the sweeper recovers whatever was not sent: the rows are pending and unclaimed (or their
 * lease ended), next_attempt_at now.
 */
async function handOff(env: Env, deliveries: readonly Delivery[]): Promise<void> {
  await sendInBatches(
    env.WEBHOOKS,
    deliveries.map((d) => ({ body: firstAttempt(d), contentType: 'json' as const })),
  ).catch(() => undefined);
}

/**
 * Creates the deliveries for `events` (one tenant's, in sequence order) and makes
 * their first attempts (inline or handed off, see above).
 */
export async function fanOut(
  env: Env,
  config: Config,
  tenantId: string,
  events: readonly EventMessage[],
  {
    now = Date.now(),
    endpoints: preloaded,
    inlineBudgetMs = INLINE_BUDGET_MS,
    recordLingerMs = RECORD_LINGER_MS,
  }: {
    now?: number;
    /** The tenant's enabled endpoints, when the caller has just read them (`enabledEndpoints`). */
    endpoints?: readonly Endpoint[];
    /** How long a lane keeps starting inline attempts (INLINE_BUDGET_MS, or DIRECT_INLINE_BUDGET_MS for the hub). */
    inlineBudgetMs?: number;
    /** How long a lane's first unwritten answer waits for the next ones (RECORD_LINGER_MS). */
    recordLingerMs?: number;
  } = {},
): Promise<number> {
  const db = getDb(env.DB);
  const endpoints = preloaded ?? (await enabledEndpoints(env, tenantId));
  if (endpoints.length === 0) return 0;
  const stamp = new Date(now).toISOString();
  // A row for an endpoint that is not failing is inserted already claimed for attempt 1 (attempts 1,
  // lease): its lane sends it inline without a claim statement of its own (one D1 round trip less per
  // delivery, issue 20), and gives back what it does not send (`runLane`). The insert is the claim:
  // only the fan-out whose insert created the row holds it, as before. Rows for a failing endpoint are
  // inserted unclaimed (attempts 0, no lease) and go to the queue, whose job claims attempt 1 first.
  const lease = new Date(now + LEASE_MS).toISOString();
  const rows: Delivery[] = [];
  for (const event of events) {
    for (const ep of endpoints) {
      if (!matchesFilter(ep.eventTypes, event.type)) continue;
      const claimed = ep.failingSince === null;
      rows.push({
        id: newId('dlv', now),
        tenantId,
        endpointId: ep.id,
        eventId: event.id,
        eventType: event.type,
        sequence: event.sequence,
        payload: payloadOf(event),
        status: 'pending',
        attempts: claimed ? 1 : 0,
        roundStart: 0,
        leaseUntil: claimed ? lease : null,
        nextAttemptAt: stamp,
        lastStatusCode: null,
        lastError: null,
        createdAt: stamp,
        updatedAt: stamp,
      });
    }
  }
  if (rows.length === 0) return 0;
  // The rows this run's inserts created (a redelivered event's rows exist already and are not this
  // run's to send): the statements return only their ids, the rows are the ones built here.
  const d1 = db.$client;
  const inserts = deliveryInserts(rows).map((q) => d1.prepare(q.sql).bind(...q.params));
  const createdIds = new Set<string>();
  for (let i = 0; i < inserts.length; i += INSERTS_PER_BATCH) {
    const results = await d1.batch<{ id: string }>(inserts.slice(i, i + INSERTS_PER_BATCH));
    for (const r of results) for (const row of r.results) createdIds.add(row.id);
  }
  const created = rows.filter((d) => createdIds.has(d.id));

  const byEndpoint = new Map<string, Delivery[]>();
  for (const d of created) {
    const list = byEndpoint.get(d.endpointId);
    if (list) list.push(d);
    else byEndpoint.set(d.endpointId, [d]);
  }
  const lanes = [...byEndpoint].map(([id, list]) => ({
    ep: endpoints.find((e) => e.id === id)!,
    list: list.sort((a, b) => a.sequence - b.sequence),
  }));
  await inPool(lanes, ENDPOINT_CONCURRENCY, ({ ep, list }) =>
    // A failing endpoint's rows were inserted unclaimed: the queue's jobs claim and send them.
    list[0]!.leaseUntil === lease
      ? runLane(env, config, db, ep, list, lease, { budgetMs: inlineBudgetMs, lingerMs: recordLingerMs })
      : handOff(env, list),
  );
  return created.length;
}

/** The columns a new delivery row is inserted with; `round_start` and `created_at` take the table's defaults (0, now). */
const INSERT_COLUMNS = [
  ['id', 'id'],
  ['tenant_id', 'tenantId'],
  ['endpoint_id', 'endpointId'],
  ['event_id', 'eventId'],
  ['event_type', 'eventType'],
  ['sequence', 'sequence'],
  ['payload', 'payload'],
  ['status', 'status'],
  ['attempts', 'attempts'],
  ['lease_until', 'leaseUntil'],
  ['next_attempt_at', 'nextAttemptAt'],
  ['updated_at', 'updatedAt'],
] as const satisfies readonly (readonly [string, keyof Delivery])[];
const ROW_PLACEHOLDERS = `(${INSERT_COLUMNS.map(() => '?').join(', ')})`;
const INSERT_HEAD = `INSERT INTO "webhook_deliveries" (${INSERT_COLUMNS.map(([c]) => `"${c}"`).join(', ')}) VALUES `;

/**
 * The INSERT … ON CONFLICT DO NOTHING RETURNING id statements for new delivery rows, several rows per
 * statement. Fixed SQL text per row count instead of drizzle building each statement and mapping
 * every column of every returned row (issue 20: the largest share of a delivery's D1 client work).
 */
export function deliveryInserts(rows: readonly Delivery[]): { sql: string; params: unknown[] }[] {
  return bindChunks(rows, ROWS_PER_INSERT).map((chunk) => ({
    sql: `${INSERT_HEAD}${chunk.map(() => ROW_PLACEHOLDERS).join(', ')} ON CONFLICT DO NOTHING RETURNING "id"`,
    params: chunk.flatMap((d) => INSERT_COLUMNS.map(([, k]) => d[k])),
  }));
}

const enabledEndpointsQuery = preparedPer((db) =>
  db
    .select()
    .from(webhookEndpoints)
    .where(and(eq(webhookEndpoints.tenantId, sql.placeholder('tenantId')), eq(webhookEndpoints.enabled, true)))
    .prepare(),
);

/** The tenant's enabled webhook endpoints (what a fan-out delivers to). */
export function enabledEndpoints(env: Env, tenantId: string): Promise<Endpoint[]> {
  return enabledEndpointsQuery(env.DB).all({ tenantId });
}

/**
 * The enabled endpoints of each of `tenantIds` (tenants without any are absent), in one statement per
 * BIND_CHUNK tenants: the EVENTS consumer reads a batch's tenants at once.
 */
export async function enabledEndpointsOf(env: Env, tenantIds: readonly string[]): Promise<Map<string, Endpoint[]>> {
  const db = getDb(env.DB);
  const out = new Map<string, Endpoint[]>();
  for (const chunk of bindChunks(tenantIds)) {
    const rows = await db
      .select()
      .from(webhookEndpoints)
      .where(and(inArray(webhookEndpoints.tenantId, chunk), eq(webhookEndpoints.enabled, true)))
      .all();
    for (const r of rows) {
      const list = out.get(r.tenantId);
      if (list) list.push(r);
      else out.set(r.tenantId, [r]);
    }
  }
  return out;
}

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
