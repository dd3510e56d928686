/** The hub's change log and outbox: appended in the same SQLite transaction as the change itself. */

import { newId } from '../../src/lib/ids';
import type { Change, Notification, Task } from '../../src/tasks/model';
import { readFeedback } from './feedback-store';

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

/**
 * Told instead of changes when the log cannot bring the client up to date: its `since` is older
 * than the tombstone horizon (`since_too_old`), or the backlog exceeds a socket's catch-up cap
 * (`too_far_behind`). The client reloads from GET /v1/sync/snapshot (docs/tasks.md, Sync).
 */
export interface ResyncSignal {
  resync: true;
  reason: 'since_too_old' | 'too_far_behind';
  /** The newest version now: live changes after it follow on a socket. */
  version: number;
}

export interface ChangePage {
  changes: Change[];
  version: number;
  hasMore: boolean;
}

/** Highest version whose tombstone was dropped by compaction: a `since` below it may have missed a delete. */
export function syncFloor(sql: Sql): number {
  const row = sql.exec<{ value: string }>(`SELECT value FROM hub_meta WHERE key = 'sync_floor'`).toArray()[0];
  return row ? Number(row.value) : 0;
}

export function raiseSyncFloor(sql: Sql, version: number): void {
  if (version > syncFloor(sql)) sql.exec(`INSERT OR REPLACE INTO hub_meta (key, value) VALUES ('sync_floor', ?)`, String(version));
}

/** The newest version handed out. Compaction only drops superseded changes (never the newest) and tombstones (which raise the floor), so this is exact. */
export function latestVersion(sql: Sql): number {
  return Math.max(sql.exec<{ v: number | null }>(`SELECT MAX(version) AS v FROM changes`).one().v ?? 0, syncFloor(sql));
}

/** `since=0` holds nothing, so it cannot have missed a delete: only a partial client can be too old. */
export function sinceTooOld(sql: Sql, since: number): boolean {
  return since > 0 && since < syncFloor(sql);
}

/**
 * A page of changes after `since`: at most `limit` rows and about `maxBytes` of data (always at
 * least one row), or the resync signal when `since` is older than the horizon.
 */
export function changesSince(sql: Sql, since: number, limit: number, maxBytes = Number.POSITIVE_INFINITY): ChangePage | ResyncSignal {
  if (sinceTooOld(sql, since)) return { resync: true, reason: 'since_too_old', version: latestVersion(sql) };
  const rows = sql.exec<ChangeRow>(`SELECT * FROM changes WHERE version > ? ORDER BY version LIMIT ?`, since, limit + 1).toArray();
  let bytes = 0;
  let take = 0;
  while (take < Math.min(rows.length, limit)) {
    bytes += rows[take]!.data?.length ?? 0;
    take += 1;
    if (bytes >= maxBytes) break;
  }
  const changes = rows.slice(0, take).map(toChange);
  return {
    changes,
    version: changes.length > 0 ? changes[changes.length - 1]!.version : Math.max(since, latestVersion(sql)),
    hasMore: rows.length > take,
  };
}

/** Whether the backlog after `since` fits in one catch-up (reads at most `maxCount + 1` rows). */
export function backlogFits(sql: Sql, since: number, maxCount: number, maxBytes: number): boolean {
  const row = sql
    .exec<{ n: number; bytes: number | null }>(
      `SELECT COUNT(*) AS n, SUM(LENGTH(data)) AS bytes FROM (SELECT data FROM changes WHERE version > ? ORDER BY version LIMIT ?)`,
      since,
      maxCount + 1,
    )
    .one();
  return row.n <= maxCount && (row.bytes ?? 0) <= maxBytes;
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
  insertEvent(sql, { id: newId('evt'), type, tenantId, occurredAt, data });
}

/**
 * The outbox row takes the table's next AUTOINCREMENT sequence (sqlite_sequence holds the highest ever
 * used, so a value is never reused), written into its event's `sequence` in the same statement: one
 * statement per event instead of an insert and an update (issue 20).
 */
const INSERT_EVENT_SQL = `INSERT INTO outbox (sequence, event)
  SELECT n, json_set(?, '$.sequence', n) FROM (SELECT IFNULL((SELECT seq FROM sqlite_sequence WHERE name = 'outbox'), 0) + 1 AS n)
  RETURNING sequence`;

/** Events appended inside a tracked write (`trackEvents`), by storage. */
const journals = new WeakMap<Sql, OutboxEvent[]>();
/** Storages that had an event appended outside a tracked write since the last `takeUntracked`. */
const untracked = new WeakSet<Sql>();

/**
 * Appends `event` to the outbox; returns its sequence. Inside a tracked write the event object itself is
 * what the hub later sends, so callers must not change `data` after appending it.
 */
export function insertEvent(sql: Sql, e: Omit<OutboxEvent, 'sequence'>): number {
  // `sequence: 0` keeps the key's place in the JSON; the statement sets it.
  const event: OutboxEvent = { id: e.id, type: e.type, tenantId: e.tenantId, occurredAt: e.occurredAt, sequence: 0, data: e.data };
  event.sequence = sql.exec<{ sequence: number }>(INSERT_EVENT_SQL, JSON.stringify(event)).one().sequence;
  const journal = journals.get(sql);
  if (journal) journal.push(event);
  else untracked.add(sql);
  return event.sequence;
}

