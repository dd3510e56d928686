/**
 * EVENTS consumer: validates each message and hands it to every sink.
 * Each message is acked or retried on its own, so one poison message never
 * holds back the batch; after `max_retries` the queue moves it to the DLQ.
 */
import type { Config } from '../config';
import { writeCounter } from '../observability/analytics';
import { createLogger, errorFields } from '../observability/log';
import { EventMessageSchema, type EventMessage } from './messages';

export interface EventSink {
  name: string;
  handle(event: EventMessage, env: Env, config: Config): Promise<void>;
}

/** Counts events per type and tenant in Analytics Engine (the dashboards' event volume panel). */
const analyticsSink: EventSink = {
  name: 'analytics',
  async handle(event, env, config) {
    writeCounter(env.ANALYTICS, 'event', event.tenantId, [event.type, config.ENVIRONMENT]);
  },
};

export const SINKS: EventSink[] = [analyticsSink];

export async function consumeEvents(batch: MessageBatch<unknown>, env: Env, config: Config, sinks = SINKS): Promise<void> {
  const log = createLogger({ handler: 'queue', queue: batch.queue, env: config.ENVIRONMENT });
  for (const msg of batch.messages) {
    const parsed = EventMessageSchema.safeParse(msg.body);
    if (!parsed.success) {
      log.error('invalid event message', { messageId: msg.id, attempts: msg.attempts, issues: parsed.error.issues.map((i) => i.path.join('.')) });
      msg.retry({ delaySeconds: 0 });
      continue;
    }
    try {
      for (const sink of sinks) await sink.handle(parsed.data, env, config);
      msg.ack();
    } catch (err) {
      log.error('event sink failed', { messageId: msg.id, eventId: parsed.data.id, attempts: msg.attempts, ...errorFields(err) });
      // Exponential backoff between attempts, capped at 5 minutes.
      msg.retry({ delaySeconds: Math.min(300, 2 ** msg.attempts) });
    }
  }
}
