/** Everything about *when* in one phrase: reminders, recurrence and the due date, with the leftover text. */
import { type Bound, boundPart, extractBound } from './bounds';
import type { LocalClock } from './clock';
import { extractDate, resolveDate } from './dates';
import { extractRecurrence } from './recurrence';
import { extractReminders, resolveReminders } from './reminders';
import { firstOccurrence, type Rule, toRRule } from './rrule';
import { tidy } from './text';
import type { LocalDateTime, Recurrence, Reminder } from './types';

export interface Schedule {
  due: LocalDateTime | null;
  recurrence: Recurrence | null;
  reminders: Reminder[];
  /** The text left once every recognised phrase is gone, tidied. */
  rest: string;
}

/** Order matters: reminders first ("1 day before" is not a date), then "every …" and its end, then the date itself. */
export function parseSchedule(work: string, clock: LocalClock): Schedule {
  const r = extractReminders(work, clock);
  const rec = extractRecurrence(r.work);
  const b = rec ? extractBound(rec.work, clock) : null;
  const d = extractDate(b?.work ?? rec?.work ?? r.work, clock);
  let due: LocalDateTime | null = null;
  if (rec) {
    // The date said with a recurrence is where it starts ("every 2 weeks starting jan 10").
    const time = d?.match.time ?? rec.rule.time ?? null;
    const date = firstOccurrence(rec.rule, d?.match.date ?? clock.date, time, clock);
    due = date ? { date, time } : null;
  } else if (d) {
    due = { date: resolveDate(d.match, clock), time: d.match.time };
  }
  return {
    due,
    recurrence: rec ? { rrule: rrule(rec.rule, b?.bound ?? null, due, clock), from: rec.rule.from } : null,
    reminders: resolveReminders(r.reminders, due, clock),
    rest: tidy(d?.work ?? b?.work ?? rec?.work ?? r.work),
  };
}

function rrule(rule: Rule, bound: Bound | null, due: LocalDateTime | null, clock: LocalClock): string {
  const body = toRRule(rule);
  // Without a first occurrence there is nothing for a bound to count from.
  return bound && due ? `${body};${boundPart(bound, due, clock.timezone)}` : body;
}

/** True when the phrase said anything about when. */
export function hasSchedule(s: Schedule): boolean {
  return s.due !== null || s.recurrence !== null || s.reminders.length > 0;
}
