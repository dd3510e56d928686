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
import { tenantHubStub } from '../lib/stubs';
import { writeCounter } from '../observability/analytics';
import type { EventMessage } from '../queue/messages';
import { enabledEndpoints, fanOut } from './fanout';

export interface EventSink {
  name: string;
  handle(tenantId: string, events: readonly EventMessage[], env: Env, config: Config): Promise<void>;
}

/** Marks `ids` consumed and returns the ones that were new (one statement; D1 allows 100 bound parameters). */
export async function firstSeen(env: Env, ids: readonly string[]): Promise<Set<string>> {
  const db = getDb(env.DB);
  const fresh = new Set<string>();
  for (let i = 0; i < ids.length; i += 90) {
    const rows = await db
      .insert(consumedEvents)
      .values(ids.slice(i, i + 90).map((eventId) => ({ eventId })))
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
  async handle(_tenantId, events, env, config) {
    const fresh = await firstSeen(
      env,
      events.map((e) => e.id),
    );
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

/** How long the queue's copy waits for the hub to be done with its events before covering them itself. */
export const HUB_FAN_OUT_WAIT_MS = 60_000;

/**
 * Webhook fan-out of the queue's copy of the events. The tenant's hub made the first attempts of most
 * of them already (durable-objects/tenant-hub/direct-webhooks.ts); when an endpoint wants
 * `ordering: 'sequence'`, the events go to the hub first, which fans out what it has not, in its one
 * lane per endpoint, and answers the endpoints it covered: this fan-out then sends only to the others,
 * so such an endpoint never gets first attempts from two senders at once. Should the hub not answer
 * (unreachable, or not done within `hubWaitMs`), this fan-out covers every endpoint: rows are unique
 * per event, so nothing is sent twice; only the order may suffer.
 */
export function webhookSinkWith({ hubWaitMs }: { hubWaitMs: number }): EventSink {
  return {
    name: 'webhooks',
    async handle(tenantId, events, env, config) {
      const endpoints = await enabledEndpoints(env, tenantId);
      if (endpoints.length === 0) return;
      const covered = endpoints.some((ep) => ep.ordering === 'sequence')
        ? new Set(await hubFanOut(env, tenantId, events, hubWaitMs))
        : new Set<string>();
      const rest = endpoints.filter((ep) => !covered.has(ep.id));
      if (rest.length > 0) await fanOut(env, config, tenantId, events, { endpoints: rest });
    },
  };
}

/** The endpoints the hub's fan-out of `events` covered; [] when it failed or took longer than `waitMs`. */
async function hubFanOut(env: Env, tenantId: string, events: readonly EventMessage[], waitMs: number): Promise<string[]> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<string[]>((resolve) => {
    timer = setTimeout(() => resolve([]), waitMs);
  });
  try {
    return await Promise.race([
      tenantHubStub(env, tenantId)
        .fanOutWebhooks(tenantId, [...events])
        .catch(() => []),
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
