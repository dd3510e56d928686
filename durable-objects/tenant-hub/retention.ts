/**
 * What the hub forgets, and when: change-log compaction (latest change per entity, tombstones
 * until a horizon) and retention of published outbox rows, socket-mutation replays, delivered
 * reminders, old notifications and old task history. Run by the hub's alarm in bounded batches
 * (each step its own transaction); defaults in docs/operations.md.
 */
import { appendChange, raiseSyncFloor } from './sync-log';

const DAY = 24 * 3600_000;

export interface RetentionPolicy {
  /** A change superseded by a newer one for the same entity is dropped once this old. */
  compactAfterMs: number;
  /** Tombstones (`op: delete`) are kept this long; a `since` older than a dropped one must resync. */
  tombstoneHorizonMs: number;
  outboxPublishedMs: number;
  clientMutationsMs: number;
  deliveredRemindersMs: number;
  notificationsMs: number;
  taskHistoryMs: number;
  /** Rows deleted per table per pass. */
  batch: number;
  /** Changes examined per compaction pass. */
  compactScan: number;
}

export const RETENTION: RetentionPolicy = {
  compactAfterMs: 3600_000,
  tombstoneHorizonMs: 7 * DAY,
  outboxPublishedMs: 3 * DAY,
  clientMutationsMs: 1 * DAY,
  deliveredRemindersMs: 7 * DAY,
  notificationsMs: 90 * DAY,
  taskHistoryMs: 365 * DAY,
  batch: 500,
  compactScan: 5_000,
};

/** A full pass at most this often; sooner while a pass left work behind. */
export const RETENTION_INTERVAL_MS = 60_000;
export const RETENTION_RETRY_MS = 1_000;

/** The pruning queries, named so a test can check each one's plan uses an index. */
export const RETENTION_QUERIES = {
  compactScan: `SELECT version, entity, entity_id, occurred_at FROM changes WHERE version > ? ORDER BY version LIMIT ?`,
  compactEntity: `DELETE FROM changes WHERE entity = ? AND entity_id = ? AND version < ? RETURNING version`,
  tombstones: `SELECT version, entity, entity_id, occurred_at FROM changes WHERE op = 'delete' ORDER BY version LIMIT ?`,
  tombstoneDrop: `DELETE FROM changes WHERE entity = ? AND entity_id = ? AND version <= ? RETURNING version`,
  outbox: `DELETE FROM outbox WHERE sequence IN (SELECT sequence FROM outbox WHERE published_at < ? ORDER BY published_at LIMIT ?) RETURNING sequence`,
  clientMutations: `DELETE FROM client_mutations WHERE key IN (SELECT key FROM client_mutations WHERE created_at < ? ORDER BY created_at LIMIT ?) RETURNING key`,
  reminders: `DELETE FROM reminders WHERE id IN (SELECT id FROM reminders WHERE delivered_at < ? ORDER BY delivered_at LIMIT ?) RETURNING id`,
  notifications: `SELECT id, audience FROM notifications WHERE json_extract(data, '$.createdAt') < ? ORDER BY json_extract(data, '$.createdAt') LIMIT ?`,
  taskHistory: `DELETE FROM task_history WHERE id IN (SELECT id FROM task_history WHERE completed_at < ? ORDER BY completed_at LIMIT ?) RETURNING id`,
} as const;

export interface RetentionReport {
  compacted: number;
  tombstones: number;
  outbox: number;
  clientMutations: number;
  reminders: number;
  notifications: number;
  taskHistory: number;
  /** Some step filled its batch: run again soon. */
  more: boolean;
}

type Sql = SqlStorage;

const iso = (ms: number) => new Date(ms).toISOString();

function meta(sql: Sql, key: string): string | undefined {
  return sql.exec<{ value: string }>(`SELECT value FROM hub_meta WHERE key = ?`, key).toArray()[0]?.value;
}

function setMeta(sql: Sql, key: string, value: string): void {
  sql.exec(`INSERT OR REPLACE INTO hub_meta (key, value) VALUES (?, ?)`, key, value);
}

/** When the next pass is due: an interval after the last one (kept in hub_meta, so eviction does not reset it). */
export function retentionDueAt(sql: Sql): number {
  return Number(meta(sql, 'retention_at') ?? 0) + RETENTION_INTERVAL_MS;
}

