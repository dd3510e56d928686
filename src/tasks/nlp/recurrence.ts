/**
 * Recurrence grammar: "every …" / "every! …" / "daily" phrases → a `Rule`.
 * A tiny cursor parser over the working text; each step is one optional
 * phrase so the accepted language reads straight off `spec()`.
 */
import { daysInMonth } from './clock';
import type { Rule } from './rrule';
import { blank } from './text';
import {
  MONTH_PATTERN,
  monthIndex,
  NUMBER_PATTERN,
  numberValue,
  ORDINAL_PATTERN,
  ordinalValue,
  PART_OF_DAY,
  WEEKDAY_PATTERN,
  weekdayIndex,
} from './tokens';

type Spec = Omit<Rule, 'from'>;

/** Reads optional phrases from `pos`; each `take` either advances or leaves the cursor alone. */
class Cursor {
  constructor(
    readonly text: string,
    public pos: number,
  ) {}

  take(pattern: string): RegExpExecArray | null {
    const re = new RegExp(`\\s*(?:${pattern})(?![\\p{L}\\p{N}])`, 'iyu');
    re.lastIndex = this.pos;
    const m = re.exec(this.text);
    if (m) this.pos = re.lastIndex;
    return m;
  }

  /** Runs `step`; rewinds if it returns null. */
  try<T>(step: () => T | null): T | null {
    const at = this.pos;
    const out = step();
    if (out === null) this.pos = at;
    return out;
  }
}

const WEEKDAYS_MON_FRI = [1, 2, 3, 4, 5].map((weekday) => ({ weekday }));
const OF_MONTH = '(?:day\\s+)?of\\s+(?:the|each|every)\\s+month|each\\s+month|every\\s+month|a\\s+month';
const UNIT_FREQ: Record<string, Spec['freq']> = { day: 'DAILY', week: 'WEEKLY', month: 'MONTHLY', year: 'YEARLY' };

function weekdayList(c: Cursor): number[] | null {
  const first = c.take(`(${WEEKDAY_PATTERN})`);
  if (!first) return null;
  const days = [weekdayIndex(first[1]!)!];
  for (;;) {
    // Separators are optional: "every mon wed fri".
    const next = c.try(() => c.take(`(?:(?:,\\s*and|,|and|&)\\s*)?(${WEEKDAY_PATTERN})`));
    if (!next) return [...new Set(days)];
    days.push(weekdayIndex(next[1]!)!);
  }
}

function monthDayList(c: Cursor): number[] | null {
  const first = c.take(`(\\d{1,2})(?:st|nd|rd|th)|(first|second|third|fourth|fifth|last(?:\\s+day)?)`);
  if (!first) return null;
  const days = [ordinalValue(first[1] ?? first[2]!.split(/\s/)[0]!)];
  for (;;) {
    const next = c.try(() => c.take(`(?:,\\s*and|,|and|&)\\s*(?:the\\s+)?(\\d{1,2})(?:st|nd|rd|th)`));
    if (!next) break;
    days.push(ordinalValue(next[1]!));
  }
  return days.every((d) => d === -1 || (d >= 1 && d <= 31)) ? days : null;
}

/** "march 5", "5 march", "5th of march", "mar 5th" → [month, day] when that day exists in a leap year. */
function monthAndDay(c: Cursor): [number, number] | null {
  const m =
    c.try(() => c.take(`(${MONTH_PATTERN})\\.?\\s+(\\d{1,2})(?:st|nd|rd|th)?`)) ??
    c.try(() => c.take(`(\\d{1,2})(?:st|nd|rd|th)?(?:\\s+of)?\\s+(${MONTH_PATTERN})`));
  if (!m) return null;
  const [month, day] = monthIndex(m[1]!) ? [monthIndex(m[1]!)!, Number(m[2])] : [monthIndex(m[2]!)!, Number(m[1])];
  return day >= 1 && day <= daysInMonth(2024, month) ? [month, day] : null;
}

function partOfDay(c: Cursor): string | undefined {
  const m = c.try(() => c.take('(?:in\\s+the\\s+)?(morning|afternoon|evening|night)s?'));
  return m ? PART_OF_DAY[m[1]!.toLowerCase()] : undefined;
}

/** After "week"/"N weeks": an optional "on monday and thursday". */
function weeklyOn(c: Cursor, interval: number): Spec {
  const days = c.try(() => (c.take('on') ? weekdayList(c) : null));
  return days ? { freq: 'WEEKLY', interval, byDay: days.map((weekday) => ({ weekday })) } : { freq: 'WEEKLY', interval };
}

/** After "month": an optional "on the 3rd" / "on the last friday". */
function monthlyOn(c: Cursor, interval: number): Spec {
  const nth = c.try(() => {
    const m = c.take(`on\\s+the\\s+(${ORDINAL_PATTERN})\\s+(${WEEKDAY_PATTERN})`);
    return m ? { freq: 'MONTHLY' as const, interval, byDay: [{ weekday: weekdayIndex(m[2]!)!, nth: ordinalValue(m[1]!) }] } : null;
  });
  if (nth) return nth;
  const days = c.try(() => (c.take('on\\s+the') ? monthDayList(c) : null));
  return days ? { freq: 'MONTHLY', interval, byMonthDay: days } : { freq: 'MONTHLY', interval };
}

