/**
 * Recurring tasks: what the next due is when a task is completed.
 *
 * The series. A task's RRULE (RFC 5545) is evaluated with DTSTART = the task's current due, in
 * the task's time zone, on local wall-clock time: "every day at 09:00 America/New_York" stays at
 * 09:00 local across DST (14:00Z in winter, 13:00Z in summer). The time of day is the current
 * due's local time unless the rule sets BYHOUR/BYMINUTE. A local time that does not exist on a
 * spring-forward day moves forward by the gap (02:30 → 03:30); an ambiguous one on a fall-back
 * day takes the earlier instant. All-day tasks (dueDate) recur as dates.
 * Because the current due is the series start, a due moved to 03:30 by a gap keeps 03:30 on
 * later days; write BYHOUR=2;BYMINUTE=30 into the rule to pin 02:30.
 *
 * from 'due' (Todoist "every"): the next occurrence strictly after the current due. If that is
 * still not after the completion (an overdue task completed late), the first occurrence after
 * the completion instead; for all-day tasks, the first date after the completion's local date.
 * Completing early therefore advances by exactly one occurrence.
 *
 * from 'completion' (Todoist "every!"): a new series starting on the completion's local date
 * (at the current due's time of day for timed tasks); the next due is its second occurrence.
 * FREQ=DAILY;INTERVAL=3 completed on the 10th → the 13th; FREQ=WEEKLY;BYDAY=MO completed on any
 * day → the following Monday.
 *
 * The end. UNTIL is an absolute bound (a date includes that whole local day). COUNT counts the
 * occurrences of the series that starts at the current due, that due included: COUNT=1 means
 * "this is the last one". `advanceRecurrence` returns the rule with COUNT reduced by the
 * occurrences used up (skipped ones included); store it so the series ends after COUNT
 * completions. When nothing is left, the result is null and the task is done for good.
 */
import { DAY_MS, formatDate, formatInstant, parseDate, parseInstant, startOfDay } from './civil';
import { ScheduleError } from './error';
import { formatRrule, parseRrule, type Rule } from './rrule';
import { createSeries, endOfDay, type Occurrence } from './series';
import { instantToWall, isValidTimezone, wallToInstant } from './zone';

/** A task's due: exactly one of dueDate (all-day, YYYY-MM-DD) and dueAt (an ISO instant) is set. */
export interface Due {
  dueDate: string | null;
  dueAt: string | null;
  timezone: string;
}

export interface CompletionOptions {
  from: 'due' | 'completion';
  /** The completion instant (ISO 8601). */
  completedAt: string;
}

interface Anchor {
  allDay: boolean;
  /** The due as wall ms in `timezone` (00:00 for all-day). */
  wall: number;
  timezone: string;
}

const MAX_PREVIEW = 1000;

function readDue(due: Due): Anchor {
  if (!isValidTimezone(due.timezone)) {
    throw new ScheduleError('timezone', `Unknown time zone '${due.timezone}': use an IANA name such as 'Europe/Berlin' or 'UTC'`);
  }
  if (due.dueDate !== null && due.dueAt !== null) throw new ScheduleError('dueAt', 'Set either dueDate or dueAt, not both');
  if (due.dueDate !== null) return { allDay: true, wall: parseDate(due.dueDate, 'dueDate'), timezone: due.timezone };
  if (due.dueAt !== null)
    return { allDay: false, wall: instantToWall(parseInstant(due.dueAt, 'dueAt'), due.timezone), timezone: due.timezone };
  throw new ScheduleError('dueDate', 'A recurring task needs a due date (dueDate) or a due time (dueAt)');
}

function toDue(anchor: Anchor, wall: number): Due {
  return anchor.allDay
    ? { dueDate: formatDate(wall), dueAt: null, timezone: anchor.timezone }
    : { dueDate: null, dueAt: formatInstant(wallToInstant(wall, anchor.timezone)), timezone: anchor.timezone };
}

function first(occurrences: Iterable<Occurrence>, accept: (o: Occurrence) => boolean = () => true): Occurrence | null {
  for (const o of occurrences) if (accept(o)) return o;
  return null;
}

function nextOccurrence(rule: Rule, anchor: Anchor, opts: CompletionOptions): Occurrence | null {
  const doneAt = parseInstant(opts.completedAt, 'completedAt');
  const doneDay = startOfDay(instantToWall(doneAt, anchor.timezone));
  const { allDay, timezone } = anchor;
  if (opts.from === 'completion') {
    const start = allDay ? doneDay : doneDay + (anchor.wall - startOfDay(anchor.wall));
    return first(createSeries(rule, start, allDay, timezone).after(allDay ? endOfDay(start) : start));
  }
  if (opts.from !== 'due') throw new ScheduleError('recurrenceFrom', `Expected 'due' or 'completion', got '${String(opts.from)}'`);
  const series = createSeries(rule, anchor.wall, allDay, timezone);
  if (allDay) return first(series.after(endOfDay(Math.max(anchor.wall, doneDay))));
  // Search from a day before the completion's wall time: on a DST change day a slightly earlier
  // wall time can be a later instant, and it is the instant that must follow the completion.
  const from = Math.max(anchor.wall, instantToWall(doneAt, timezone) - DAY_MS);
  const notBefore = Math.max(wallToInstant(anchor.wall, timezone), doneAt);
  return first(series.after(from), (o) => wallToInstant(o.wall, timezone) > notBefore);
}

/** The next due after a completion, with the rule to store from then on (COUNT reduced); null when the series is over. */
export function advanceRecurrence(due: Due, rrule: string, opts: CompletionOptions): { due: Due; rrule: string } | null {
  const rule = parseRrule(rrule);
  const anchor = readDue(due);
  const next = nextOccurrence(rule, anchor, opts);
  if (!next) return null;
  const left = rule.count === undefined ? undefined : rule.count - (next.index ?? 0);
  return { due: toDue(anchor, next.wall), rrule: formatRrule(rule, left) };
}

/** The next due after a completion; null when the series is over (see the module comment). */
export function nextDue(due: Due, rrule: string, opts: CompletionOptions): Due | null {
  return advanceRecurrence(due, rrule, opts)?.due ?? null;
}

/** The first `count` dues of the series starting at `due` (inclusive), for previews. */
export function upcoming(due: Due, rrule: string, count: number): Due[] {
  if (!Number.isInteger(count) || count < 0 || count > MAX_PREVIEW)
    throw new ScheduleError('count', `count must be a whole number from 0 to ${MAX_PREVIEW}`);
  const rule = parseRrule(rrule);
  const anchor = readDue(due);
  const out: Due[] = [];
  if (count === 0) return out;
  out.push(toDue(anchor, anchor.wall));
  let last = anchor.allDay ? anchor.wall : wallToInstant(anchor.wall, anchor.timezone);
  const rest = createSeries(rule, anchor.wall, anchor.allDay, anchor.timezone).after(anchor.allDay ? endOfDay(anchor.wall) : anchor.wall);
  while (out.length < count) {
    const { done, value: o } = rest.next();
    if (done) break;
    // Two wall times can meet in one instant on a spring-forward day (02:30 and 03:30 → 03:30).
    const key = anchor.allDay ? o.wall : wallToInstant(o.wall, anchor.timezone);
    if (key <= last) continue;
    last = key;
    out.push(toDue(anchor, o.wall));
  }
  return out;
}
