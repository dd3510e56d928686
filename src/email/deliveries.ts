/**
 * Email deliveries, tracked like webhook deliveries (docs/notifications.md). The EVENTS consumer's
 * email sink turns each `notification.created` into one `email_deliveries` row per member who has
 * email preferences, decided by the pure rules in ./policy.ts (queued, deferred or suppressed),
 * in one D1 batch with its `email.suppressed` events; rows are unique per (tenant, notification,
 * member), so a redelivered event plans nothing twice. Each attempt is a compare-and-set on
 * `attempts` (n-1 → n, with a lease) immediately before the send and recorded before anything else
 * is sent, so an alarm retry, a redelivered batch or a duplicate job sends nothing twice; a
 * failed attempt is retried on the webhook schedule (src/events/retry.ts), honouring Retry-After,
 * through `email_attempt` jobs on the EVENTS queue. The database is the truth: the sweeper
 * (./sweep.ts) runs deliveries whose time has come (deferred ones, lost jobs).
 */
import { and, eq, inArray, isNotNull, isNull, lt, lte, or, type SQL, sql } from 'drizzle-orm';
import type { BatchItem } from 'drizzle-orm/batch';
import type { Config } from '../config';
import { type Db, getDb } from '../db/client';
import { emailDeliveries, emailSuppressions, memberships, notificationPreferences, tenants, users } from '../db/schema';
import { type ControlEvent, controlEvent, forwardEvents, outboxInsertWhere } from '../events/outbox';
import { outcomeOf, parseRetryAfter } from '../events/retry';
import { bindChunks } from '../lib/bind-chunks';
import { newId } from '../lib/ids';
import type { EventMessage } from '../queue/messages';
import { sendInBatches } from '../queue/send';
import type { Notification } from '../tasks/model';
import { isValidTimezone } from '../tasks/schedule/zone';
import { type Decision, decide } from './policy';
import { type MessagePayload, renderEmail } from './render';
import { DEFAULT_PREFERENCES, type NotificationKind, type NotificationPreferences, NotificationPreferencesSchema } from './schemas';
import { replyAddress, signUnsubscribe } from './tokens';
import { sendEmail } from './transport';

/** First attempts made inline by the email sink per batch of events; the others become `email_attempt` jobs. */
export const INLINE_FIRST_ATTEMPTS = 3;

/** Longer than one send's timeout: a lease that outlives it means the attempt's Worker died. */
export const EMAIL_LEASE_MS = 60_000;

export type Delivery = typeof emailDeliveries.$inferSelect;

/** "Make attempt `attempt` of email delivery `deliveryId`" (EVENTS queue; duplicates are no-ops). */
export interface EmailAttemptJob {
  kind: 'email_attempt';
  deliveryId: string;
  attempt: number;
}

export function parsePreferences(raw: unknown): NotificationPreferences {
  const p = NotificationPreferencesSchema.safeParse(raw);
  return p.success ? p.data : DEFAULT_PREFERENCES;
}

function pepperOf(config: Config): string {
  if (!config.TOKEN_PEPPER) throw new Error('TOKEN_PEPPER is not set');
  return config.TOKEN_PEPPER;
}

export function publicUrl(config: Config): string {
  return (config.PUBLIC_URL ?? new URL(config.JWT_ISSUER).origin).replace(/\/+$/, '');
}

/** Suppressions that apply to `addresses` in `tenantId` (its own unsubscribes and every tenant's bounces). */
async function suppressionsOf(db: Db, tenantId: string, addresses: string[]): Promise<Map<string, 'unsubscribed' | 'bounced'>> {
  const out = new Map<string, 'unsubscribed' | 'bounced'>();
  if (addresses.length === 0) return out;
  for (const chunk of bindChunks(addresses)) {
    const rows = await db
      .select({ address: emailSuppressions.address, reason: emailSuppressions.reason })
      .from(emailSuppressions)
      .where(and(inArray(emailSuppressions.address, chunk), inArray(emailSuppressions.scope, [tenantId, '*'])))
      .all();
    // A bounce outranks an unsubscribe: both suppress, the bounce says more.
    for (const r of rows) if (out.get(r.address) !== 'bounced') out.set(r.address, r.reason);
  }
  return out;
}

