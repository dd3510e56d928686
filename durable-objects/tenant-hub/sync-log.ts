/** The hub's change log and outbox: appended in the same SQLite transaction as the change itself. */

import { newId } from '../../src/lib/ids';
import type { Change, Notification, Task } from '../../src/tasks/model';

type Sql = SqlStorage;

export function appendChange(sql: Sql, entity: Change['entity'], entityId: string, op: Change['op'], occurredAt: string): number {
  const row = sql
    .exec<{ version: number }>(
      `INSERT INTO changes (entity, entity_id, op, data, occurred_at) VALUES (?, ?, ?, NULL, ?) RETURNING version`,
      entity,
      entityId,
      op,
      occurredAt,
    )
    .one();
  return row.version;
}

export function setChangeData(sql: Sql, version: number, data: Task | Notification | Record<string, unknown> | null): void {
  sql.exec(`UPDATE changes SET data = ? WHERE version = ?`, data === null ? null : JSON.stringify(data), version);
}

interface ChangeRow {
  version: number;
  entity: Change['entity'];
  entity_id: string;
  op: Change['op'];
  data: string | null;
  occurred_at: string;
  [k: string]: SqlStorageValue;
}

function toChange(r: ChangeRow): Change {
  return {
    version: r.version,
    entity: r.entity,
    entityId: r.entity_id,
    op: r.op,
    data: r.data === null ? null : JSON.parse(r.data),
    occurredAt: r.occurred_at,
  };
}

export function changesSince(sql: Sql, since: number, limit: number): { changes: Change[]; version: number; hasMore: boolean } {
  const rows = sql.exec<ChangeRow>(`SELECT * FROM changes WHERE version > ? ORDER BY version LIMIT ?`, since, limit + 1).toArray();
  const changes = rows.slice(0, limit).map(toChange);
  const latest = sql.exec<{ v: number | null }>(`SELECT MAX(version) AS v FROM changes`).one().v ?? 0;
  return {
    changes,
    version: changes.length > 0 ? changes[changes.length - 1]!.version : Math.max(since, latest),
    hasMore: rows.length > limit,
  };
}

export function changesAfter(sql: Sql, version: number): Change[] {
  return sql.exec<ChangeRow>(`SELECT * FROM changes WHERE version > ? ORDER BY version`, version).toArray().map(toChange);
}

export interface OutboxEvent {
  id: string;
  type: string;
  tenantId: string;
  occurredAt: string;
  sequence: number;
  data: Record<string, unknown>;
}

/** Records an event for publication; its `sequence` is the tenant's outbox sequence. */
export function appendEvent(sql: Sql, tenantId: string, type: string, occurredAt: string, data: Record<string, unknown>): void {
  const id = newId('evt');
  const row = sql.exec<{ sequence: number }>(`INSERT INTO outbox (event) VALUES ('{}') RETURNING sequence`).one();
  const event: OutboxEvent = { id, type, tenantId, occurredAt, sequence: row.sequence, data };
  sql.exec(`UPDATE outbox SET event = ? WHERE sequence = ?`, JSON.stringify(event), row.sequence);
}

export function pendingEvents(sql: Sql, limit: number): OutboxEvent[] {
  return sql
    .exec<{ event: string }>(`SELECT event FROM outbox WHERE published_at IS NULL ORDER BY sequence LIMIT ?`, limit)
    .toArray()
    .map((r) => JSON.parse(r.event) as OutboxEvent);
}

/** `sequences` come from one pendingEvents() page: contiguous in order, so a range update covers them. */
export function markPublished(sql: Sql, sequences: number[], at: string): void {
  if (sequences.length)
    sql.exec(
      `UPDATE outbox SET published_at = ? WHERE sequence BETWEEN ? AND ? AND published_at IS NULL`,
      at,
      sequences[0]!,
      sequences[sequences.length - 1]!,
    );
}

export function markAttempt(sql: Sql, sequences: number[]): number {
  if (sequences.length)
    sql.exec(
      `UPDATE outbox SET attempts = attempts + 1 WHERE sequence BETWEEN ? AND ? AND published_at IS NULL`,
      sequences[0]!,
      sequences[sequences.length - 1]!,
    );
  return sql.exec<{ a: number | null }>(`SELECT MAX(attempts) AS a FROM outbox WHERE published_at IS NULL`).one().a ?? 0;
}

export function hasPendingEvents(sql: Sql): boolean {
  return sql.exec(`SELECT 1 FROM outbox WHERE published_at IS NULL LIMIT 1`).toArray().length > 0;
}
