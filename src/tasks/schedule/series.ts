/**
 * A recurrence series on local wall-clock time, evaluated by rrule-temporal.
 *
 * The engine runs in UTC on "wall milliseconds" (civil.ts), i.e. floating local time; the
 * caller converts to instants with the task's zone. Evaluating in the real zone would let the
 * engine drop occurrences that fall into a DST gap (RFC 5545 §3.3.10 says "MUST be ignored");
 * a to-do due at 02:30 should instead move to 03:30 that day, as Temporal's 'compatible' does.
 * COUNT follows RFC 5545: DTSTART is the first occurrence even when it does not match the rule.
 * UNTIL is applied here because its value type (date, floating or UTC) need not match DTSTART's.
 */
import { RRuleTemporal } from 'rrule-temporal';
import { DAY_MS, startOfDay } from './civil';
import { ScheduleError } from './error';
import { checkInheritedDay, type Rule } from './rrule';
import { instantToWall, wallToInstant } from './zone';

/** An occurrence: its wall time, and its index in the series (0 = DTSTART) when the rule has COUNT. */
export interface Occurrence {
  wall: number;
  index: number | null;
}

export interface Series {
  /** The occurrences with a wall time strictly after `from`, in order, within COUNT and UNTIL. */
  after(from: number): Generator<Occurrence>;
}

/** Periods the engine may scan for one answer: ~8 years of days (Feb 29), 250 years of months. */
const MAX_ITERATIONS = 3000;

/** The last wall ms of the day that `wall` falls on. */
export function endOfDay(wall: number): number {
  return startOfDay(wall) + DAY_MS - 1;
}

function engineError(error: unknown): ScheduleError {
  const reason = error instanceof Error ? error.message : String(error);
  if (reason.includes('Maximum iterations')) {
    return new ScheduleError(
      'recurrence',
      'The rule has no further occurrence from this due date (e.g. FREQ=YEARLY;BYMONTH=2 from a due on the 30th)',
    );
  }
  return new ScheduleError('recurrence', `The rule cannot be evaluated from this due date: ${reason}`);
}

function withinUntil(rule: Rule, allDay: boolean, timezone: string): (wall: number) => boolean {
  const until = rule.until;
  if (!until) return () => true;
  if (until.kind === 'utc') {
    if (allDay) return (wall) => wall <= instantToWall(until.instant, timezone);
    return (wall) => wallToInstant(wall, timezone) <= until.instant;
  }
  // A DATE UNTIL includes that whole local day (RFC 5545: "inclusive").
  const last = until.kind === 'date' ? endOfDay(until.wall) : until.wall;
  return (wall) => wall <= last;
}

/** The series of `rule` starting at `dtstart` (wall ms); all-day series are dates at 00:00. */
export function createSeries(rule: Rule, dtstart: number, allDay: boolean, timezone: string): Series {
  if (allDay && rule.parts.some((p) => /^BY(HOUR|MINUTE|SECOND)=/.test(p))) {
    throw new ScheduleError('recurrence', 'BYHOUR, BYMINUTE and BYSECOND need a due time (dueAt), not an all-day dueDate');
  }
  checkInheritedDay(rule, new Date(dtstart).getUTCDate());
  const text = [...rule.parts, ...(rule.count === undefined ? [] : [`COUNT=${rule.count}`])].join(';');
  const iso = new Date(dtstart).toISOString().replace('Z', '+00:00[UTC]');
  let engine: RRuleTemporal;
  try {
    engine = new RRuleTemporal({
      rruleString: text,
      dtstart: { timeZoneId: 'UTC', toString: () => iso },
      includeDtstart: true,
      maxIterations: MAX_ITERATIONS,
    });
  } catch (error) {
    throw engineError(error);
  }
  const inRange = withinUntil(rule, allDay, timezone);

  function* bounded(from: number): Generator<Occurrence> {
    // With COUNT the whole series is short (≤ MAX_COUNT) and its indexes are needed.
    let walls: number[];
    try {
      walls = engine.all().map((z) => z.epochMilliseconds);
    } catch (error) {
      throw engineError(error);
    }
    for (const [index, wall] of walls.entries()) if (wall > from) yield { wall, index };
  }

  function* unbounded(from: number): Generator<Occurrence> {
    for (let cursor = from; ; ) {
      let next: ReturnType<typeof engine.next>;
      try {
        next = engine.next(new Date(cursor), false);
      } catch (error) {
        throw engineError(error);
      }
      if (!next || !inRange(next.epochMilliseconds)) return;
      cursor = next.epochMilliseconds;
      yield { wall: cursor, index: null };
    }
  }

  return { after: rule.count === undefined ? unbounded : bounded };
}
