/**
 * One date/time expression → a local wall-clock date and/or time.
 * chrono-node does the heavy lifting; a few phrases are ours because chrono's
 * reading is not what a to-do app means ("next week" = next Monday, like
 * Todoist) or because it needs real instant math ("in 2 hours" across DST).
 */
import { casual, type ParsedResult } from 'chrono-node/en';
import { addDays, daysInMonth, hm, type LocalClock, nextMonday, splitDate, toLocal, weekdayOf, ymd } from './clock';
import { blank, withConnectors } from './text';
import { NUMBER_PATTERN, numberValue, PART_OF_DAY } from './tokens';

export interface DateMatch {
  /** Explicit date, or null when only a time was said ("at 9am"). */
  date: string | null;
  time: string | null;
}

interface Found extends DateMatch {
  start: number;
  end: number;
}

function inDuration(work: string, clock: LocalClock): Found | null {
  const m = new RegExp(
    `(?<![\\p{L}])(?:in|within)\\s+(half\\s+an|${NUMBER_PATTERN})\\s*(minutes?|mins?|m|hours?|hrs?|h)(?![\\p{L}])`,
    'iu',
  ).exec(work);
  if (!m) return null;
  const minutes = /^half/i.test(m[1]!) ? 30 : numberValue(m[1]!) * (/^h/i.test(m[2]!) ? 60 : 1);
  // Instant math, then back to the wall clock: correct across a DST change.
  const at = toLocal(new Date(Math.floor(clock.instant.getTime() / 60_000) * 60_000 + minutes * 60_000), clock.timezone);
  return { start: m.index, end: m.index + m[0].length, date: at.date, time: at.time };
}

