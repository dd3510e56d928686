/**
 * One webhook delivery attempt, as a compare-and-set state machine on D1:
 *
 * 1. claim: `attempts` goes n-1 → n and a lease is set, only if nobody made
 *    attempt n yet (a redelivered job or a duplicate finds nothing to claim); an
 *    expired lease with `attempts = n` means attempt n died mid-flight, so it is
 *    claimed again;
 * 2. POST the signed payload;
 * 3. record the attempt, the delivery's new state and the endpoint's health in
 *    one batch (plus the `webhook_endpoint.disabled` event if this failure
 *    disables it), then enqueue the next attempt with its backoff delay on the
 *    WEBHOOKS queue. Step 3 starts as soon as the answer is in; a fan-out lane
 *    may claim and send its next delivery meanwhile (src/events/fanout.ts), so
 *    an attempt is recorded within its own lease whatever comes after it.
 *
 * The database is the truth and queue messages are only nudges: the sweeper
 * re-enqueues pending deliveries whose next attempt is overdue.
 */
import { and, eq, inArray, isNotNull, isNull, lt, or, sql } from 'drizzle-orm';
import { type Config, isDeployed } from '../config';
import { type Db, getDb } from '../db/client';
import { webhookDeliveries, webhookEndpoints } from '../db/schema';
import { checkTarget } from '../lib/targets';
import type { DeliveryJob } from '../queue/messages';
import { type HttpResult, postWebhook, WEBHOOK_TIMEOUT_MS } from './http';
import { type ControlEvent, controlEvent, forwardEvents, outboxInsertWhere } from './outbox';
import { outcomeOf, parseRetryAfter, shouldDisable } from './retry';
import { open } from './secret-box';
import { signatureHeaders } from './signing';

/** Longer than one request's timeout (a lease covers one attempt): a lease that outlives it means the attempt's Worker died. */
export const LEASE_MS = 60_000;

type Delivery = typeof webhookDeliveries.$inferSelect;
type Endpoint = typeof webhookEndpoints.$inferSelect;

/** An attempt's row in the log (a repeat of the same attempt number changes nothing). */
const RECORD_ATTEMPT_SQL = `INSERT INTO webhook_attempts (delivery_id, attempt, tenant_id, trigger, started_at, duration_ms, status_code, error, response_excerpt)
  VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`;
/** The delivery after attempt n, lease cleared, only while it is still at attempt n. */
const SETTLE_DELIVERY_SQL = `UPDATE webhook_deliveries SET status = ?, next_attempt_at = ?, lease_until = NULL, last_status_code = ?, last_error = ?, updated_at = ?
  WHERE id = ? AND attempts = ?`;

export type AttemptResult = { ran: false } | { ran: true; status: Delivery['status']; statusCode: number | null; disabled: boolean };

/**
 * Attempt `attempt` is this caller's to make: nobody made it yet (n-1 made, no lease), or it was
 * started and its lease expired (its Worker died mid-attempt).
 */
function claimable(attempt: number, at: string) {
  return and(
    eq(webhookDeliveries.status, 'pending'),
    or(
      and(eq(webhookDeliveries.attempts, attempt - 1), isNull(webhookDeliveries.leaseUntil)),
      and(eq(webhookDeliveries.attempts, attempt), isNotNull(webhookDeliveries.leaseUntil), lt(webhookDeliveries.leaseUntil, at)),
    ),
  );
}

/** Claims attempt `job.attempt` (compare-and-set on `attempts`, lease from now); undefined if it is not this caller's to make. */
export async function claim(db: Db, job: DeliveryJob, now: number): Promise<Delivery | undefined> {
  const at = new Date(now).toISOString();
  const rows = await db
    .update(webhookDeliveries)
    .set({ attempts: job.attempt, leaseUntil: new Date(now + LEASE_MS).toISOString(), updatedAt: at })
    .where(and(eq(webhookDeliveries.id, job.deliveryId), claimable(job.attempt, at)))
    .returning()
    .all();
  return rows[0];
}

/**
 * Gives back first attempts claimed (rows inserted claimed, src/events/fanout.ts) but not sent:
 * unclaimed again (attempts 0, no lease), as if never claimed, so the job handed to the queue claims
 * attempt 1 as usual. Only rows still under this caller's lease and at attempt 1 change (a row the
 * sweeper took over after the lease expired is not). Nothing was sent for them, so nothing is sent
 * twice. If this write is lost, the lease runs out and the sweeper retries.
 */
