/**
 * Control-plane events (docs/architecture.md "Events"). A service adds
 * `outboxInsert(...)` to the SAME `db.batch` as its change, so the event commits
 * with it or not at all. After the batch, `forwardEvents` hands the rows to the
 * tenant's TenantHub, which gives them the tenant's next sequence numbers and
 * publishes them with its own outbox; then the rows are marked forwarded. A
 * crash in between leaves unmarked rows, which the cron sweeper forwards (the
 * hub ignores ids it has already appended).
 */

import { and, inArray, isNull, type SQL, sql } from 'drizzle-orm';
import type { Db } from '../db/client';
import { getDb } from '../db/client';
import { eventOutbox } from '../db/schema';
import { newId } from '../lib/ids';
import { tenantHubStub } from '../lib/stubs';
import { createLogger, errorFields } from '../observability/log';
import type { EventType } from './catalog';

export interface ControlEvent {
  id: string;
  tenantId: string;
  type: EventType;
  occurredAt: string;
  data: Record<string, unknown>;
}

/** Hands committed events to the hub; given to services as `ctx.events` (src/lib/context.ts). */
export interface EventForwarder {
  forward(events: ControlEvent[]): Promise<void>;
}

export function controlEvent(tenantId: string, type: EventType, data: Record<string, unknown>, now: Date): ControlEvent {
  return { id: newId('evt', now.getTime()), tenantId, type, occurredAt: now.toISOString(), data };
}

/** The outbox row for `ev`, to put in the change's batch. */
export function outboxInsert(db: Db, ev: ControlEvent) {
  return db.insert(eventOutbox).values({ id: ev.id, tenantId: ev.tenantId, type: ev.type, occurredAt: ev.occurredAt, data: ev.data });
}

/** Like `outboxInsert`, but only if `condition` holds after the batch's earlier statements (a compare-and-set's mark). */
export function outboxInsertWhere(db: Db, ev: ControlEvent, condition: SQL) {
  // Column order = the table's: id, tenant_id, type, occurred_at, data, forwarded_at, attempts.
  return db
    .insert(eventOutbox)
    .select(sql`SELECT ${ev.id}, ${ev.tenantId}, ${ev.type}, ${ev.occurredAt}, ${JSON.stringify(ev.data)}, NULL, 0 WHERE ${condition}`);
}

/**
 * Forwards committed events (any tenants) to their hubs, then marks them in D1.
 * Never throws: what fails stays unmarked for the sweeper. Returns how many were
 * handed over.
 */
export async function forwardEvents(
  env: Env,
  events: readonly ControlEvent[],
  now = new Date(),
  defer?: (p: Promise<unknown>) => void,
): Promise<number> {
  const byTenant = new Map<string, ControlEvent[]>();
  for (const e of events) byTenant.set(e.tenantId, [...(byTenant.get(e.tenantId) ?? []), e]);
  const db = getDb(env.DB);
  let forwarded = 0;
  await Promise.all(
    [...byTenant].map(async ([tenantId, list]) => {
      const ids = list.map((e) => e.id);
      try {
        await tenantHubStub(env, tenantId).appendEvents(
          tenantId,
          list.map((e) => ({ ...e })),
        );
        forwarded += list.length;
      } catch (err) {
        createLogger({ handler: 'events' }).warn('event forward failed; the sweeper retries', {
          tenantId,
          events: ids,
          ...errorFields(err),
        });
        await db
          .update(eventOutbox)
          .set({ attempts: sql`${eventOutbox.attempts} + 1` })
          .where(inArray(eventOutbox.id, ids))
          .run()
          .catch(() => undefined);
        return;
      }
      const mark = db
        .update(eventOutbox)
        .set({ forwardedAt: now.toISOString() })
        .where(and(inArray(eventOutbox.id, ids), isNull(eventOutbox.forwardedAt)))
        .run()
        .catch(() => undefined); // unmarked rows are forwarded again; the hub appends each id once
      if (defer) defer(mark);
      else await mark;
    }),
  );
  return forwarded;
}

/** The forwarder a request's services use: the hub hand-over is awaited (so a client's next request sees the event ordered after this one), the D1 mark is not. */
export function eventForwarder(env: Env, waitUntil: (p: Promise<unknown>) => void): EventForwarder {
  return {
    async forward(events) {
      if (events.length > 0) await forwardEvents(env, events, new Date(), waitUntil);
    },
  };
}

/** Called by services right after their batch committed. */
export async function afterCommit(deps: { events?: EventForwarder | undefined }, ...events: ControlEvent[]): Promise<void> {
  await deps.events?.forward(events);
}
