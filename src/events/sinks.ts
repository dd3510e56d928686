/**
 * The EVENTS consumer's sinks. Each handles one tenant's events in sequence
 * order and must be idempotent, because a batch may be delivered again:
 * - analytics: counts only event ids not seen before (`consumed_events`);
 * - notifications: creates notifications whose id derives from the event id;
 * - webhooks: delivery rows are unique per (endpoint, event), attempts are compare-and-set;
 * - email: delivery rows are unique per (notification, member), attempts are compare-and-set.
 */

import { sql } from 'drizzle-orm';
import type { Config } from '../config';
import { getDb } from '../db/client';
import { consumedEvents } from '../db/schema';
import { planEmails } from '../email/deliveries';
import { bindChunks } from '../lib/bind-chunks';
import { tenantHubStub } from '../lib/stubs';
import { writeCounter } from '../observability/analytics';
import { createLogger } from '../observability/log';
import type { EventMessage } from '../queue/messages';
import { type Endpoint, enabledEndpointsOf, fanOut } from './fanout';

export interface EventSink {
  name: string;
  /** `reads`: the batch's shared reads (`batchReads`); a sink called on its own reads for `events` alone. */
  handle(tenantId: string, events: readonly EventMessage[], env: Env, config: Config, reads?: BatchReads): Promise<void>;
}

/**
 * What the sinks read for a whole batch, once for all its tenant groups: the consumed-event marks of
 * its events and the enabled endpoints of its tenants, one D1 statement each per batch instead of
 * one per tenant (issue 20: a batch of 50 events from 8 tenants made 16 of these round trips, 2 now).
 * Each is read on first use and shared; should it fail, every group that needs it fails and is
 * retried, as a group's own read failing did before.
 */
export interface BatchReads {
  /**
   * Which of `ids` (events of the batch) this delivery sees first. The first call marks every event
   * of the batch consumed; as before, a mark precedes its count, so an invocation that dies in
   * between loses counts and never doubles them.
   */
  firstSeen(ids: readonly string[]): Promise<Set<string>>;
  /** The tenant's enabled webhook endpoints (a tenant of the batch). */
  enabledEndpoints(tenantId: string): Promise<Endpoint[]>;
}

export function batchReads(env: Env, events: readonly EventMessage[]): BatchReads {
  let seen: Promise<Set<string>> | undefined;
  let endpoints: Promise<Map<string, Endpoint[]>> | undefined;
  return {
    async firstSeen(ids) {
      seen ??= firstSeen(
        env,
        events.map((e) => e.id),
      );
      const fresh = await seen;
      return new Set(ids.filter((id) => fresh.has(id)));
    },
    async enabledEndpoints(tenantId) {
      endpoints ??= enabledEndpointsOf(env, [...new Set(events.map((e) => e.tenantId))]);
      return (await endpoints).get(tenantId) ?? [];
    },
  };
}

/** Marks `ids` consumed and returns the ones that were new (one statement per BIND_CHUNK ids). */
export async function firstSeen(env: Env, ids: readonly string[]): Promise<Set<string>> {
  const db = getDb(env.DB);
  const fresh = new Set<string>();
  for (const chunk of bindChunks(ids)) {
    const rows = await db
      .insert(consumedEvents)
      .values(chunk.map((eventId) => ({ eventId })))
      .onConflictDoNothing()
      .returning({ eventId: consumedEvents.eventId })
      .all();
    for (const r of rows) fresh.add(r.eventId);
  }
  return fresh;
}

/** Counts events per type and tenant in Analytics Engine (the dashboards' event volume panel), once per event id. */
export const analyticsSink: EventSink = {
  name: 'analytics',
  async handle(_tenantId, events, env, config, reads = batchReads(env, events)) {
    const fresh = await reads.firstSeen(events.map((e) => e.id));
    for (const e of events) if (fresh.has(e.id)) writeCounter(env.ANALYTICS, 'event', e.tenantId, [e.type, config.ENVIRONMENT]);
  },
};

