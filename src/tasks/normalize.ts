/**
 * Pure rules that turn a create/patch into the next state of a task: due
 * exclusivity, time zone, RRULE, reminders. Returns field errors instead of
 * throwing so the hub can answer them as data.
 */

import type { FieldError } from '../lib/result';
import type { ReminderSpec, Task, TaskPatch } from './model';
import { type Due, isValidTimezone, normalizeRrule, parseDuration, reminderFireAt, ScheduleError } from './schedule';

export type Draft = Omit<Task, 'id' | 'version' | 'createdBy' | 'createdAt' | 'updatedAt' | 'completedAt' | 'status' | 'nextReminderAt'>;

export const DEFAULT_TIMEZONE = 'UTC';

export function emptyDraft(): Draft {
  return {
    title: '',
    notes: null,
    priority: 4,
    labels: [],
    assigneeId: null,
    dueDate: null,
    dueAt: null,
    timezone: DEFAULT_TIMEZONE,
    recurrence: null,
    recurrenceFrom: 'due',
    reminders: [],
  };
}

/** Applies `patch` over `base` and checks the combined result. */
export function applyPatch(base: Draft, patch: TaskPatch): { draft: Draft; errors: FieldError[] } {
  const d: Draft = { ...base, labels: [...base.labels], reminders: [...base.reminders] };
  if (patch.title !== undefined) d.title = patch.title.trim();
  if (patch.notes !== undefined) d.notes = patch.notes;
  if (patch.priority !== undefined) d.priority = patch.priority;
  if (patch.labels !== undefined) d.labels = [...new Set(patch.labels.map((l) => l.trim().toLowerCase()))];
  if (patch.assigneeId !== undefined) d.assigneeId = patch.assigneeId;
  if (patch.timezone !== undefined) d.timezone = patch.timezone;
  if (patch.dueDate !== undefined) {
    d.dueDate = patch.dueDate;
    if (patch.dueDate !== null && patch.dueAt === undefined) d.dueAt = null;
  }
  if (patch.dueAt !== undefined) {
    d.dueAt = patch.dueAt === null ? null : new Date(patch.dueAt).toISOString();
    if (patch.dueAt !== null && patch.dueDate === undefined) d.dueDate = null;
  }
  if (patch.recurrence !== undefined) d.recurrence = patch.recurrence;
  if (patch.recurrenceFrom !== undefined) d.recurrenceFrom = patch.recurrenceFrom;
  if (patch.reminders !== undefined) d.reminders = patch.reminders.map(normalizeReminder);
  return { draft: d, errors: check(d) };
}

function normalizeReminder(r: ReminderSpec): ReminderSpec {
  return 'at' in r ? { at: new Date(r.at).toISOString() } : { before: r.before.toUpperCase() };
}

function check(d: Draft): FieldError[] {
  const errors: FieldError[] = [];
  if (!d.title) errors.push({ path: 'title', message: 'Title is required', code: 'required' });
  if (d.dueDate && d.dueAt) errors.push({ path: 'dueAt', message: 'Set either dueDate or dueAt, not both', code: 'conflict' });
  if (d.dueDate && !isRealDate(d.dueDate)) errors.push({ path: 'dueDate', message: 'Not a calendar date', code: 'invalid_date' });
  if (!isValidTimezone(d.timezone))
    errors.push({ path: 'timezone', message: `Unknown IANA time zone '${d.timezone}'`, code: 'invalid_timezone' });
  const hasDue = d.dueDate !== null || d.dueAt !== null;
  if (d.recurrence !== null) {
    if (!hasDue)
      errors.push({
        path: 'recurrence',
        message: 'A recurring task needs dueDate or dueAt (the series starts there)',
        code: 'requires_due',
      });
    try {
      d.recurrence = normalizeRrule(d.recurrence);
    } catch (err) {
      errors.push({ path: 'recurrence', message: err instanceof ScheduleError ? err.message : 'Invalid RRULE', code: 'invalid_rrule' });
    }
  }
  d.reminders.forEach((r, i) => {
    if ('before' in r) {
      if (parseDuration(r.before) === null) {
        errors.push({
          path: `reminders[${i}].before`,
          message: 'Expected an ISO 8601 duration such as PT15M, PT1H or P1D',
          code: 'invalid_duration',
        });
      } else if (!hasDue) {
        errors.push({ path: `reminders[${i}].before`, message: 'A relative reminder needs dueDate or dueAt', code: 'requires_due' });
      }
    }
  });
  return errors;
}

function isRealDate(s: string): boolean {
  const d = new Date(`${s}T00:00:00Z`);
  return !Number.isNaN(d.getTime()) && d.toISOString().startsWith(s);
}

export function dueOf(t: Pick<Task, 'dueDate' | 'dueAt' | 'timezone'>): Due | null {
  if (t.dueDate === null && t.dueAt === null) return null;
  return { dueDate: t.dueDate, dueAt: t.dueAt, timezone: t.timezone };
}

/** The instants at which the task's current reminders fire (invalid or due-less ones are skipped). */
export function reminderInstants(t: Pick<Task, 'dueDate' | 'dueAt' | 'timezone' | 'reminders'>): Array<{ index: number; fireAt: string }> {
  const due = dueOf(t);
  const out: Array<{ index: number; fireAt: string }> = [];
  t.reminders.forEach((r, index) => {
    try {
      const fireAt = reminderFireAt(due, r);
      if (fireAt) out.push({ index, fireAt });
    } catch {
      // validated on write; a reminder that cannot be placed is not scheduled
    }
  });
  return out;
}

/** A sortable instant for the task's due (all-day dues sort at local midnight). */
export function dueSortKey(t: Pick<Task, 'dueDate' | 'dueAt'>): string | null {
  return t.dueAt ?? (t.dueDate ? `${t.dueDate}T00:00:00.000Z` : null);
}