function eventFor(
  d: Pick<Delivery, 'id' | 'tenantId' | 'notificationId' | 'userId' | 'kind'>,
  type: 'email.sent' | 'email.failed' | 'email.suppressed',
  extra: Record<string, unknown>,
  at: Date,
): ControlEvent {
  return controlEvent(
    d.tenantId,
    type,
    { deliveryId: d.id, notificationId: d.notificationId, recipientId: d.userId, kind: d.kind, ...extra },
    at,
  );
}

function kindOf(n: Notification): NotificationKind | null {
  return n.kind === 'reminder' || n.kind === 'system' ? n.kind : null;
}

interface NotificationEventData {
  notification: Notification;
  due?: { dueAt: string | null; dueDate: string | null };
}

/**
 * Plans (and makes the first attempt of) the email deliveries of `events`' notifications. Idempotent:
 * rows are unique per (tenant, notification, member) and attempts are compare-and-set.
 */
export async function planEmails(
  env: Env,
  config: Config,
  tenantId: string,
  events: readonly EventMessage[],
  now = Date.now(),
): Promise<void> {
  const db = getDb(env.DB);
  const created = events.filter((e) => e.type === 'notification.created');
  if (created.length === 0) return;
  const tenant = await db.select({ settings: tenants.settings }).from(tenants).where(eq(tenants.id, tenantId)).get();
  if (!tenant) return;
  const tenantZone = tenant.settings?.timezone && isValidTimezone(tenant.settings.timezone) ? tenant.settings.timezone : 'UTC';
  const members = await db
    .select({
      userId: memberships.userId,
      role: memberships.role,
      email: users.email,
      verifiedAt: users.emailVerifiedAt,
      timezone: users.timezone,
      prefs: notificationPreferences.prefs,
    })
    .from(memberships)
    .innerJoin(users, eq(users.id, memberships.userId))
    .innerJoin(
      notificationPreferences,
      and(eq(notificationPreferences.tenantId, memberships.tenantId), eq(notificationPreferences.userId, memberships.userId)),
    )
    .where(eq(memberships.tenantId, tenantId))
    .all();
  if (members.length === 0) return;
  const recipients = members.map((m) => {
    const prefs = parsePreferences(m.prefs);
    return { ...m, prefs, address: (prefs.email.address ?? m.email).toLowerCase() };
  });
  const suppressed = await suppressionsOf(
    db,
    tenantId,
    recipients.map((r) => r.address),
  );

  const at = new Date(now);
  const stamp = at.toISOString();
  const stmts: BatchItem<'sqlite'>[] = [];
  const events_: ControlEvent[] = [];
  const notificationIds: string[] = [];
  for (const e of created) {
    const data = e.data as unknown as NotificationEventData;
    const n = data.notification;
    const kind = n ? kindOf(n) : null;
    if (!n || !kind) continue;
    notificationIds.push(n.id);
    for (const r of recipients) {
      if (kind === 'system' && r.role !== 'admin') continue;
      const timeZone = r.timezone && isValidTimezone(r.timezone) ? r.timezone : tenantZone;
      const decision: Decision = decide(
        kind,
        { prefs: r.prefs, verified: r.verifiedAt !== null, suppressed: suppressed.get(r.address) ?? null, timeZone },
        now,
      );
      const payload: MessagePayload = {
        kind,
        title: n.title,
        body: n.body ?? '',
        taskId: n.taskId,
        dueAt: data.due?.dueAt ?? null,
        dueDate: data.due?.dueDate ?? null,
        timeZone,
        locale: r.prefs.email.locale ?? 'en',
      };
      const id = newId('eml', now);
      stmts.push(
        db
          .insert(emailDeliveries)
          .values({
            id,
            tenantId,
            notificationId: n.id,
            userId: r.userId,
            address: r.address,
            kind,
            status: decision.status,
            reason: 'reason' in decision ? decision.reason : null,
            payload,
            nextAttemptAt: 'at' in decision ? new Date(decision.at).toISOString() : null,
            updatedAt: stamp,
          })
          .onConflictDoNothing(),
      );
      if (decision.status === 'suppressed') {
        const ev = eventFor(
          { id, tenantId, notificationId: n.id, userId: r.userId, kind },
          'email.suppressed',
          { reason: decision.reason },
          at,
        );
        // Only when this row was inserted now (a redelivered event finds the first row and emits nothing).
        stmts.push(outboxInsertWhere(db, ev, sql`EXISTS (SELECT 1 FROM email_deliveries WHERE id = ${id})`));
        events_.push(ev);
      }
    }
  }
  if (stmts.length === 0) return;
  await db.batch(stmts as [BatchItem<'sqlite'>, ...BatchItem<'sqlite'>[]]);
  if (events_.length > 0) {
    const written = await db
      .select({ id: emailDeliveries.id })
      .from(emailDeliveries)
      .where(
        inArray(
          emailDeliveries.id,
          events_.map((ev) => ev.data.deliveryId as string),
        ),
      )
      .all();
    const ids = new Set(written.map((w) => w.id));
    await forwardEvents(
      env,
      events_.filter((ev) => ids.has(ev.data.deliveryId as string)),
    );
  }
  // First attempts, now: every queued delivery of these notifications nobody attempted yet.
  const due = await db
    .select({ id: emailDeliveries.id })
    .from(emailDeliveries)
    .where(
      and(
        eq(emailDeliveries.tenantId, tenantId),
        inArray(emailDeliveries.notificationId, notificationIds),
        eq(emailDeliveries.status, 'queued'),
        eq(emailDeliveries.attempts, 0),
      ),
    )
    .all();
  // A few inline, so a quiet tenant's reminder leaves at once; the rest as jobs, so a big tenant or a
  // slow provider never holds this consumer's batch for long (each send may take its full timeout).
  for (const d of due.slice(0, INLINE_FIRST_ATTEMPTS))
    await runEmailAttempt(env, config, { kind: 'email_attempt', deliveryId: d.id, attempt: 1 }, Date.now());
  const rest = due.slice(INLINE_FIRST_ATTEMPTS);
  await sendInBatches(
    env.EVENTS,
    rest.map((d) => ({
      body: { kind: 'email_attempt', deliveryId: d.id, attempt: 1 } satisfies EmailAttemptJob,
      contentType: 'json' as const,
    })),
  );
}

