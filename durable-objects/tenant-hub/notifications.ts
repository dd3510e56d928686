/**
 * Notifications the platform raises for a tenant's admins (e.g. a webhook
 * endpoint disabled after sustained failure). Same path as a reminder's
 * notification: row, change-log entry and `notification.created` event in one
 * transaction. Idempotent by id, so a redelivered queue message notifies once.
 */
import type { Notification } from '../../src/tasks/model';
import { appendChange, appendEvent, setChangeData } from './sync-log';
import { readNotification, writeNotification } from './tasks-store';

export interface SystemNotificationInput {
  /** Derived from the triggering event id by the caller, which makes retries land on the same row. */
  id: string;
  title: string;
  body: string;
}

/** Run inside a transaction. Returns the notification and whether it was created now. */
export function createSystemNotification(
  sql: SqlStorage,
  tenantId: string,
  input: SystemNotificationInput,
  now: number,
): { notification: Notification; created: boolean } {
  const existing = readNotification(sql, input.id);
  if (existing) return { notification: existing, created: false };
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
  writeNotification(sql, n);
  setChangeData(sql, appendChange(sql, 'notification', n.id, 'upsert', at), n);
  appendEvent(sql, tenantId, 'notification.created', at, { notification: n });
  return { notification: n, created: true };
}