function unitSpec(c: Cursor, unit: string, interval: number): Spec {
  const freq = UNIT_FREQ[unit.toLowerCase().replace(/s$/, '')]!;
  if (freq === 'WEEKLY') return weeklyOn(c, interval);
  if (freq === 'MONTHLY') return monthlyOn(c, interval);
  if (freq === 'YEARLY') {
    const md = c.try(() => (c.take('on') ? monthAndDay(c) : null));
    return md ? { freq, interval, byMonth: [md[0]], byMonthDay: [md[1]] } : { freq, interval };
  }
  return { freq, interval };
}

/** What follows "every": one of the alternatives below, tried in order. */
function spec(c: Cursor): Spec | null {
  const alternatives: Array<() => Spec | null> = [
    () => {
      // every other day | every other monday | every 2 weeks (on fri) | every second week
      const m = c.take(`(other|${NUMBER_PATTERN}|second|third|\\d{1,2}(?:st|nd|rd|th))`);
      if (!m) return null;
      const word = m[1]!.toLowerCase();
      const interval = word === 'other' ? 2 : /^(second|third|\d+(st|nd|rd|th))$/.test(word) ? ordinalValue(word) : numberValue(word);
      if (!(interval >= 1)) return null;
      const unit = c.take('(day|week|month|year)s?');
      if (unit) return unitSpec(c, unit[1]!, interval);
      if (word !== 'other') return null;
      const days = weekdayList(c);
      return days ? { freq: 'WEEKLY', interval, byDay: days.map((weekday) => ({ weekday })) } : null;
    },
    () => {
      // every last friday | every 2nd tuesday (of the month)
      const m = c.take(`(${ORDINAL_PATTERN})\\s+(${WEEKDAY_PATTERN})(?:\\s+(?:${OF_MONTH}))?`);
      return m ? { freq: 'MONTHLY', interval: 1, byDay: [{ weekday: weekdayIndex(m[2]!)!, nth: ordinalValue(m[1]!) }] } : null;
    },
    () => {
      // every march 5 | every 5th of march
      const md = monthAndDay(c);
      return md ? { freq: 'YEARLY', interval: 1, byMonth: [md[0]], byMonthDay: [md[1]] } : null;
    },
    () => {
      // every 1st | every 3rd of the month | every 1st and 15th | every last day of the month
      const days = monthDayList(c);
      if (!days) return null;
      c.try(() => c.take(OF_MONTH));
      return { freq: 'MONTHLY', interval: 1, byMonthDay: days };
    },
    () => (c.take('(?:week|work|business)\\s*days?') ? { freq: 'WEEKLY', interval: 1, byDay: WEEKDAYS_MON_FRI } : null),
    () => (c.take('weekends?') ? { freq: 'WEEKLY', interval: 1, byDay: [{ weekday: 6 }, { weekday: 0 }] } : null),
    () => {
      const m = c.take('(day|week|month|year)');
      return m ? unitSpec(c, m[1]!, 1) : null;
    },
    () => {
      const m = c.take('(morning|afternoon|evening|night)');
      return m ? { freq: 'DAILY', interval: 1, time: PART_OF_DAY[m[1]!.toLowerCase()]! } : null;
    },
    () => {
      const days = weekdayList(c);
      return days ? { freq: 'WEEKLY', interval: 1, byDay: days.map((weekday) => ({ weekday })) } : null;
    },
  ];
  for (const alt of alternatives) {
    const s = c.try(alt);
    if (s) {
      const time = partOfDay(c);
      return time && !s.time ? { ...s, time } : s;
    }
  }
  return null;
}

const ADVERBS: Record<string, Spec> = {
  daily: { freq: 'DAILY', interval: 1 },
  weekly: { freq: 'WEEKLY', interval: 1 },
  fortnightly: { freq: 'WEEKLY', interval: 2 },
  monthly: { freq: 'MONTHLY', interval: 1 },
  yearly: { freq: 'YEARLY', interval: 1 },
  annually: { freq: 'YEARLY', interval: 1 },
};

const AFTER_COMPLETION =
  "(?:after|from)\\s+(?:(?:the\\s+)?(?:last\\s+)?completion|completed?|completing|done|finishing|finished|it(?:'s|\\s+is|\\s+was)\\s+(?:done|completed?|finished))";
const TRIGGER = /(?<![\p{L}\p{N}])(?:(every|each)(!?)|(daily|weekly|fortnightly|monthly|yearly|annually))(?![\p{L}\p{N}])/giu;

/** Finds the first recurrence phrase, blanks it (and any "after completion"), and returns its rule. */
export function extractRecurrence(work: string): { rule: Rule; work: string } | null {
  for (const m of work.matchAll(TRIGGER)) {
    const c = new Cursor(work, m.index + m[0].length);
    let s: Spec | null;
    if (m[3]) {
      const base = ADVERBS[m[3].toLowerCase()]!;
      s = base.freq === 'WEEKLY' ? weeklyOn(c, base.interval) : { ...base };
    } else {
      s = spec(c);
    }
    if (!s) continue;
    let from: Rule['from'] = m[2] === '!' ? 'completion' : 'due';
    if (c.try(() => c.take(AFTER_COMPLETION))) from = 'completion';
    let out = blank(work, { start: m.index, end: c.pos });
    const later = new RegExp(`(?<![\\p{L}])${AFTER_COMPLETION}(?![\\p{L}])`, 'iu').exec(out);
    if (later) {
      from = 'completion';
      out = blank(out, { start: later.index, end: later.index + later[0].length });
    }
    return { rule: { ...s, from }, work: out };
  }
  return null;
}