/** Claims attempt `job.attempt` if it is due and nobody made it yet (or its maker died: lease expired). */
export async function claimEmail(db: Db, job: EmailAttemptJob, now: number): Promise<Delivery | undefined> {
  const at = new Date(now).toISOString();
  const rows = await db
    .update(emailDeliveries)
    .set({ attempts: job.attempt, status: 'queued', leaseUntil: new Date(now + EMAIL_LEASE_MS).toISOString(), updatedAt: at })
    .where(
      and(
        eq(emailDeliveries.id, job.deliveryId),
        inArray(emailDeliveries.status, ['queued', 'deferred']),
        or(isNull(emailDeliveries.nextAttemptAt), lte(emailDeliveries.nextAttemptAt, at)),
        or(
          and(eq(emailDeliveries.attempts, job.attempt - 1), isNull(emailDeliveries.leaseUntil)),
          and(eq(emailDeliveries.attempts, job.attempt), isNotNull(emailDeliveries.leaseUntil), lt(emailDeliveries.leaseUntil, at)),
        ),
      ),
    )
    .returning()
    .all();
  return rows[0];
}

/** Preferences or suppressions that changed since the delivery was planned (a deferred one waited hours). */
async function stillWanted(db: Db, d: Delivery): Promise<(Decision & { status: 'suppressed' }) | null> {
  const [pref, user, sup] = await Promise.all([
    db
      .select({ prefs: notificationPreferences.prefs })
      .from(notificationPreferences)
      .where(and(eq(notificationPreferences.tenantId, d.tenantId), eq(notificationPreferences.userId, d.userId)))
      .get(),
    db.select({ verifiedAt: users.emailVerifiedAt }).from(users).where(eq(users.id, d.userId)).get(),
    suppressionsOf(db, d.tenantId, [d.address]),
  ]);
  const prefs = parsePreferences(pref?.prefs);
  const kind = (d.kind === 'system' ? 'system' : 'reminder') as NotificationKind;
  const s = sup.get(d.address);
  if (s) return { status: 'suppressed', reason: s };
  if (!pref || !prefs.email.enabled || !prefs.kinds[kind].includes('email')) return { status: 'suppressed', reason: 'preferences' };
  if (!user?.verifiedAt) return { status: 'suppressed', reason: 'unverified' };
  return null;
}

