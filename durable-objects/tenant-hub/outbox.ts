/**
 * Publishes the hub's outbox to the EVENTS queue in order; marks rows only after the queue accepted them.
 * `onPublished` sees each page the queue accepted (the hub's direct first webhook attempts, ./direct-webhooks.ts).
 */
import { markAttempt, markPublished, type OutboxEvent, pendingEvents } from './sync-log';

const BATCH = 100; // Queues' sendBatch limit

export async function publishOutbox(
  storage: DurableObjectStorage,
  queue: Queue,
  onPublished?: (events: OutboxEvent[]) => void,
): Promise<number> {
  let published = 0;
  for (;;) {
    const events = pendingEvents(storage.sql, BATCH);
    if (events.length === 0) return published;
    const sequences = events.map((e) => e.sequence);
    try {
      await queue.sendBatch(events.map((e) => ({ body: e, contentType: 'json' as const })));
    } catch {
      // Left pending: the next alarm (or the sweeper) publishes them again. At-least-once by design.
      storage.transactionSync(() => markAttempt(storage.sql, sequences));
      return published;
    }
    storage.transactionSync(() => markPublished(storage.sql, sequences, new Date().toISOString()));
    onPublished?.(events);
    published += events.length;
    if (events.length < BATCH) return published;
  }
}
