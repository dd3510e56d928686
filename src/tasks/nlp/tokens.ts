/** Vocabulary shared by the grammar modules, and the two flat tokens: `#labels` and `p1`..`p4`. */
import { blank } from './text';

/** RFC 5545 weekday codes indexed like Date#getDay (0 = Sunday). */
export const WEEKDAY_CODES = ['SU', 'MO', 'TU', 'WE', 'TH', 'FR', 'SA'] as const;
export type WeekdayCode = (typeof WEEKDAY_CODES)[number];

const WEEKDAY_PREFIXES = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'];

/** Weekday index (0 = Sunday) of a weekday name, abbreviation or plural, else undefined. */
export function weekdayIndex(word: string): number | undefined {
  const i = WEEKDAY_PREFIXES.indexOf(word.toLowerCase().slice(0, 3));
  return i < 0 ? undefined : i;
}

/** Any weekday spelling: 'mon', 'tues', 'thurs', 'wednesday', 'fridays'. Use inside \b…\b. */
export const WEEKDAY_PATTERN = '(?:sun|mon|tues?|wed(?:nes)?|thu(?:rs?)?|fri|sat(?:ur)?)(?:day)?s?';

const MONTH_WORDS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];

export const MONTH_PATTERN =
  'january|february|march|april|may|june|july|august|september|october|november|december|jan|feb|mar|apr|jun|jul|aug|sept|sep|oct|nov|dec';

/** 1..12 for a month name or abbreviation, else undefined. */
export function monthIndex(word: string): number | undefined {
  const i = MONTH_WORDS.indexOf(word.toLowerCase().slice(0, 3));
  return i < 0 ? undefined : i + 1;
}

const NUMBER_WORDS: Record<string, number> = {
  a: 1,
  an: 1,
  one: 1,
  two: 2,
  three: 3,
  four: 4,
  five: 5,
  six: 6,
  seven: 7,
  eight: 8,
  nine: 9,
  ten: 10,
  eleven: 11,
  twelve: 12,
};
// Words must end at a word edge ("and" is not "an" + "d"); digits may touch a unit ("2h"). Use with the i flag.
export const NUMBER_PATTERN = '\\d{1,3}|(?:an?|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve)(?![a-z])';

export function numberValue(word: string): number {
  return NUMBER_WORDS[word.toLowerCase()] ?? Number.parseInt(word, 10);
}

const ORDINAL_WORDS: Record<string, number> = { first: 1, second: 2, third: 3, fourth: 4, fifth: 5, last: -1 };
export const ORDINAL_PATTERN = '\\d{1,2}(?:st|nd|rd|th)|first|second|third|fourth|fifth|last';

/** 1st → 1, 'third' → 3, 'last' → -1. */
export function ordinalValue(word: string): number {
  return ORDINAL_WORDS[word.toLowerCase()] ?? Number.parseInt(word, 10);
}

/** Default wall-clock times for parts of the day (one table for "tonight", "every morning", "friday evening"). */
export const PART_OF_DAY: Record<string, string> = {
  morning: '09:00',
  noon: '12:00',
  afternoon: '15:00',
  evening: '19:00',
  tonight: '20:00',
  night: '20:00',
  midnight: '00:00',
};

/** `#work` → 'work'; lower-cased, deduplicated, in order of appearance. */
export function extractLabels(work: string): { labels: string[]; work: string } {
  const labels: string[] = [];
  let out = work;
  for (const m of work.matchAll(/(^|\s)#([\p{L}_][\p{L}\p{N}_\-/.]*)/gu)) {
    const label = m[2]!.replace(/[.\-/]+$/, '').toLowerCase();
    if (!labels.includes(label)) labels.push(label);
    const start = m.index + m[1]!.length;
    out = blank(out, { start, end: start + 1 + m[2]!.length });
  }
  return { labels, work: out };
}

/** `p1`..`p4` (Todoist) or `!!1`..`!!4`; the first one wins, every one is removed. */
export function extractPriority(work: string): { priority: 1 | 2 | 3 | 4 | null; work: string } {
  let priority: 1 | 2 | 3 | 4 | null = null;
  let out = work;
  for (const m of work.matchAll(/(^|\s)(?:p|!!)([1-4])(?=$|[\s,.!?])/gi)) {
    priority ??= Number(m[2]) as 1 | 2 | 3 | 4;
    const start = m.index + m[1]!.length;
    out = blank(out, { start, end: start + m[0].length - m[1]!.length });
  }
  return { priority, work: out };
}
