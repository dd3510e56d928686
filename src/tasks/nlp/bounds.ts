/**
 * How a recurrence ends: "until dec 31" → UNTIL, "10 times" → COUNT,
 * "for 2 weeks" → UNTIL the day before the same span after the first occurrence.
 * Read after "every …" so "until dec 31" is never taken for the start date.
 */
import { addDays, type LocalClock, localToInstant, splitDate, ymd } from './clock';
import { dateExpressionAt, resolveDate } from './dates';
import { blank } from './text';
import { NUMBER_PATTERN, numberValue } from './tokens';

export type Bound = { until: string } | { count: number } | { span: { n: number; unit: 'day' | 'week' | 'month' | 'year' } };

/** Blanks the first "until <date>" or "N times" and returns it; `until` is a local date. */
export function extractBound(work: string, clock: LocalClock): { bound: Bound; work: string } | null {
  const count = new RegExp(`(?<![\\p{L}])(?:for\\s+)?(${NUMBER_PATTERN})\\s+times(?![\\p{L}])`, 'iu').exec(work);
  if (count) {
    const n = numberValue(count[1]!);
    if (n >= 1) return { bound: { count: n }, work: blank(work, { start: count.index, end: count.index + count[0].length }) };
  }
  const span = new RegExp(`(?<![\\p{L}])for\\s+(?:the\\s+next\\s+)?(${NUMBER_PATTERN})\\s+(day|week|month|year)s?(?![\\p{L}])`, 'iu').exec(
    work,
  );
  if (span) {
    const n = numberValue(span[1]!);
    const unit = span[2]!.toLowerCase() as 'day' | 'week' | 'month' | 'year';
    if (n >= 1) return { bound: { span: { n, unit } }, work: blank(work, { start: span.index, end: span.index + span[0].length }) };
  }
  for (const m of work.matchAll(/(?<![\p{L}])(?:until|till|through|thru|ending(?:\s+on)?)(?![\p{L}])/giu)) {
    const end = m.index + m[0].length;
    const at = dateExpressionAt(work.slice(end), clock);
    if (!at || at.match.date === null) continue;
    return { bound: { until: resolveDate(at.match, clock) }, work: blank(work, { start: m.index, end: end + at.length }) };
  }
  return null;
}

/**
 * The RRULE part for a bound. RFC 5545 §3.3.10: UNTIL has DTSTART's value type —
 * a DATE for an all-day series, else a UTC DATE-TIME (here the end of that local day).
 */
export function boundPart(bound: Bound, due: { date: string; time: string | null }, timezone: string): string {
  if ('count' in bound) return `COUNT=${bound.count}`;
  const until = 'until' in bound ? bound.until : spanEnd(due.date, bound.span);
  if (due.time === null) return `UNTIL=${until.replaceAll('-', '')}`;
  const end = new Date(localToInstant(until, '23:59', timezone).getTime() + 59_000);
  return `UNTIL=${end
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}/, '')}`;
}

/** Last day of a span that starts on `start`: "for 2 weeks" from Nov 18 ends Dec 1. */
function spanEnd(start: string, span: { n: number; unit: 'day' | 'week' | 'month' | 'year' }): string {
  if (span.unit === 'day' || span.unit === 'week') return addDays(start, span.n * (span.unit === 'week' ? 7 : 1) - 1);
  const { year, month, day } = splitDate(start);
  const months = span.n * (span.unit === 'year' ? 12 : 1) + month - 1;
  // Day overflow (Jan 31 + 1 month) rolls into the next month, as Date does; the series ends the day before.
  const end = new Date(Date.UTC(year + Math.floor(months / 12), months % 12, day));
  return addDays(ymd(end.getUTCFullYear(), end.getUTCMonth() + 1, end.getUTCDate()), -1);
}