/** Turns platform events that need a human into hub notifications (shown to the tenant's members). */
export const notificationSink: EventSink = {
  name: 'notifications',
  async handle(tenantId, events, env) {
    for (const e of events) {
      if (e.type !== 'webhook_endpoint.disabled') continue;
      const d = e.data as { endpointId?: string; url?: string; reason?: string; lastStatusCode?: number | null };
      const why =
        d.reason === 'gone'
          ? 'it answered 410 Gone'
          : `its deliveries kept failing${d.lastStatusCode ? ` (last status ${d.lastStatusCode})` : ''}`;
      await tenantHubStub(env, tenantId).createSystemNotification(tenantId, {
        id: `ntf_${e.id.slice(e.id.indexOf('_') + 1)}`,
        title: 'Webhook endpoint disabled',
        body: `${d.url ?? d.endpointId} was disabled because ${why}. Fix it, then re-enable it with PATCH /v1/webhooks/${d.endpointId} {"enabled": true} and recover missed deliveries with POST /v1/webhooks/${d.endpointId}/recover.`,
      });
    }
  },
};

/**
 * How long the queue's copy waits for the hub to be done with its events: a tenant whose hub is behind
 * holds a slot of the consumer's pool at most this long, as one inline attempt may (INLINE_TIMEOUT_MS).
 */
export const HUB_FAN_OUT_WAIT_MS = 5_000;

/**
 * Webhook fan-out of the queue's copy of the events. The tenant's hub made the first attempts of most
 * of them already (durable-objects/tenant-hub/direct-webhooks.ts). When an endpoint wants
 * `ordering: 'sequence'`, the events go to the hub first, which fans out those it has not, in its one
 * lane per endpoint, and answers once it is done with them; only then does this fan-out run, and it
 * finds the hub's rows made and sends nothing for them, so such an endpoint never gets first attempts
 * from two senders at once. It still sends what the hub did not do (an endpoint or filter the hub's
 * copy did not have yet, a failed fan-out), and after `hubWaitMs`, or when the hub cannot be
 * reached, it goes ahead anyway: rows are unique per event, so nothing is sent twice; only the
 * order may suffer.
 */
export function webhookSinkWith({ hubWaitMs }: { hubWaitMs: number }): EventSink {
  return {
    name: 'webhooks',
    async handle(tenantId, events, env, config, reads = batchReads(env, events)) {
      const endpoints = await reads.enabledEndpoints(tenantId);
      if (endpoints.length === 0) return;
      if (!endpoints.some((ep) => ep.ordering === 'sequence')) {
        await fanOut(env, config, tenantId, events, { endpoints });
        return;
      }
      const outcome = await hubFanOut(env, tenantId, events, hubWaitMs);
      if (outcome !== 'done')
        createLogger({ handler: 'queue', sink: 'webhooks' }).warn(
          'the hub did not finish fanning out these events; the consumer fans them out itself (order not guaranteed)',
          { tenantId, outcome, events: events.length },
        );
      // Read again after the wait: what the hub's lanes changed meanwhile (failing, disabled) is in D1.
      await fanOut(env, config, tenantId, events);
    },
  };
}

/** Hands `events` to the tenant's hub (`TenantHub.fanOutWebhooks`) and waits at most `waitMs` for it. */
async function hubFanOut(env: Env, tenantId: string, events: readonly EventMessage[], waitMs: number): Promise<'done' | 'failed' | 'late'> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<'late'>((resolve) => {
    timer = setTimeout(() => resolve('late'), waitMs);
  });
  try {
    return await Promise.race([
      tenantHubStub(env, tenantId)
        .fanOutWebhooks(tenantId, [...events])
        .then(
          () => 'done' as const,
          () => 'failed' as const,
        ),
      late,
    ]);
  } finally {
    if (timer !== undefined) clearTimeout(timer);
  }
}

export const webhookSink = webhookSinkWith({ hubWaitMs: HUB_FAN_OUT_WAIT_MS });

/** Emails notifications to members who chose email (src/email/deliveries.ts): one delivery per (notification, member). */
export const emailSink: EventSink = {
  name: 'email',
  async handle(tenantId, events, env, config) {
    await planEmails(env, config, tenantId, events);
  },
};

export const SINKS: EventSink[] = [analyticsSink, notificationSink, webhookSink, emailSink];

/** Purges consumed-event marks older than the queue could redeliver (retention is at most 14 days). */
export function purgeConsumedBefore(env: Env, cutoff: string) {
  return getDb(env.DB).delete(consumedEvents).where(sql`${consumedEvents.consumedAt} < ${cutoff}`).run();
}
