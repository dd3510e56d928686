/**
 * EVENTS consumer. Two kinds of message share the queue (src/queue/messages.ts):
 * domain events, handed to every sink grouped by tenant in sequence order, and
 * webhook attempt jobs. Every sink is idempotent, so a redelivered batch has the
 * effect of one. Messages are acked or retried on their own (per tenant group
 * for events), so one poison message never holds back the others; after
 * `max_retries` the queue moves it to the dead-letter queue (docs/operations.md).
 */
import type { Config } from '../config';
import { runAttempt } from '../events/attempt';
import { type EventSink, SINKS } from '../events/sinks';
import { startChildFromQueue } from '../flows/child-jobs';
import { createLogger, errorFields } from '../observability/log';
import {
  type ChildStartJob,
  ChildStartJobSchema,
  type DeliveryJob,
  DeliveryJobSchema,
  type EventMessage,
  EventMessageSchema,
  isChildStartJob,
  isDeliveryJob,
} from './messages';

export type { EventSink } from '../events/sinks';
export { SINKS } from '../events/sinks';

const JOB_CONCURRENCY = 6;

/** Exponential backoff between attempts of a failing message, capped at 5 minutes. */
const backoff = (attempts: number) => Math.min(300, 2 ** attempts);

export async function consumeEvents(batch: MessageBatch<unknown>, env: Env, config: Config, sinks: EventSink[] = SINKS): Promise<void> {
  const log = createLogger({ handler: 'queue', queue: batch.queue, env: config.ENVIRONMENT });
  const groups = new Map<string, Array<{ msg: Message<unknown>; event: EventMessage }>>();
  const jobs: Array<{ msg: Message<unknown>; job: DeliveryJob }> = [];
  const children: Array<{ msg: Message<unknown>; job: ChildStartJob }> = [];
  for (const msg of batch.messages) {
    if (isChildStartJob(msg.body)) {
      const child = ChildStartJobSchema.safeParse(msg.body);
      if (child.success) children.push({ msg, job: child.data });
      else {
        log.error('invalid child start job', { messageId: msg.id, issues: child.error.issues.map((i) => i.path.join('.')) });
        msg.retry({ delaySeconds: 0 });
      }
      continue;
    }
    const parsed = isDeliveryJob(msg.body) ? DeliveryJobSchema.safeParse(msg.body) : EventMessageSchema.safeParse(msg.body);
    if (!parsed.success) {
      log.error('invalid event message', {
        messageId: msg.id,
        attempts: msg.attempts,
        issues: parsed.error.issues.map((i) => i.path.join('.')),
      });
      msg.retry({ delaySeconds: 0 });
      continue;
    }
    if ('kind' in parsed.data) jobs.push({ msg, job: parsed.data });
    else groups.set(parsed.data.tenantId, [...(groups.get(parsed.data.tenantId) ?? []), { msg, event: parsed.data }]);
  }

  const work: Array<() => Promise<void>> = [];
  for (const [tenantId, items] of groups) {
    items.sort((a, b) => a.event.sequence - b.event.sequence);
    work.push(async () => {
      try {
        // Sinks are independent and each idempotent: run them side by side; any failure retries the group.
        const events = items.map((i) => i.event);
        await Promise.all(sinks.map((sink) => sink.handle(tenantId, events, env, config)));
        for (const { msg } of items) msg.ack();
      } catch (err) {
        log.error('event sink failed', { tenantId, eventIds: items.map((i) => i.event.id), ...errorFields(err) });
        for (const { msg } of items) msg.retry({ delaySeconds: backoff(msg.attempts) });
      }
    });
  }
  for (const { msg, job } of jobs) {
    work.push(async () => {
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
        msg.retry({ delaySeconds: backoff(msg.attempts) });
      }
    });
  }
  for (const { msg, job } of children) {
    work.push(async () => {
      try {
        await startChildFromQueue(env, job);
        msg.ack();
      } catch (err) {
        log.error('child run start failed', { messageId: msg.id, runId: job.runId, attempts: msg.attempts, ...errorFields(err) });
        msg.retry({ delaySeconds: backoff(msg.attempts) });
      }
    });
  }
  for (let i = 0; i < work.length; i += JOB_CONCURRENCY) await Promise.all(work.slice(i, i + JOB_CONCURRENCY).map((w) => w()));
}