export async function releaseClaims(db: Db, ids: readonly string[], lease: string, now: number): Promise<void> {
  if (ids.length === 0) return;
  await db
    .update(webhookDeliveries)
    .set({ attempts: 0, leaseUntil: null, updatedAt: new Date(now).toISOString() })
    .where(and(inArray(webhookDeliveries.id, [...ids]), eq(webhookDeliveries.leaseUntil, lease), eq(webhookDeliveries.attempts, 1)))
    .run();
}

/**
 * Decrypted secrets per endpoint row as loaded (a fan-out lane loads its endpoint once and sends many
 * deliveries): one decryption per lane, not per send. Valid while the previous secret's overlap lasts.
 */
const openedSecrets = new WeakMap<Endpoint, { until: number; secrets: Promise<string[]> }>();

/** Current secret, plus the previous one while its rotation overlap lasts. */
export function signingSecrets(config: Config, ep: Endpoint, now: number): Promise<string[]> {
  const known = openedSecrets.get(ep);
  if (known !== undefined && now < known.until) return known.secrets;
  const previousUntil = ep.previousSecretEnc && ep.previousSecretExpiresAt ? Date.parse(ep.previousSecretExpiresAt) : null;
  const secrets = openSecrets(config, ep, now);
  openedSecrets.set(ep, { until: previousUntil !== null && previousUntil > now ? previousUntil : Number.POSITIVE_INFINITY, secrets });
  // A failed decryption is not remembered.
  secrets.catch(() => openedSecrets.delete(ep));
  return secrets;
}

async function openSecrets(config: Config, ep: Endpoint, now: number): Promise<string[]> {
  const secrets = [await open(config.WEBHOOK_SECRET_KEY, ep.id, ep.secretEnc)];
  if (ep.previousSecretEnc && ep.previousSecretExpiresAt && Date.parse(ep.previousSecretExpiresAt) > now) {
    secrets.push(await open(config.WEBHOOK_SECRET_KEY, ep.id, ep.previousSecretEnc));
  }
  return secrets;
}

async function send(config: Config, ep: Endpoint, d: Delivery, now: number, timeoutMs: number): Promise<HttpResult> {
  const target = checkTarget(ep.url, isDeployed(config));
  if (!target.ok) return { status: null, retryAfter: null, excerpt: null, error: `refused target: ${target.reason}`, durationMs: 0 };
  const headers = await signatureHeaders(await signingSecrets(config, ep, now), d.eventId, Math.floor(now / 1000), d.payload);
  return postWebhook(ep.url, headers, d.payload, timeoutMs);
}

/** Runs attempt `job.attempt` of a delivery if it is still due; a no-op for duplicates. */
export async function runAttempt(env: Env, config: Config, job: DeliveryJob, now = Date.now()): Promise<AttemptResult> {
  const db = getDb(env.DB);
  const d = await claim(db, job, now);
  if (!d) return { ran: false };
  const ep = await db
    .select()
    .from(webhookEndpoints)
    .where(and(eq(webhookEndpoints.id, d.endpointId), eq(webhookEndpoints.tenantId, d.tenantId)))
    .get();
  const record = await sendAttempt(config, db, job, d, ep, now);
  await commitAttempts(env, db, [record]);
  return record.result;
}

/** What one attempt changes: statements for D1, the next attempt to enqueue, an event to forward. */
export interface AttemptRecord {
  stmts: D1PreparedStatement[];
  retry: { job: DeliveryJob; delayS: number } | null;
  disabledEvent: ControlEvent | null;
  result: AttemptResult;
}

/**
 * Sends an attempt this caller has claimed (`d.attempts === job.attempt`, lease held) and returns
 * what to record; `commitAttempts` writes it soon after (a fan-out lane within a few milliseconds,
 * while its next send is on its way), so no attempt is ever in flight longer than its own lease
 * (issue 12: a lane recorded at its end outlived it).
 */
