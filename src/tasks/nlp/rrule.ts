/** The recurrence model the grammar produces, its RFC 5545 RRULE text, and its first occurrence. */
import { addDays, daysInMonth, type LocalClock, splitDate, weekdayOf } from './clock';
import { WEEKDAY_CODES } from './tokens';

export type Freq = 'DAILY' | 'WEEKLY' | 'MONTHLY' | 'YEARLY';

export interface Rule {
  freq: Freq;
  interval: number;
  byMonth?: number[];
  /** 1..31, or -1 for the last day (RFC 5545 §3.3.10). */
  byMonthDay?: number[];
  /** Weekdays (0 = Sunday); `nth` (1..5 or -1) only in MONTHLY rules, e.g. -1FR = last Friday. */
  byDay?: Array<{ weekday: number; nth?: number }>;
  /** Time implied by the phrase itself ("every morning"); an explicit time wins. */
  time?: string;
  from: 'due' | 'completion';
}

/** RRULE body in a fixed part order: FREQ, INTERVAL, BYMONTH, BYMONTHDAY, BYDAY. */
export function toRRule(rule: Rule): string {
  const parts = [`FREQ=${rule.freq}`];
  if (rule.interval > 1) parts.push(`INTERVAL=${rule.interval}`);
  if (rule.byMonth?.length) parts.push(`BYMONTH=${rule.byMonth.join(',')}`);
  if (rule.byMonthDay?.length) parts.push(`BYMONTHDAY=${rule.byMonthDay.join(',')}`);
  if (rule.byDay?.length) {
    // Week order starting Monday reads like a calendar: MO,TU,…,SU.
    const days = [...rule.byDay].sort((a, b) => ((a.weekday + 6) % 7) - ((b.weekday + 6) % 7));
    parts.push(`BYDAY=${days.map((d) => `${d.nth ?? ''}${WEEKDAY_CODES[d.weekday]}`).join(',')}`);
  }
  return parts.join(';');
}

/** Whether `date` can be an occurrence. Without BY* parts any date can, since DTSTART sets the phase. */
export function matches(rule: Rule, date: string): boolean {
  const { year, month, day } = splitDate(date);
  const last = daysInMonth(year, month);
  if (rule.byMonth?.length && !rule.byMonth.includes(month)) return false;
  if (rule.byMonthDay?.length && !rule.byMonthDay.some((d) => (d === -1 ? day === last : d === day))) return false;
  if (rule.byDay?.length) {
    const wd = weekdayOf(date);
    return rule.byDay.some((d) => {
      if (d.weekday !== wd) return false;
      if (d.nth === undefined) return true;
      return d.nth === -1 ? day + 7 > last : Math.ceil(day / 7) === d.nth;
    });
  }
  return true;
}

// Eight years covers "every feb 29" from any start.
const SEARCH_DAYS = 366 * 8 + 1;

/**
 * The first occurrence on or after now, searching from `anchor` (today, or a
 * "starting …" date). Interval never moves the first one: it counts from it.
 */
export function firstOccurrence(rule: Rule, anchor: string, time: string | null, clock: LocalClock): string | null {
  let date = anchor < clock.date ? clock.date : anchor;
  for (let i = 0; i < SEARCH_DAYS; i++, date = addDays(date, 1)) {
    if (date === clock.date && time !== null && time < clock.time) continue;
    if (matches(rule, date)) return date;
  }
  return null;
}