function nextPeriod(work: string, clock: LocalClock): Found | null {
  const m = /(?<![\p{L}])next\s+(week|month|year)(?![\p{L}'])/iu.exec(work);
  if (!m) return null;
  const { year, month } = splitDate(clock.date);
  const unit = m[1]!.toLowerCase();
  const date =
    unit === 'week'
      ? nextMonday(clock.date)
      : unit === 'month'
        ? month === 12
          ? ymd(year + 1, 1, 1)
          : ymd(year, month + 1, 1)
        : ymd(year + 1, 1, 1);
  return { start: m.index, end: m.index + m[0].length, date, time: null };
}

/** "on the 5th": the next 5th on or after today (chrono has no reading for a bare day of month). */
function dayOfMonth(work: string, clock: LocalClock): Found | null {
  const m = /(?<![\p{L}])the\s+(\d{1,2})(?:st|nd|rd|th)(?:\s+of\s+(?:the|this)\s+month)?(?![\p{L}\p{N}])/iu.exec(work);
  if (!m) return null;
  const want = Number(m[1]);
  if (want < 1 || want > 31) return null;
  let { year, month } = splitDate(clock.date);
  const today = splitDate(clock.date).day;
  for (let i = 0; i < 13; i++) {
    if (want <= daysInMonth(year, month) && (i > 0 || want >= today)) {
      return { start: m.index, end: m.index + m[0].length, date: ymd(year, month, want), time: null };
    }
    [year, month] = month === 12 ? [year + 1, 1] : [year, month + 1];
  }
  return null;
}

const BARE_ABBREVIATIONS = new Set(['mon', 'tue', 'tues', 'wed', 'thu', 'thur', 'thurs', 'fri', 'sat', 'sun']);

/** chrono readings we refuse because they are usually part of a title. */
function acceptable(r: ParsedResult, work: string): boolean {
  const text = r.text.trim();
  const lower = text.toLowerCase();
  if (BARE_ABBREVIATIONS.has(lower) || lower === 'now') return false; // "buy sun cream", "do it now"
  const s = r.start;
  // A month without a day ("call May", "read March of the Penguins").
  if (s.isCertain('month') && !s.isCertain('day') && !s.isCertain('weekday')) return false;
  if (r.tags().has('result/relativeDate')) {
    // "walk 30 minutes", "1 day before": a duration is not a date unless it says so.
    if (!/^(in|within|next|this|last)\b|\b(from now|later)$|day after tomorrow$/i.test(lower)) return false;
    // "watch The Day After Tomorrow": a title-cased phrase is a title.
    if (/day after tomorrow$/i.test(lower) && /^(The )?Day After Tomorrow$/.test(text)) return false;
  }
  // chrono tolerates a dangling comma or a word glued to a number; require the match on word edges.
  const before = work[r.index - 1];
  return before === undefined || /[\s,(]/.test(before);
}

function upcomingWeekday(clock: LocalClock, weekday: number, time: string | null): string {
  let offset = (weekday - weekdayOf(clock.date) + 7) % 7;
  if (offset === 0 && time !== null && time < clock.time) offset = 7;
  return addDays(clock.date, offset);
}

/** Time said for a chrono result: an explicit one, else the part-of-day default, else null. */
function timeOf(r: ParsedResult): string | null {
  if (r.start.isCertain('hour')) {
    let hour = r.start.get('hour')!;
    // "call Ana at 5": nobody means 5 am without saying so. 1–6 without am/pm (and not "05:00") is afternoon.
    const morning = r.tags().has('casualReference/morning');
    if (!r.start.isCertain('meridiem') && !morning && hour >= 1 && hour <= 6 && !/(?<!\d)0\d:/.test(r.text)) hour += 12;
    return hm(hour, r.start.get('minute') ?? 0);
  }
  for (const tag of r.tags()) {
    const part = /^casualReference\/(morning|afternoon|evening|tonight|noon|midnight)$/.exec(tag)?.[1];
    if (part) return PART_OF_DAY[part]!;
  }
  return null;
}

function fromChrono(work: string, clock: LocalClock): Found[] {
  const { year, month, day } = splitDate(clock.date);
  const [hour, minute] = clock.time.split(':').map(Number) as [number, number];
  // chrono reads the wall clock as UTC (offset 0): every component it returns is then local time.
  const ref = { instant: new Date(Date.UTC(year, month - 1, day, hour, minute)), timezone: 0 };
  const out: Found[] = [];
  for (const r of casual.parse(work, ref, { forwardDate: true })) {
    if (!acceptable(r, work)) continue;
    const s = r.start;
    const dated = s.isCertain('day') || s.isCertain('weekday') || s.isCertain('month');
    const time = timeOf(r);
    let date = dated ? ymd(s.get('year')!, s.get('month')!, s.get('day')!) : null;
    // "this afternoon" is today even when chrono rolls it forward.
    if (!dated && /^this\b/i.test(r.text)) date = clock.date;
    // A bare weekday is the next one on or after today; chrono's choice for today's own weekday varies with the hour.
    if (s.isCertain('weekday') && !s.isCertain('day') && !/^(?:on\s+)?(?:next|last)\b/i.test(r.text)) {
      date = upcomingWeekday(clock, s.get('weekday')!, time);
    }
    out.push({ start: r.index, end: r.index + r.text.length, date, time });
  }
  return out;
}

/**
 * Finds the due expression: at most one date and one time (they may be
 * apart: "next week … at 9am"). Returns null when nothing was recognised.
 */
export function extractDate(work: string, clock: LocalClock): { match: DateMatch; work: string } | null {
  let out = work;
  let own: Found | null = null;
  for (const find of [inDuration, nextPeriod, dayOfMonth]) {
    own = find(out, clock);
    if (own) break;
  }
  if (own) out = blank(out, { start: withConnectors(out, own.start), end: own.end });
  const chrono = fromChrono(out, clock).find((f) => !own || (own.time === null && f.date === null && f.time !== null));
  if (chrono) out = blank(out, { start: withConnectors(out, chrono.start), end: chrono.end });
  if (!own && !chrono) return null;
  return { match: { date: own?.date ?? chrono?.date ?? null, time: own?.time ?? chrono?.time ?? null }, work: out };
}

/** A date for a time said without one: today if still ahead, else tomorrow. */
export function resolveDate(match: DateMatch, clock: LocalClock): string {
  if (match.date) return match.date;
  return match.time !== null && match.time < clock.time ? addDays(clock.date, 1) : clock.date;
}

/** The date/time expression that starts `text` (after an optional "at"/"on"), for "remind me at 8am". */
export function dateExpressionAt(text: string, clock: LocalClock): { match: DateMatch; length: number } | null {
  const lead = /^\s*(?:(?:at|on)\s+)?/i.exec(text)![0].length;
  const own = [inDuration, nextPeriod, dayOfMonth].map((find) => find(text, clock)).find((f) => f?.start === lead);
  const found = own ?? fromChrono(text, clock).find((f) => f.start === lead || (f.start < lead && f.end > lead));
  return found ? { match: { date: found.date, time: found.time }, length: found.end } : null;
}
