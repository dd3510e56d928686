/**
 * Control-plane events forwarded by the Worker (src/events/outbox.ts) join the
 * hub's outbox here: each gets the tenant's next outbox sequence, so task and
 * control-plane events share one gap-free per-tenant order, and the hub
 * publishes them like its own. Idempotent by event id.
 */
import { insertEvent, type OutboxEvent } from './sync-log';

/** What the Worker forwards: an event without its sequence (the hub assigns it). */
export type ForwardedEvent = Omit<OutboxEvent, 'sequence'>;

const KEEP_IDS_MS = 7 * 24 * 3600_000;

/** Appends the events not seen before, in the order given; returns how many were new. Run inside a transaction. */
export function appendForwarded(sql: SqlStorage, tenantId: string, events: readonly ForwardedEvent[], now: number): number {
  let appended = 0;
  for (const e of events) {
    if (e.tenantId !== tenantId) throw new Error(`event ${e.id} of ${e.tenantId} forwarded to the hub of ${tenantId}`);
    if (sql.exec(`SELECT 1 FROM forwarded_events WHERE id = ?`, e.id).toArray().length > 0) continue;
    const sequence = insertEvent(sql, e);
    sql.exec(`INSERT INTO forwarded_events (id, sequence, received_at) VALUES (?, ?, ?)`, e.id, sequence, now);
    appended += 1;
  }
  sql.exec(`DELETE FROM forwarded_events WHERE received_at < ?`, now - KEEP_IDS_MS);
  return appended;
}
