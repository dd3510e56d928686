/**
 * The task model shared by the Worker (validation, routes) and the TenantHub
 * (storage, the single writer). Plain data only: it crosses the RPC boundary.
 */

export type TaskStatus = 'open' | 'done';
export type RecurrenceFrom = 'due' | 'completion';
export type ReminderSpec = { before: string } | { at: string };

export interface Task {
  id: string;
  title: string;
  notes: string | null;
  status: TaskStatus;
  priority: 1 | 2 | 3 | 4;
  labels: string[];
  assigneeId: string | null;
  dueDate: string | null;
  dueAt: string | null;
  timezone: string;
  recurrence: string | null;
  recurrenceFrom: RecurrenceFrom;
  reminders: ReminderSpec[];
  nextReminderAt: string | null;
  version: number;
  createdBy: string;
  createdAt: string;
  updatedAt: string;
  completedAt: string | null;
}

/** Fields a client may set; `null` clears an optional field. */
export interface TaskPatch {
  title?: string;
  notes?: string | null;
  priority?: 1 | 2 | 3 | 4;
  labels?: string[];
  assigneeId?: string | null;
  dueDate?: string | null;
  dueAt?: string | null;
  timezone?: string;
  recurrence?: string | null;
  recurrenceFrom?: RecurrenceFrom;
  reminders?: ReminderSpec[];
}

export interface TaskCreate extends TaskPatch {
  title: string;
}

export interface TaskFilter {
  status?: TaskStatus | undefined;
  dueFrom?: string | undefined;
  dueTo?: string | undefined;
  label?: string | undefined;
  assigneeId?: string | undefined;
  q?: string | undefined;
  limit: number;
  after?: string | undefined;
}

export interface HistoryEntry {
  id: string;
  taskId: string;
  dueDate: string | null;
  dueAt: string | null;
  completedAt: string;
  completedBy: string;
}

export interface Notification {
  id: string;
  /** `reminder`: a task's reminder fired; `system`: raised by the platform for admins (e.g. a webhook endpoint disabled). */
  kind: 'reminder' | 'system';
  taskId: string | null;
  title: string;
  body: string | null;
  fireAt: string | null;
  createdAt: string;
  readAt: string | null;
}

export interface Change {
  version: number;
  entity: 'task' | 'notification' | 'run' | 'feedback' | 'chat';
  entityId: string;
  op: 'upsert' | 'delete';
  data: Task | Notification | Record<string, unknown> | null;
  occurredAt: string;
}

/** Who asks the hub to do something (already authenticated by the Worker). */
export interface Actor {
  id: string;
  role: 'admin' | 'member' | 'viewer';
}
