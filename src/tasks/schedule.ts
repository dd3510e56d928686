/**
 * The pure scheduling core of the task service: time zones, RFC 5545 recurrence, reminders.
 * No clocks: `now` and `completedAt` are parameters. Semantics: see schedule/next-due.ts.
 */
export { ScheduleError } from './schedule/error';
export { isValidTimezone, zonedToInstant, instantToZoned, todayIn } from './schedule/zone';
export { parseDuration } from './schedule/duration';
export { normalizeRrule } from './schedule/rrule';
export { nextDue, advanceRecurrence, upcoming, type Due, type CompletionOptions } from './schedule/next-due';
export { ALL_DAY_REMINDER_TIME, reminderFireAt, validateReminders, type Reminder } from './schedule/reminders';