export type EmailAttemptResult = { ran: false; dueInMs?: number } | { ran: true; status: Delivery['status'] };

/**
 * Runs attempt `job.attempt` of an email delivery if it is due and still this caller's; a no-op for
 * duplicates. A job that arrives before the attempt's time (queue and Worker clocks differ) gets
 * `dueInMs`, so its caller sends it again for then rather than leaving it to the sweeper.
 */
export async function runEmailAttempt(env: Env, config: Config, job: EmailAttemptJob, now = Date.now()): Promise<EmailAttemptResult> {
  const db = getDb(env.DB);
  const d = await claimEmail(db, job, now);
  if (!d) {
    const row = await db
      .select({
        status: emailDeliveries.status,
        attempts: emailDeliveries.attempts,
        next: emailDeliveries.nextAttemptAt,
        lease: emailDeliveries.leaseUntil,
      })
      .from(emailDeliveries)
      .where(eq(emailDeliveries.id, job.deliveryId))
      .get();
    const early =
      row &&
      (row.status === 'queued' || row.status === 'deferred') &&
      row.attempts === job.attempt - 1 &&
      row.lease === null &&
      row.next !== null
        ? Date.parse(row.next) - now
        : 0;
    return early > 0 ? { ran: false, dueInMs: early } : { ran: false };
  }
  return { ran: true, status: await deliverClaimed(env, config, [d], d.payload as MessagePayload, now) };
}

/**
 * Sends the daily digest of one member's due `digest` deliveries (same tenant and member): each is
 * claimed, then one email lists them all and every claimed row records its outcome.
 */
export async function runDigest(env: Env, config: Config, rows: readonly Delivery[], now = Date.now()): Promise<EmailAttemptResult> {
  const db = getDb(env.DB);
  const claimed: Delivery[] = [];
  for (const r of rows) {
    const attempt = r.leaseUntil !== null ? r.attempts : r.attempts + 1;
    const d = await claimEmail(db, { kind: 'email_attempt', deliveryId: r.id, attempt }, now);
    if (d) claimed.push(d);
  }
  if (claimed.length === 0) return { ran: false };
  const first = claimed[0]!.payload as MessagePayload;
  const payload: MessagePayload =
    claimed.length === 1
      ? first
      : {
          ...first,
          kind: 'digest',
          title: 'Daily digest',
          body: '',
          taskId: null,
          dueAt: null,
          dueDate: null,
          items: claimed.map((c) => ({ title: (c.payload as MessagePayload).title, body: (c.payload as MessagePayload).body })),
        };
  return { ran: true, status: await deliverClaimed(env, config, claimed, payload, now) };
}