/**
 * Runs `write` (synchronous: a transaction) and returns, with its result, the events it appended. When
 * `write` throws, nothing is returned and the events count as untracked (their rows are gone with the
 * rollback, or, if a caller caught inside, still there: the next publish reads the table to be sure).
 */
export function trackEvents<T>(sql: Sql, write: () => T): { result: T; events: OutboxEvent[] } {
  if (journals.has(sql)) throw new Error('trackEvents: already tracking');
  const events: OutboxEvent[] = [];
  journals.set(sql, events);
  let done = false;
  try {
    const result = write();
    done = true;
    return { result, events };
  } finally {
    journals.delete(sql);
    if (!done && events.length > 0) untracked.add(sql);
  }
}

/** Whether an event was appended outside a tracked write since the last call (and forget it). */
export function takeUntracked(sql: Sql): boolean {
  return untracked.delete(sql);
}

export function pendingEvents(sql: Sql, limit: number): OutboxEvent[] {
  return sql
    .exec<{ event: string }>(`SELECT event FROM outbox WHERE published_at IS NULL ORDER BY sequence LIMIT ?`, limit)
    .toArray()
    .map((r) => JSON.parse(r.event) as OutboxEvent);
}

/** Marks the pending rows from `first` to `last` published: pages sent in order, so no unsent pending row is in the range. */
export function markPublished(sql: Sql, first: number, last: number, at: string): void {
  sql.exec(`UPDATE outbox SET published_at = ? WHERE sequence BETWEEN ? AND ? AND published_at IS NULL`, at, first, last);
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

/**
 * Whether any outbox event waits for publication, as an EXISTS subquery (./schedule.ts) whose one
 * parameter is the highest sequence already sent and not yet marked (./outbox.ts `sentThrough`).
 */
export const PENDING_EVENTS_SQL = `SELECT 1 FROM outbox WHERE published_at IS NULL AND sequence > ? LIMIT 1`;

// ---- snapshot: the current state a resyncing client reloads from ----------------------------

export type SnapshotEntity = 'task' | 'notification' | 'feedback' | 'chat';

export interface SnapshotItem {
  entity: SnapshotEntity;
  entityId: string;
  data: Task | Notification | Record<string, unknown>;
}

/** Where a snapshot continues: the version of its first page, then each entity of SNAPSHOT_ORDER by id. */
export interface SnapshotPosition {
  version: number;
  entity: SnapshotEntity;
  after: string;
}

export interface SnapshotPage {
  data: SnapshotItem[];
  /** The version of the snapshot's first page: apply changes after it (every item is at least that new). */
  version: number;
  next: SnapshotPosition | null;
}

/** What each entity's snapshot reads: admin notices and read state are private, so never on the shared log or its snapshot. */
const SNAPSHOT_QUERIES: Record<SnapshotEntity, string> = {
  task: `SELECT id, data FROM tasks WHERE id > ? ORDER BY id LIMIT ?`,
  notification: `SELECT id, data FROM notifications WHERE audience = 'members' AND id > ? ORDER BY id LIMIT ?`,
  feedback: `SELECT id, NULL AS data FROM feedback WHERE id > ? ORDER BY id LIMIT ?`,
  chat: `SELECT id, data FROM chats WHERE id > ? ORDER BY id LIMIT ?`,
};

/** The order a snapshot walks the entities in; a new synced entity is a row here and in SNAPSHOT_QUERIES. */
const SNAPSHOT_ORDER: readonly SnapshotEntity[] = ['task', 'notification', 'feedback', 'chat'];

/** Entities whose snapshot row is built from columns rather than stored JSON. */
const SNAPSHOT_READERS: Partial<Record<SnapshotEntity, (sql: Sql, id: string) => Record<string, unknown> | null>> = {
  feedback: (sql, id) => readFeedback(sql, id) as unknown as Record<string, unknown> | null,
};

/**
 * One page of the tenant's tasks, then notifications, at most `limit` items and about `maxBytes`.
 * Pages read later may be newer than `version`, never older, so replaying changes after `version`
 * over them converges (every change carries the whole entity).
 */
export function snapshotPage(sql: Sql, from: SnapshotPosition | null, limit: number, maxBytes: number): SnapshotPage | ResyncSignal {
  if (from && sinceTooOld(sql, from.version)) return { resync: true, reason: 'since_too_old', version: latestVersion(sql) };
  const version = from?.version ?? latestVersion(sql);
  const data: SnapshotItem[] = [];
  let bytes = 0;
  let entity: SnapshotEntity = from?.entity ?? 'task';
  let after = from?.after ?? '';
  for (;;) {
    const room = limit - data.length;
    const rows = sql.exec<{ id: string; data: string | null }>(SNAPSHOT_QUERIES[entity], after, room + 1).toArray();
    const reader = SNAPSHOT_READERS[entity];
    for (const r of rows.slice(0, room)) {
      const item = reader ? reader(sql, r.id) : (JSON.parse(r.data!) as Task | Notification);
      const text = r.data ?? JSON.stringify(item);
      if (item) data.push({ entity, entityId: r.id, data: item });
      after = r.id;
      bytes += text.length;
      if (bytes >= maxBytes && data.length < limit) return { data, version, next: { version, entity, after } };
    }
    if (rows.length > room) return { data, version, next: { version, entity, after } };
    const following = SNAPSHOT_ORDER[SNAPSHOT_ORDER.indexOf(entity) + 1];
    if (following === undefined) return { data, version, next: null };
    entity = following;
    after = '';
    if (data.length === limit) return { data, version, next: { version, entity, after } };
  }
}
