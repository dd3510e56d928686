/**
 * The pure scheduling core of the task service: time zones, RFC 5545 recurrence, reminders.
 * No clocks: `now` and `completedAt` are parameters. Semantics: see schedule/next-due.ts.
 */

export { parseDuration } from './schedule/duration';
export { ScheduleError } from './schedule/error';
export { advanceRecurrence, type CompletionOptions, type Due, nextDue, upcoming } from './schedule/next-due';
export { ALL_DAY_REMINDER_TIME, type Reminder, reminderFireAt, validateReminders } from './schedule/reminders';
export { normalizeRrule } from './schedule/rrule';
export { instantToZoned, isValidTimezone, todayIn, zonedToInstant } from './schedule/zone';
