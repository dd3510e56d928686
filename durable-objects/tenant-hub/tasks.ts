/**
 * Task mutations inside the hub. Each runs inside one SQLite transaction that
 * holds the task row, its change-log version, its outbox event and its
 * reminder schedule, so they commit (or not) together.
 */
import { newId } from '../../src/lib/ids';
import type { Result } from '../../src/lib/result';
import type { Actor, Task, TaskCreate, TaskPatch } from '../../src/tasks/model';
import { applyPatch, type Draft, dueOf, emptyDraft } from '../../src/tasks/normalize';
import { advanceRecurrence } from '../../src/tasks/schedule';
import { appendChange, appendEvent, setChangeData } from './sync-log';
import { addHistory, deleteTask as deleteRow, readTask, scheduleReminders, writeTask } from './tasks-store';

export interface OpContext {
  sql: SqlStorage;
  tenantId: string;
  actor: Actor;
  now: number;
}

const notFound = (id: string): Result<never> => ({ ok: false, code: 'not_found', detail: `Task ${id} not found.` });

function stale(id: string, expected: number, actual: number): Result<never> {
  return { ok: false, code: 'precondition_failed', detail: `Task ${id} is at version ${actual}, not ${expected}; re-read it and retry.` };
}

/** The task to write, or the failure: unknown id (404) or a stale If-Match (412). */
function readForWrite(ctx: OpContext, id: string, ifMatch: number | undefined): Task | Result<never> {
  const current = readTask(ctx.sql, id);
  if (!current) return notFound(id);
  if (ifMatch !== undefined && ifMatch !== current.version) return stale(id, ifMatch, current.version);
  return current;
}

function invalid(errors: { path: string; message: string; code: string }[]): Result<never> {
  return { ok: false, code: 'validation_failed', detail: `Invalid task: ${errors.map((e) => e.path).join(', ')}.`, errors };
}

/** Persists `t` with a new change version, its reminders and one event (`fresh`: a task being created). */
function commit(ctx: OpContext, t: Task, eventType: string, extra: Record<string, unknown> = {}, fresh = false): Task {
  const at = new Date(ctx.now).toISOString();
  const version = appendChange(ctx.sql, 'task', t.id, 'upsert', at);
  t.version = version;
  t.nextReminderAt = scheduleReminders(ctx.sql, t, ctx.now, fresh);
  writeTask(ctx.sql, t, fresh);
  setChangeData(ctx.sql, version, t);
  appendEvent(ctx.sql, ctx.tenantId, eventType, at, { task: t, actorId: ctx.actor.id, ...extra });
  return t;
}

function draftOf(t: Task): Draft {
  const {
    id: _i,
    version: _v,
    createdBy: _c,
    createdAt: _ca,
    updatedAt: _u,
    completedAt: _co,
    status: _s,
    nextReminderAt: _n,
    ...draft
  } = t;
  return draft;
}

export function createTask(ctx: OpContext, input: TaskCreate): Result<Task> {
  const { draft, errors } = applyPatch(emptyDraft(), input);
  if (errors.length) return invalid(errors);
  const at = new Date(ctx.now).toISOString();
  const task: Task = {
    ...draft,
    id: newId('tsk', ctx.now),
    status: 'open',
    nextReminderAt: null,
    version: 0,
    createdBy: ctx.actor.id,
    createdAt: at,
    updatedAt: at,
    completedAt: null,
  };
  return { ok: true, value: commit(ctx, task, 'task.created', {}, true) };
}

export function updateTask(ctx: OpContext, id: string, patch: TaskPatch, ifMatch?: number): Result<Task> {
  const current = readForWrite(ctx, id, ifMatch);
  if ('ok' in current) return current;
  const { draft, errors } = applyPatch(draftOf(current), patch);
  if (errors.length) return invalid(errors);
  const next: Task = { ...current, ...draft, updatedAt: new Date(ctx.now).toISOString() };
  return { ok: true, value: commit(ctx, next, 'task.updated', { changed: Object.keys(patch) }) };
}

/**
 * Completing a recurring task records the occurrence in its history and moves
 * the same task to its next occurrence; when the rule is exhausted it is done.
 */
export function completeTask(ctx: OpContext, id: string, ifMatch?: number): Result<Task> {
  const current = readForWrite(ctx, id, ifMatch);
  if ('ok' in current) return current;
  if (current.status === 'done') return { ok: true, value: current };
  const at = new Date(ctx.now).toISOString();
  addHistory(ctx.sql, {
    id: newId('thi', ctx.now),
    taskId: id,
    dueDate: current.dueDate,
    dueAt: current.dueAt,
    completedAt: at,
    completedBy: ctx.actor.id,
  });
  const due = dueOf(current);
  if (current.recurrence && due) {
    // COUNT counts from the current due, so the advanced rule carries the occurrences left.
    const next = advanceRecurrence(due, current.recurrence, { from: current.recurrenceFrom, completedAt: at });
    if (next) {
      const advanced: Task = { ...current, dueDate: next.due.dueDate, dueAt: next.due.dueAt, recurrence: next.rrule, updatedAt: at };
      return {
        ok: true,
        value: commit(ctx, advanced, 'task.completed', { occurrence: { dueDate: current.dueDate, dueAt: current.dueAt }, recurring: true }),
      };
    }
  }
  const done: Task = { ...current, status: 'done', completedAt: at, updatedAt: at };
  return {
    ok: true,
    value: commit(ctx, done, 'task.completed', { occurrence: { dueDate: current.dueDate, dueAt: current.dueAt }, recurring: false }),
  };
}

export function reopenTask(ctx: OpContext, id: string, ifMatch?: number): Result<Task> {
  const current = readForWrite(ctx, id, ifMatch);
  if ('ok' in current) return current;
  if (current.status === 'open') return { ok: true, value: current };
  const at = new Date(ctx.now).toISOString();
  return { ok: true, value: commit(ctx, { ...current, status: 'open', completedAt: null, updatedAt: at }, 'task.reopened') };
}

export function deleteTask(ctx: OpContext, id: string, ifMatch?: number): Result<{ version: number }> {
  const current = readForWrite(ctx, id, ifMatch);
  if ('ok' in current) return current;
  const at = new Date(ctx.now).toISOString();
  const version = appendChange(ctx.sql, 'task', id, 'delete', at);
  deleteRow(ctx.sql, id);
  appendEvent(ctx.sql, ctx.tenantId, 'task.deleted', at, { taskId: id, actorId: ctx.actor.id });
  return { ok: true, value: { version } };
}
