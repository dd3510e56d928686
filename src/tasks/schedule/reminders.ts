/**
 * When a reminder fires. `before` counts back from the due: from dueAt, or for an all-day task
 * from ALL_DAY_REMINDER_TIME local on dueDate. Days and weeks are calendar days in the task's
 * zone (P1D before 09:00 fires at 09:00 the day before, across DST too); hours, minutes and
 * seconds are exact (RFC 5545 §3.3.6, as Temporal's subtract).
 */
import { DAY_MS, formatInstant, parseDate, parseInstant, parseTime } from './civil';
import { parseDurationParts } from './duration';
import { ScheduleError } from './error';
import type { Due } from './next-due';
import { instantToWall, isValidTimezone, wallToInstant } from './zone';

/** Local time at which "before" reminders of all-day tasks count back from. */
export const ALL_DAY_REMINDER_TIME = '09:00';

export type Reminder = { before: string } | { at: string };

function beforeParts(before: string, field: string) {
  const parts = parseDurationParts(before);
  if (!parts)
    throw new ScheduleError(
      field,
      `Expected a positive ISO 8601 duration such as PT30M, PT2H, P1D or P1W (no years or months), got '${before}'`,
    );
  return parts;
}

/** Validates a reminder list; errors name the element, e.g. 'reminders[0].before'. */
export function validateReminders(reminders: readonly Reminder[]): void {
  reminders.forEach((r, i) => {
    if ('before' in r) beforeParts(r.before, `reminders[${i}].before`);
    else parseInstant(r.at, `reminders[${i}].at`);
  });
}

/**
 * The instant (ISO, UTC) at which a reminder fires; null for a `before` reminder on a task
 * without a due. Throws ScheduleError('before' | 'at' | 'timezone' | 'dueDate' | 'dueAt').
 */
export function reminderFireAt(due: Due | null, reminder: Reminder): string | null {
  if ('at' in reminder) return formatInstant(parseInstant(reminder.at, 'at'));
  const { days, ms } = beforeParts(reminder.before, 'before');
  if (!due || (due.dueDate === null && due.dueAt === null)) return null;
  if (!isValidTimezone(due.timezone)) throw new ScheduleError('timezone', `Unknown time zone '${due.timezone}'`);
  const wall =
    due.dueAt !== null
      ? instantToWall(parseInstant(due.dueAt, 'dueAt'), due.timezone)
      : parseDate(due.dueDate!, 'dueDate') + parseTime(ALL_DAY_REMINDER_TIME, 'time');
  return formatInstant(wallToInstant(wall - days * DAY_MS, due.timezone) - ms);
}