export async function sendAttempt(
  config: Config,
  db: Db,
  job: DeliveryJob,
  d: Delivery,
  ep: Endpoint | undefined,
  now = Date.now(),
  timeoutMs = WEBHOOK_TIMEOUT_MS,
): Promise<AttemptRecord> {
  const http: HttpResult = ep?.enabled
    ? await send(config, ep, d, now, timeoutMs)
    : { status: null, retryAfter: null, excerpt: null, error: 'endpoint disabled', durationMs: 0 };
  const done = Date.now();
  const stamp = new Date(done).toISOString();
  const outcome = ep?.enabled
    ? outcomeOf(http.status, job.attempt - d.roundStart, parseRetryAfter(http.retryAfter, done))
    : ({ kind: 'exhausted' } as const);
  const status: Delivery['status'] = outcome.kind === 'success' ? 'succeeded' : outcome.kind === 'retry' ? 'pending' : 'failed';
  const nextAttemptAt = outcome.kind === 'retry' ? new Date(done + outcome.delayS * 1000).toISOString() : null;

  // Every attempt writes these two: fixed SQL text, not built by drizzle per attempt (issue 20).
  const d1 = db.$client;
  const stmts: D1PreparedStatement[] = [
    d1
      .prepare(RECORD_ATTEMPT_SQL)
      .bind(
        d.id,
        job.attempt,
        d.tenantId,
        job.trigger,
        new Date(now).toISOString(),
        http.durationMs,
        http.status,
        http.error,
        http.excerpt,
      ),
    d1.prepare(SETTLE_DELIVERY_SQL).bind(status, nextAttemptAt, http.status, http.error, stamp, d.id, job.attempt),
  ];
  const push = (q: { toSQL(): { sql: string; params: unknown[] } }) => {
    const { sql: text, params } = q.toSQL();
    stmts.push(d1.prepare(text).bind(...params));
  };
  let disabledEvent: ControlEvent | null = null;
  if (ep?.enabled && outcome.kind === 'success') {
    if (ep.failingSince !== null || ep.exhaustedInRow !== 0)
      push(db.update(webhookEndpoints).set({ failingSince: null, exhaustedInRow: 0 }).where(eq(webhookEndpoints.id, ep.id)));
    ep.failingSince = null;
    ep.exhaustedInRow = 0;
  } else if (ep?.enabled) {
    const exhaustedInRow = ep.exhaustedInRow + (outcome.kind === 'exhausted' ? 1 : 0);
    const failingSince = ep.failingSince ?? stamp;
    push(
      db
        .update(webhookEndpoints)
        .set({
          failingSince: sql`COALESCE(${webhookEndpoints.failingSince}, ${stamp})`,
          exhaustedInRow: sql`${webhookEndpoints.exhaustedInRow} + ${outcome.kind === 'exhausted' ? 1 : 0}`,
        })
        .where(eq(webhookEndpoints.id, ep.id)),
    );
    // Keep the caller's copy current: the fan-out reuses it for the endpoint's next delivery.
    ep.exhaustedInRow = exhaustedInRow;
    ep.failingSince = failingSince;
    const reason = outcome.kind === 'gone' ? 'gone' : shouldDisable(exhaustedInRow, failingSince, done) ? 'failing' : null;
    if (reason) {
      disabledEvent = controlEvent(
        ep.tenantId,
        'webhook_endpoint.disabled',
        { endpointId: ep.id, url: ep.url, reason, lastStatusCode: http.status, lastError: http.error },
        new Date(done),
      );
      push(
        db
          .update(webhookEndpoints)
          .set({ enabled: false, disabledReason: reason, disabledAt: stamp, updatedAt: stamp })
          .where(and(eq(webhookEndpoints.id, ep.id), eq(webhookEndpoints.enabled, true))),
      );
      push(
        outboxInsertWhere(
          db,
          disabledEvent,
          sql`EXISTS (SELECT 1 FROM webhook_endpoints WHERE id = ${ep.id} AND enabled = 0 AND disabled_at = ${stamp})`,
        ),
      );
    }
  }
  if (disabledEvent) ep!.enabled = false;
  return {
    stmts,
    retry:
      outcome.kind === 'retry'
        ? { job: { kind: 'webhook_attempt', deliveryId: d.id, attempt: job.attempt + 1, trigger: 'retry' }, delayS: outcome.delayS }
        : null,
    disabledEvent,
    result: { ran: true, status, statusCode: http.status, disabled: disabledEvent !== null },
  };
}

/** Writes attempt records in one D1 batch, then enqueues their next attempts and forwards disable events. */
export async function commitAttempts(env: Env, db: Db, records: readonly AttemptRecord[]): Promise<void> {
  const stmts = records.flatMap((r) => r.stmts);
  if (stmts.length === 0) return;
  await db.$client.batch(stmts);
  const retries = records.flatMap((r) =>
    r.retry ? [{ body: r.retry.job, delaySeconds: r.retry.delayS, contentType: 'json' as const }] : [],
  );
  // If these sends are lost, the sweeper re-enqueues the deliveries once next_attempt_at is overdue.
  if (retries.length > 0) await env.WEBHOOKS.sendBatch(retries).catch(() => undefined);
  const disabled = records.flatMap((r) => (r.disabledEvent ? [r.disabledEvent] : []));
  if (disabled.length > 0) await forwardEvents(env, disabled);
}
