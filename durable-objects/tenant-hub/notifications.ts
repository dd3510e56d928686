/**
 * Notifications and who they belong to. A reminder's notification is for the tenant's members (every
 * role); a system notice (e.g. a webhook endpoint disabled) is for admins only. Read state is per
 * reader (a user or an API key): marking one read changes nothing for anyone else, so any reader,
 * viewers included, may mark their own. Read state is private, so it never goes on the tenant-wide
 * change log; system notices stay off it too (sockets and GET /v1/sync serve every role).
 */
import type { Notification } from '../../src/tasks/model';
import { appendEvent } from './sync-log';

export type Audience = 'members' | 'admins';

/** Who is reading: their id (user or API key) and role. */
export interface Reader {
  id: string;
  role: 'admin' | 'member' | 'viewer';
}

export interface SystemNotificationInput {
  /** Derived from the triggering event id by the caller, which makes retries land on the same row. */
  id: string;
  title: string;
  body: string;
}

export function writeNotification(sql: SqlStorage, n: Notification, audience: Audience): void {
  sql.exec(
    `INSERT INTO notifications (id, data, audience) VALUES (?, ?, ?) ON CONFLICT(id) DO UPDATE SET data = excluded.data`,
    n.id,
    JSON.stringify({ ...n, readAt: null }),
    audience,
  );
}

/** SQL condition (with its argument) for the notifications `reader` may see. */
function visibleTo(reader: Reader): [string, string] {
  return [`(n.audience = 'members' OR ? = 'admin')`, reader.role];
}

/** The notification as `reader` sees it (their own readAt), or null when it is not theirs to see. */
export function readNotificationFor(sql: SqlStorage, id: string, reader: Reader): Notification | null {
  const [cond, arg] = visibleTo(reader);
  const row = sql
    .exec<{ data: string; read_at: string | null }>(
      `SELECT n.data, r.read_at FROM notifications n
       LEFT JOIN notification_reads r ON r.notification_id = n.id AND r.reader_id = ?
       WHERE n.id = ? AND ${cond}`,
      reader.id,
      id,
      arg,
    )
    .toArray()[0];
  return row ? { ...(JSON.parse(row.data) as Notification), readAt: row.read_at } : null;
}

/** `reader`'s notifications, newest first. */
export function listNotificationsFor(
  sql: SqlStorage,
  reader: Reader,
  opts: { unread?: boolean | undefined; limit: number; after?: string | undefined },
): { data: Notification[]; nextCursor: string | null } {
  const [cond, arg] = visibleTo(reader);
  const rows = sql
    .exec<{ data: string; read_at: string | null }>(
      `SELECT n.data, r.read_at FROM notifications n
       LEFT JOIN notification_reads r ON r.notification_id = n.id AND r.reader_id = ?
       WHERE n.id < ? AND ${cond} ${opts.unread ? 'AND r.read_at IS NULL' : ''}
       ORDER BY n.id DESC LIMIT ?`,
      reader.id,
      opts.after ?? '~',
      arg,
      opts.limit + 1,
    )
    .toArray();
  const data = rows.slice(0, opts.limit).map((r) => ({ ...(JSON.parse(r.data) as Notification), readAt: r.read_at }));
  return { data, nextCursor: rows.length > opts.limit ? data[data.length - 1]!.id : null };
}

/** Marks `id` read for `reader` only (idempotent: the first time stays); null when it is not theirs to see. */
export function markReadFor(sql: SqlStorage, id: string, reader: Reader, now: number): Notification | null {
  if (!readNotificationFor(sql, id, reader)) return null;
  sql.exec(
    `INSERT OR IGNORE INTO notification_reads (notification_id, reader_id, read_at) VALUES (?, ?, ?)`,
    id,
    reader.id,
    new Date(now).toISOString(),
  );
  return readNotificationFor(sql, id, reader);
}

/** Run inside a transaction. Returns the notification and whether it was created now. Idempotent by id. */
export function createSystemNotification(
  sql: SqlStorage,
  tenantId: string,
  input: SystemNotificationInput,
  now: number,
): { notification: Notification; created: boolean } {
  const existing = sql.exec<{ data: string }>(`SELECT data FROM notifications WHERE id = ?`, input.id).toArray()[0];
  if (existing) return { notification: JSON.parse(existing.data) as Notification, created: false };
  const at = new Date(now).toISOString();
  const n: Notification = {
    id: input.id,
    kind: 'system',
    taskId: null,
    title: input.title,
    body: input.body,
    fireAt: null,
    createdAt: at,
    readAt: null,
  };
  writeNotification(sql, n, 'admins');
  appendEvent(sql, tenantId, 'notification.created', at, { notification: n });
  return { notification: n, created: true };
}
