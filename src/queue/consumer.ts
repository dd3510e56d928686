/**
 * EVENTS consumer. Domain events are handed to every sink grouped by tenant in
 * sequence order; map child-start jobs start child runs. Every sink is
 * idempotent, so a redelivered batch has the effect of one. Each tenant group
 * is acked or retried on its own as soon as it finishes (a pool, not chunks),
 * so a slow tenant holds one slot and never another tenant's acks. Webhook
 * attempt jobs belong to the WEBHOOKS queue (src/queue/webhook-jobs.ts); any
 * still arriving here are moved there. Knowledge indexing jobs (`kb_index`) run
 * here too, each acked on its own (src/knowledge/index-job.ts), and so do `email_attempt` jobs (src/email/deliveries.ts). After `max_retries` the queue moves a
 * message to the dead-letter queue (src/queue/dead-letters.ts).
 */
import type { Config } from '../config';
import { type EmailAttemptJob, runEmailAttempt } from '../email/deliveries';
import { batchReads, type EventSink, SINKS } from '../events/sinks';
import { startChildFromQueue } from '../flows/child-jobs';
import { runIndexJob } from '../knowledge/index-job';
import { createLogger, errorFields } from '../observability/log';
import { retryDelayS } from './backoff';
import {
  type ChildStartJob,
  ChildStartJobSchema,
  type DeliveryJob,
  DeliveryJobSchema,
  EmailAttemptJobSchema,
  type EventMessage,
  EventMessageSchema,
  isChildStartJob,
  isDeliveryJob,
  isEmailAttemptJob,
  isKbIndexJob,
  type KbIndexJob,
  KbIndexJobSchema,
} from './messages';
import { inPool } from './pool';

export type { EventSink } from '../events/sinks';
export { SINKS } from '../events/sinks';

const GROUP_CONCURRENCY = 6;
/** The queue's max_retries + 1: on this delivery an indexing failure is final (the document is marked failed). */
const INDEX_ATTEMPTS = 6;

export async function consumeEvents(batch: MessageBatch<unknown>, env: Env, config: Config, sinks: EventSink[] = SINKS): Promise<void> {
  const log = createLogger({ handler: 'queue', queue: batch.queue, env: config.ENVIRONMENT });
  const groups = new Map<string, Array<{ msg: Message<unknown>; event: EventMessage }>>();
  const jobs: Array<{ msg: Message<unknown>; job: DeliveryJob }> = [];
  const children: Array<{ msg: Message<unknown>; job: ChildStartJob }> = [];
  const indexJobs: Array<{ msg: Message<unknown>; job: KbIndexJob }> = [];
  const emailJobs: Array<{ msg: Message<unknown>; job: EmailAttemptJob }> = [];
  for (const msg of batch.messages) {
    if (isEmailAttemptJob(msg.body)) {
      const job = EmailAttemptJobSchema.safeParse(msg.body);
      if (job.success) emailJobs.push({ msg, job: job.data });
      else {
        log.error('invalid email attempt job', { messageId: msg.id, issues: job.error.issues.map((i) => i.path.join('.')) });
        msg.retry({ delaySeconds: 0 });
      }
      continue;
    }
    if (isKbIndexJob(msg.body)) {
      const job = KbIndexJobSchema.safeParse(msg.body);
      if (job.success) indexJobs.push({ msg, job: job.data });
      else {
        log.error('invalid kb index job', { messageId: msg.id, issues: job.error.issues.map((i) => i.path.join('.')) });
        msg.retry({ delaySeconds: 0 });
      }
      continue;
    }
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
    else {
      const group = groups.get(parsed.data.tenantId);
      if (group) group.push({ msg, event: parsed.data });
      else groups.set(parsed.data.tenantId, [{ msg, event: parsed.data }]);
    }
  }

  if (jobs.length > 0) {
    try {
      await env.WEBHOOKS.sendBatch(jobs.map(({ job }) => ({ body: job, contentType: 'json' as const })));
      for (const { msg } of jobs) msg.ack();
    } catch (err) {
      log.error('moving webhook jobs failed', { count: jobs.length, ...errorFields(err) });
      for (const { msg } of jobs) msg.retry({ delaySeconds: retryDelayS(msg.attempts) });
    }
  }

  const work: Array<() => Promise<void>> = [];
  const reads = batchReads(
    env,
    [...groups.values()].flatMap((items) => items.map((i) => i.event)),
  );
  for (const [tenantId, items] of groups) {
    items.sort((a, b) => a.event.sequence - b.event.sequence);
    work.push(async () => {
      try {
        // Sinks are independent and each idempotent: run them side by side; any failure retries the group.
        const events = items.map((i) => i.event);
        await Promise.all(sinks.map((sink) => sink.handle(tenantId, events, env, config, reads)));
        for (const { msg } of items) msg.ack();
      } catch (err) {
        log.error('event sink failed', { tenantId, eventIds: items.map((i) => i.event.id), ...errorFields(err) });
        for (const { msg } of items) msg.retry({ delaySeconds: retryDelayS(msg.attempts) });
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
        msg.retry({ delaySeconds: retryDelayS(msg.attempts) });
      }
    });
  }
  for (const { msg, job } of indexJobs) {
    work.push(async () => {
      try {
        await runIndexJob(env, job, { attempt: msg.attempts, lastAttempt: msg.attempts >= INDEX_ATTEMPTS });
        msg.ack();
      } catch (err) {
        log.error('knowledge indexing failed', {
          messageId: msg.id,
          documentId: job.documentId,
          attempts: msg.attempts,
          ...errorFields(err),
        });
        msg.retry({ delaySeconds: retryDelayS(msg.attempts) });
      }
    });
  }
  for (const { msg, job } of emailJobs) {
    work.push(async () => {
      try {
        const r = await runEmailAttempt(env, config, job);
        // Arrived before its time: come back then (at most the queue's 12 h; a later one comes back again).
        if (!r.ran && r.dueInMs)
          await env.EVENTS.send(job, { contentType: 'json', delaySeconds: Math.min(12 * 3600, Math.ceil(r.dueInMs / 1000)) });
        msg.ack();
      } catch (err) {
        log.error('email attempt failed', { messageId: msg.id, deliveryId: job.deliveryId, attempt: job.attempt, ...errorFields(err) });
        msg.retry({ delaySeconds: retryDelayS(msg.attempts) });
      }
    });
  }
  await inPool(work, GROUP_CONCURRENCY, (w) => w());
}
