/**
 * Reminder delivery, run by the hub's alarm (and by the sweeper through wake()).
 * Each reminder is claimed, turned into a notification, logged as a change and
 * emitted as events in ONE transaction, so an alarm retry delivers nothing twice.
 */
import { newId } from '../../src/lib/ids';
import type { Notification } from '../../src/tasks/model';
import { writeNotification } from './notifications';
import type { Commit } from './outbox';
import { appendChange, appendEvent, setChangeData } from './sync-log';
import { claimReminder, type DueReminder, dueReminders, nextReminderFor, readTask, writeTask } from './tasks-store';

const BATCH = 100;

/** Delivers every reminder due by `now`, each in its own transaction run by `commit` (the hub's outbox). */
export function deliverDueReminders(sql: SqlStorage, commit: Commit, tenantId: string, now: number): number {
  let delivered = 0;
  for (;;) {
    const due = dueReminders(sql, now, BATCH);
    if (due.length === 0) break;
    for (const r of due) if (commit(() => deliverOne(sql, tenantId, r, now))) delivered += 1;
    if (due.length < BATCH) break;
  }
  return delivered;
}

function deliverOne(sql: SqlStorage, tenantId: string, r: DueReminder, now: number): boolean {
  const at = new Date(now).toISOString();
  if (!claimReminder(sql, r.id, at)) return false;
  const task = readTask(sql, r.task_id);
  if (!task) return false;
  const fireAt = new Date(r.fire_at).toISOString();
  const when = task.dueAt ? `due ${task.dueAt}` : task.dueDate ? `due ${task.dueDate}` : 'reminder';
  const n: Notification = {
    id: newId('ntf', now),
    kind: 'reminder',
    taskId: task.id,
    title: task.title,
    body: when,
    fireAt,
    createdAt: at,
    readAt: null,
  };
  writeNotification(sql, n, 'members');
  const version = appendChange(sql, 'notification', n.id, 'upsert', at);
  setChangeData(sql, version, n);
  appendEvent(sql, tenantId, 'reminder.fired', at, { taskId: task.id, reminderId: r.id, fireAt, lateMs: now - r.fire_at });
  // `due` lets the email sink write the due time in each recipient's zone (src/email/deliveries.ts).
  appendEvent(sql, tenantId, 'notification.created', at, { notification: n, due: { dueAt: task.dueAt, dueDate: task.dueDate } });
  // The task's nextReminderAt moves on to its next pending reminder; clients see it as a task change.
  const next = nextReminderFor(sql, task.id);
  if (next !== task.nextReminderAt) {
    const v = appendChange(sql, 'task', task.id, 'upsert', at);
    const updated = { ...task, nextReminderAt: next, version: v };
    writeTask(sql, updated);
    setChangeData(sql, v, updated);
  }
  return true;
}
