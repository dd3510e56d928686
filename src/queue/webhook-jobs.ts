/**
 * WEBHOOKS consumer: one `webhook_attempt` job per message (retries, hand-offs
 * from the fan-out, replays, recoveries, tests). Its own queue because these are
 * the slow or failing endpoints: they run with the full request timeout here,
 * never in the EVENTS consumer where another tenant's events would wait. Each
 * job is acked on its own; duplicates are no-ops (compare-and-set per attempt).
 */
import type { Config } from '../config';
import { runAttempt } from '../events/attempt';
import { createLogger, errorFields } from '../observability/log';
import { retryDelayS } from './backoff';
import { DeliveryJobSchema } from './messages';
import { inPool } from './pool';

/** Workers allow 6 open outbound connections per invocation. */
const JOB_CONCURRENCY = 6;

export async function consumeWebhookJobs(batch: MessageBatch<unknown>, env: Env, config: Config): Promise<void> {
  const log = createLogger({ handler: 'queue', queue: batch.queue, env: config.ENVIRONMENT });
  await inPool(batch.messages, JOB_CONCURRENCY, async (msg) => {
    const parsed = DeliveryJobSchema.safeParse(msg.body);
    if (!parsed.success) {
      log.error('invalid webhook job', { messageId: msg.id, issues: parsed.error.issues.map((i) => i.path.join('.')) });
      msg.retry({ delaySeconds: 0 });
      return;
    }
    const job = parsed.data;
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
