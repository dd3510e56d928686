/** Routes a queue batch to its consumer by queue name (wrangler.toml: edgecrew-<queue>-<env>). */
import type { Config } from '../config';
import { consumeEvents } from './consumer';
import { consumeDeadLetters } from './dead-letters';
import { consumeWebhookJobs } from './webhook-jobs';

export async function consumeQueue(batch: MessageBatch<unknown>, env: Env, config: Config): Promise<void> {
  if (batch.queue.startsWith('edgecrew-events-dlq-')) return consumeDeadLetters(batch, env, config);
  if (batch.queue.startsWith('edgecrew-webhooks-')) return consumeWebhookJobs(batch, env, config);
  return consumeEvents(batch, env, config);
}
