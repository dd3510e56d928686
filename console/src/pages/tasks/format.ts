/** How tasks read on the board: due, reminders, priority (the browser's zone and locale). */
import type { Task } from './sync';

export const BROWSER_TZ = Intl.DateTimeFormat().resolvedOptions().timeZone;

const dateFmt = new Intl.DateTimeFormat(undefined, { weekday: 'short', month: 'short', day: 'numeric' });
const dateTimeFmt = new Intl.DateTimeFormat(undefined, {
  weekday: 'short',
  month: 'short',
  day: 'numeric',
  hour: 'numeric',
  minute: '2-digit',
});

/** "Mon, Dec 7, 9:00 AM", "Mon, Dec 7" (all-day), or null. */
export function dueText(task: Pick<Task, 'dueAt' | 'dueDate'>): string | null {
  if (task.dueAt) return dateTimeFmt.format(new Date(task.dueAt));
  if (task.dueDate) return dateFmt.format(new Date(`${task.dueDate}T00:00:00`));
  return null;
}

/** Whether an open task is past its due (all-day: after that day). */
export function isOverdue(task: Task, now = Date.now()): boolean {
  if (task.status !== 'open') return false;
  if (task.dueAt) return Date.parse(task.dueAt) < now;
  if (task.dueDate) return Date.parse(`${task.dueDate}T23:59:59`) < now;
  return false;
}

/** Sort key: due first (soonest), then priority, then title. */
export function compareTasks(a: Task, b: Task): number {
  const due = (t: Task) => (t.dueAt ? Date.parse(t.dueAt) : t.dueDate ? Date.parse(`${t.dueDate}T00:00:00`) : Number.POSITIVE_INFINITY);
  return due(a) - due(b) || a.priority - b.priority || a.title.localeCompare(b.title) || a.id.localeCompare(b.id);
}

const REMINDER_WORDS: Record<string, string> = {
  PT5M: '5 minutes before',
  PT10M: '10 minutes before',
  PT15M: '15 minutes before',
  PT30M: '30 minutes before',
  PT1H: '1 hour before',
  PT2H: '2 hours before',
  P1D: '1 day before',
  P2D: '2 days before',
  P1W: '1 week before',
};
export const REMINDER_PRESETS = Object.keys(REMINDER_WORDS);

/** A reminder in words: "1 hour before", "at Mon, Dec 7, 9:00 AM". */
export function reminderText(r: Task['reminders'][number]): string {
  if ('before' in r) return REMINDER_WORDS[r.before] ?? `${r.before} before`;
  return `at ${dateTimeFmt.format(new Date(r.at))}`;
}

/** `<input type=date>` and `<input type=time>` values for a task's due, in the browser's zone. */
export function dueInputs(task: Pick<Task, 'dueAt' | 'dueDate'>): { date: string; time: string } {
  if (task.dueDate) return { date: task.dueDate, time: '' };
  if (!task.dueAt) return { date: '', time: '' };
  const d = new Date(task.dueAt);
  const pad = (n: number) => String(n).padStart(2, '0');
  return { date: `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`, time: `${pad(d.getHours())}:${pad(d.getMinutes())}` };
}

/** The due fields for a PATCH from date/time inputs (local wall time in the browser's zone). */
export function dueFromInputs(date: string, time: string): { dueDate: string | null; dueAt: string | null } {
  if (!date) return { dueDate: null, dueAt: null };
  if (!time) return { dueDate: date, dueAt: null };
  return { dueDate: null, dueAt: new Date(`${date}T${time}:00`).toISOString() };
}
