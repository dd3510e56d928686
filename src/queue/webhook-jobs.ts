/**
 * WEBHOOKS consumer: one `webhook_attempt` job per message (retries, hand-offs
 * from the fan-out, replays, recoveries, tests). Its own queue because these are
 * the slow or failing endpoints: they run with the full request timeout here,
 * never in the EVENTS consumer where another tenant's events would wait. Each
 * job is acked on its own; duplicates are no-ops (compare-and-set per attempt).
 * At most PER_ENDPOINT jobs of one failing endpoint run per batch; its others are
 * sent back with a short delay, so one hanging endpoint holds a few of the batch's
 * connections for one timeout, never the whole batch for many. Healthy endpoints,
 * slow or not, use every slot.
 */
import { eq, inArray } from 'drizzle-orm';
import type { Config } from '../config';
import { getDb } from '../db/client';
import { webhookDeliveries, webhookEndpoints } from '../db/schema';
import { runAttempt } from '../events/attempt';
import { bindChunks } from '../lib/bind-chunks';
import { createLogger, errorFields } from '../observability/log';
import { retryDelayS } from './backoff';
import { type DeliveryJob, DeliveryJobSchema } from './messages';
import { inPool } from './pool';

/** Workers allow 6 open outbound connections per invocation. */
const JOB_CONCURRENCY = 6;
export const PER_ENDPOINT = 3;
export const DEFER_S = 10;

type Item = { msg: Message<unknown>; job: DeliveryJob };

/** The endpoint of each delivery whose endpoint is failing and still enabled (one query per BIND_CHUNK ids). */
async function failingEndpointsOf(env: Env, ids: string[]): Promise<Map<string, string>> {
  const db = getDb(env.DB);
  const out = new Map<string, string>();
  for (const chunk of bindChunks(ids)) {
    const rows = await db
      .select({
        id: webhookDeliveries.id,
        endpointId: webhookDeliveries.endpointId,
        failingSince: webhookEndpoints.failingSince,
        disabledAt: webhookEndpoints.disabledAt,
      })
      .from(webhookDeliveries)
      .innerJoin(webhookEndpoints, eq(webhookEndpoints.id, webhookDeliveries.endpointId))
      .where(inArray(webhookDeliveries.id, chunk))
      .all();
    // A disabled endpoint is not sent to (its jobs only settle their deliveries), so it is not held back either.
    for (const r of rows) if (r.failingSince !== null && r.disabledAt === null) out.set(r.id, r.endpointId);
  }
  return out;
}

export async function consumeWebhookJobs(batch: MessageBatch<unknown>, env: Env, config: Config): Promise<void> {
  const log = createLogger({ handler: 'queue', queue: batch.queue, env: config.ENVIRONMENT });
  const items: Item[] = [];
  for (const msg of batch.messages) {
    const parsed = DeliveryJobSchema.safeParse(msg.body);
    if (parsed.success) items.push({ msg, job: parsed.data });
    else {
      log.error('invalid webhook job', { messageId: msg.id, issues: parsed.error.issues.map((i) => i.path.join('.')) });
      msg.retry({ delaySeconds: 0 });
    }
  }
  if (items.length === 0) return;

  let endpoints: Map<string, string>;
  try {
    endpoints = await failingEndpointsOf(env, [...new Set(items.map((i) => i.job.deliveryId))]);
  } catch (err) {
    log.error('webhook jobs: delivery lookup failed', { count: items.length, ...errorFields(err) });
    for (const { msg } of items) msg.retry({ delaySeconds: retryDelayS(msg.attempts) });
    return;
  }
  const perEndpoint = new Map<string, number>();
  const now: Item[] = [];
  const later: Item[] = [];
  for (const item of items) {
    const ep = endpoints.get(item.job.deliveryId);
    if (ep === undefined) {
      now.push(item);
      continue;
    }
    const n = (perEndpoint.get(ep) ?? 0) + 1;
    perEndpoint.set(ep, n);
    (n <= PER_ENDPOINT ? now : later).push(item);
  }
  if (later.length > 0) {
    try {
      await env.WEBHOOKS.sendBatch(later.map(({ job }) => ({ body: job, contentType: 'json' as const, delaySeconds: DEFER_S })));
      for (const { msg } of later) msg.ack();
    } catch {
      for (const { msg } of later) msg.retry({ delaySeconds: DEFER_S });
    }
  }

  await inPool(now, JOB_CONCURRENCY, async ({ msg, job }) => {
    try {
      await runAttempt(env, config, job);
      msg.ack();
    } catch (err) {
      log.error('webhook attempt failed', {
        messageId: msg.id,
        deliveryId: job.deliveryId,
        attempt: job.attempt,
        attempts: msg.attempts,
        ...errorFields(err),
      });
      msg.retry({ delaySeconds: retryDelayS(msg.attempts) });
    }
  });
}
