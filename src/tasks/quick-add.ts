/**
 * POST /v1/tasks/quick-add: one line of text → what the parser understood →
 * the action (create, complete, reschedule, delete, list, remind) done through
 * the same service verbs as the rest of the API.
 */
import type { ServiceCtx } from '../lib/context';
import { AppError } from '../lib/problem';
import type { Task, TaskCreate, TaskPatch } from './model';
import { isValidTimeZone, type LocalDateTime, type ParsedQuickAdd, parseQuickAdd } from './nlp';
import { addDays } from './nlp/clock';
import { todayIn, zonedToInstant } from './schedule';
import * as tasks from './service';

export interface QuickAddResult {
  intent: ParsedQuickAdd['intent'];
  task: Task | null;
  tasks?: Task[];
  parsed: ParsedQuickAdd;
}

const field = (path: string, message: string) =>
  new AppError('validation_failed', message, { errors: [{ in: 'body', path, pointer: `/${path}`, message, code: 'invalid' }] });

function dueFields(due: LocalDateTime | null, timezone: string): Pick<TaskCreate, 'dueDate' | 'dueAt'> {
  if (!due) return {};
  return due.time === null ? { dueDate: due.date, dueAt: null } : { dueAt: zonedToInstant(due.date, due.time, timezone), dueDate: null };
}

function remindersOf(p: ParsedQuickAdd, timezone: string): TaskCreate['reminders'] {
  return p.reminders.map((r) => ('before' in r ? { before: r.before } : { at: zonedToInstant(r.at.date, r.at.time ?? '09:00', timezone) }));
}

function createInput(p: ParsedQuickAdd, timezone: string): TaskCreate {
  return {
    title: p.title,
    timezone,
    ...dueFields(p.due, timezone),
    ...(p.recurrence ? { recurrence: p.recurrence.rrule, recurrenceFrom: p.recurrence.from } : {}),
    reminders: remindersOf(p, timezone),
    ...(p.priority ? { priority: p.priority } : {}),
    labels: p.labels,
  };
}

/** The open task the text names: an exact (case-insensitive) title first, else the first that contains it. */
async function findTarget(ctx: ServiceCtx, title: string): Promise<Task> {
  if (!title) throw field('text', 'Say which task, e.g. "done with call Ana".');
  const page = await tasks.listTasks(ctx, { status: 'open', q: title, limit: 50 });
  const lower = title.toLowerCase();
  const hit = page.data.find((t) => t.title.toLowerCase() === lower) ?? page.data[0];
  if (!hit) throw new AppError('not_found', `No open task matches '${title}'.`);
  return hit;
}

export async function quickAdd(ctx: ServiceCtx, { text, timezone }: { text: string; timezone: string }): Promise<QuickAddResult> {
  const now = ctx.now;
  if (!isValidTimeZone(timezone)) throw field('timezone', `Unknown IANA time zone '${timezone}'.`);
  const parsed = parseQuickAdd(text, { timezone, now });
  switch (parsed.intent) {
    case 'create':
    case 'remind': {
      if (!parsed.title) throw field('text', 'The text has no task title left after dates, labels and priority.');
      return { intent: parsed.intent, task: await tasks.createTask(ctx, createInput(parsed, timezone)), parsed };
    }
    case 'complete': {
      const target = await findTarget(ctx, parsed.title);
      return { intent: 'complete', task: await tasks.completeTask(ctx, { id: target.id }), parsed };
    }
    case 'delete': {
      const target = await findTarget(ctx, parsed.title);
      await tasks.deleteTask(ctx, { id: target.id });
      return { intent: 'delete', task: target, parsed };
    }
    case 'reschedule': {
      const target = await findTarget(ctx, parsed.title);
      if (!parsed.due) throw field('text', `Say when to move '${target.title}' to, e.g. "move dentist to friday".`);
      const patch: TaskPatch = {
        timezone,
        ...dueFields(parsed.due, timezone),
        ...(parsed.recurrence ? { recurrence: parsed.recurrence.rrule, recurrenceFrom: parsed.recurrence.from } : {}),
      };
      if (parsed.reminders.length) patch.reminders = remindersOf(parsed, timezone);
      return { intent: 'reschedule', task: await tasks.updateTask(ctx, { id: target.id, patch }), parsed };
    }
    case 'list': {
      const today = todayIn(timezone, now);
      const range = parsed.list?.range;
      const window =
        range === 'today'
          ? { dueFrom: today, dueTo: today }
          : range === 'tomorrow'
            ? { dueFrom: addDays(today, 1), dueTo: addDays(today, 1) }
            : range === 'week'
              ? { dueFrom: today, dueTo: addDays(today, 6) }
              : range === 'overdue'
                ? { dueTo: now.toISOString() }
                : {};
      const page = await tasks.listTasks(ctx, { status: 'open', label: parsed.list?.label, limit: 100, ...window });
      return { intent: 'list', task: null, tasks: page.data, parsed };
    }
  }
}