/** Sends `payload` once for the claimed rows (same tenant, member and address) and records the outcome on each. */
async function deliverClaimed(
  env: Env,
  config: Config,
  claimed: Delivery[],
  payload: MessagePayload,
  now: number,
): Promise<Delivery['status']> {
  const db = getDb(env.DB);
  const d = claimed[0]!;
  const mine = (c: Delivery) => and(eq(emailDeliveries.id, c.id), eq(emailDeliveries.attempts, c.attempts)) as SQL;

  const unwanted = await stillWanted(db, d);
  if (unwanted) {
    const at = new Date();
    const stamp = at.toISOString();
    const evs = claimed.map((c) => eventFor(c, 'email.suppressed', { reason: unwanted.reason }, at));
    await db.batch(
      claimed.flatMap((c, i): BatchItem<'sqlite'>[] => [
        db
          .update(emailDeliveries)
          .set({ status: 'suppressed', reason: unwanted.reason, leaseUntil: null, nextAttemptAt: null, updatedAt: stamp })
          .where(mine(c)),
        outboxInsertWhere(
          db,
          evs[i]!,
          sql`EXISTS (SELECT 1 FROM email_deliveries WHERE id = ${c.id} AND status = 'suppressed' AND updated_at = ${stamp})`,
        ),
      ]) as [BatchItem<'sqlite'>, ...BatchItem<'sqlite'>[]],
    );
    await forwardEvents(env, evs);
    return 'suppressed';
  }

  const pepper = pepperOf(config);
  const domain = config.EMAIL_FROM.slice(config.EMAIL_FROM.indexOf('@') + 1);
  const unsubscribe = `${publicUrl(config)}/v1/email/unsubscribe/${await signUnsubscribe(pepper, { tenantId: d.tenantId, userId: d.userId, address: d.address })}`;
  const email = await renderEmail(payload, {
    id: d.id,
    from: { address: config.EMAIL_FROM, name: config.EMAIL_FROM_NAME },
    to: d.address,
    links: { unsubscribe, ...(payload.kind === 'reminder' && payload.taskId ? { replyTo: await replyAddress(pepper, d.id, domain) } : {}) },
    now: new Date(now),
  });
  // The first row's id is the provider's idempotency key: a retried attempt cannot make a second email.
  const res = await sendEmail(env, config, email, d.id);

  const done = Date.now();
  const at = new Date(done);
  const stamp = at.toISOString();
  let status: Delivery['status'];
  let nextAttemptAt: string | null = null;
  let retryDelayS: number | null = null;
  if (res.ok) status = 'sent';
  else if (res.permanent) status = 'failed';
  else {
    const outcome = outcomeOf(res.status, d.attempts, parseRetryAfter(res.retryAfter, done));
    if (outcome.kind === 'retry') {
      status = 'queued';
      retryDelayS = outcome.delayS;
      nextAttemptAt = new Date(done + outcome.delayS * 1000).toISOString();
    } else status = 'failed';
  }
  const stmts: BatchItem<'sqlite'>[] = [];
  const evs: ControlEvent[] = [];
  for (const c of claimed) {
    stmts.push(
      db
        .update(emailDeliveries)
        .set({
          status,
          nextAttemptAt,
          leaseUntil: null,
          providerMessageId: res.ok ? res.providerMessageId : c.providerMessageId,
          lastStatusCode: res.status,
          lastError: res.ok ? null : res.error,
          updatedAt: stamp,
        })
        .where(mine(c)),
    );
    if (status === 'sent' || status === 'failed') {
      const ev = eventFor(
        c,
        status === 'sent' ? 'email.sent' : 'email.failed',
        res.ok
          ? { providerMessageId: res.providerMessageId, attempts: c.attempts }
          : { attempts: c.attempts, error: res.error, statusCode: res.status },
        at,
      );
      stmts.push(
        outboxInsertWhere(
          db,
          ev,
          sql`EXISTS (SELECT 1 FROM email_deliveries WHERE id = ${c.id} AND status = ${status} AND updated_at = ${stamp})`,
        ),
      );
      evs.push(ev);
    }
  }
  // The provider refused the address itself: no tenant emails it again (a bounce).
  if (!res.ok && res.permanent && res.status === 422)
    stmts.push(db.insert(emailSuppressions).values({ address: d.address, scope: '*', reason: 'bounced' }).onConflictDoNothing());
  await db.batch(stmts as [BatchItem<'sqlite'>, ...BatchItem<'sqlite'>[]]);
  // A single delivery's retry is a delayed job; a digest's waits for the sweeper. Either way, a lost
  // send is run by the sweeper once next_attempt_at is overdue.
  if (retryDelayS !== null && claimed.length === 1 && payload.kind !== 'digest') {
    const next: EmailAttemptJob = { kind: 'email_attempt', deliveryId: d.id, attempt: d.attempts + 1 };
    await env.EVENTS.send(next, { contentType: 'json', delaySeconds: retryDelayS }).catch(() => undefined);
  }
  if (evs.length > 0) await forwardEvents(env, evs);
  return status;
}

/** Deliveries whose attempt is due at `now` (deferred ones whose time came, retries whose job was lost, attempts whose Worker died). */
export async function dueDeliveries(db: Db, now: number, limit: number): Promise<Delivery[]> {
  const at = new Date(now).toISOString();
  return db
    .select()
    .from(emailDeliveries)
    .where(
      and(
        inArray(emailDeliveries.status, ['queued', 'deferred']),
        lte(emailDeliveries.nextAttemptAt, at),
        or(isNull(emailDeliveries.leaseUntil), lt(emailDeliveries.leaseUntil, at)),
      ),
    )
    .orderBy(emailDeliveries.nextAttemptAt)
    .limit(limit)
    .all();
}