/** One bounded pass over every table. */
export function runRetention(storage: DurableObjectStorage, now: number, p: RetentionPolicy = RETENTION): RetentionReport {
  const sql = storage.sql;
  const step = <T>(fn: () => T) => storage.transactionSync(fn);
  const compacted = step(() => compactChanges(sql, now, p));
  const tombstones = step(() => dropTombstones(sql, now, p));
  const deleted = (query: string, cutoff: string) => step(() => sql.exec(query, cutoff, p.batch).toArray().length);
  const outbox = deleted(RETENTION_QUERIES.outbox, iso(now - p.outboxPublishedMs));
  const clientMutations = deleted(RETENTION_QUERIES.clientMutations, iso(now - p.clientMutationsMs));
  const reminders = deleted(RETENTION_QUERIES.reminders, iso(now - p.deliveredRemindersMs));
  const notifications = step(() => expireNotifications(sql, now, p));
  const taskHistory = deleted(RETENTION_QUERIES.taskHistory, iso(now - p.taskHistoryMs));
  step(() => setMeta(sql, 'retention_at', String(now)));
  const full = [tombstones, outbox, clientMutations, reminders, notifications, taskHistory].some((n) => n >= p.batch);
  return {
    compacted: compacted.deleted,
    tombstones,
    outbox,
    clientMutations,
    reminders,
    notifications,
    taskHistory,
    more: full || compacted.more,
  };
}

/**
 * Walks the log forward from a watermark; each change older than `compactAfterMs` deletes its
 * entity's older changes. Every change is visited once, so a superseded one always meets its successor.
 */
function compactChanges(sql: Sql, now: number, p: RetentionPolicy): { deleted: number; more: boolean } {
  const cutoff = now - p.compactAfterMs;
  let through = Number(meta(sql, 'compacted_through') ?? 0);
  let deleted = 0;
  let examined = 0;
  // Read in small pages: a busy hub's log is recent right after the watermark, so most passes stop at once.
  for (;;) {
    const page = Math.min(p.batch, p.compactScan - examined);
    const rows = sql
      .exec<{ version: number; entity: string; entity_id: string; occurred_at: string }>(RETENTION_QUERIES.compactScan, through, page)
      .toArray();
    for (const r of rows) {
      if (Date.parse(r.occurred_at) >= cutoff) return done(false);
      deleted += sql.exec(RETENTION_QUERIES.compactEntity, r.entity, r.entity_id, r.version).toArray().length;
      through = r.version;
    }
    examined += rows.length;
    if (rows.length < page) return done(false);
    if (examined >= p.compactScan) return done(true);
  }
  function done(more: boolean) {
    setMeta(sql, 'compacted_through', String(through));
    return { deleted, more };
  }
}

/** Drops tombstones past the horizon (with anything older of their entity) and raises the sync floor. */
function dropTombstones(sql: Sql, now: number, p: RetentionPolicy): number {
  const cutoff = now - p.tombstoneHorizonMs;
  const rows = sql
    .exec<{ version: number; entity: string; entity_id: string; occurred_at: string }>(RETENTION_QUERIES.tombstones, p.batch)
    .toArray();
  let dropped = 0;
  for (const r of rows) {
    if (Date.parse(r.occurred_at) >= cutoff) break;
    sql.exec(RETENTION_QUERIES.tombstoneDrop, r.entity, r.entity_id, r.version).toArray();
    raiseSyncFloor(sql, r.version);
    dropped += 1;
  }
  return dropped;
}

/** Old notifications go with their read state; members' ones leave the log as deletes, so synced clients drop them too. */
function expireNotifications(sql: Sql, now: number, p: RetentionPolicy): number {
  const rows = sql.exec<{ id: string; audience: string }>(RETENTION_QUERIES.notifications, iso(now - p.notificationsMs), p.batch).toArray();
  for (const { id, audience } of rows) {
    sql.exec(`DELETE FROM notifications WHERE id = ?`, id);
    sql.exec(`DELETE FROM notification_reads WHERE notification_id = ?`, id);
    if (audience === 'members') appendChange(sql, 'notification', id, 'delete', iso(now));
  }
  return rows.length;
}
