/**
 * RRULE text (RFC 5545 §3.3.10): validation with messages a user can act on, and one canonical
 * spelling. The recurrence engine (rrule-temporal) validates too, but its messages are terse
 * and it accepts unknown parts silently.
 */
import { parseDate, parseTime } from './civil';
import { ScheduleError } from './error';

export type Freq = 'DAILY' | 'WEEKLY' | 'MONTHLY' | 'YEARLY';

/** UNTIL as written: a date, a floating local date-time, or a UTC date-time. */
export type Until = { kind: 'date'; wall: number } | { kind: 'local'; wall: number } | { kind: 'utc'; instant: number };

export interface Rule {
  freq: Freq;
  count?: number;
  until?: Until;
  /** Canonical NAME=VALUE parts other than COUNT and UNTIL, FREQ first. */
  parts: string[];
  /** Canonical UNTIL value. */
  untilText?: string;
}

/** COUNT above this is refused: a to-do series is evaluated from its start (see series.ts). */
export const MAX_COUNT = 1000;

const FREQS = ['DAILY', 'WEEKLY', 'MONTHLY', 'YEARLY'];
const SUB_DAILY = ['HOURLY', 'MINUTELY', 'SECONDLY'];
const WEEKDAYS = ['MO', 'TU', 'WE', 'TH', 'FR', 'SA', 'SU'];
/** Canonical order of parts (FREQ first); also the list of supported parts. */
const ORDER = [
  'FREQ',
  'INTERVAL',
  'COUNT',
  'UNTIL',
  'BYMONTH',
  'BYWEEKNO',
  'BYYEARDAY',
  'BYMONTHDAY',
  'BYDAY',
  'BYHOUR',
  'BYMINUTE',
  'BYSECOND',
  'BYSETPOS',
  'WKST',
];
const MONTH_DAYS = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/** [min, max, zero allowed] of the numeric list parts. */
const RANGES: Record<string, [number, number, boolean]> = {
  BYMONTH: [1, 12, false],
  BYWEEKNO: [-53, 53, false],
  BYYEARDAY: [-366, 366, false],
  BYMONTHDAY: [-31, 31, false],
  BYHOUR: [0, 23, true],
  BYMINUTE: [0, 59, true],
  BYSECOND: [0, 59, true],
  BYSETPOS: [-366, 366, false],
};

const fail = (message: string): never => {
  throw new ScheduleError('recurrence', message);
};

function positiveInt(name: string, value: string, max: number): number {
  const n = /^\d{1,9}$/.test(value) ? Number(value) : 0;
  if (n < 1 || n > max) fail(`${name} must be a whole number from 1 to ${max}, got '${value}'`);
  return n;
}

function intList(name: string, value: string): number[] {
  const [min, max, zero] = RANGES[name]!;
  return value.split(',').map((v) => {
    const n = /^[+-]?\d{1,3}$/.test(v) ? Number(v) : NaN;
    if (!(n >= min && n <= max) || (n === 0 && !zero))
      fail(`${name} values must be ${zero ? '' : 'non-zero '}integers from ${min} to ${max}, got '${v}'`);
    return n;
  });
}

function byDay(value: string, freq: Freq, hasWeekNo: boolean): string {
  return value
    .split(',')
    .map((v) => {
      const m = /^([+-]?\d{1,2})?([A-Z]{2})$/.exec(v);
      if (!m || !WEEKDAYS.includes(m[2]!))
        fail(`BYDAY values are weekdays (MO, TU, WE, TH, FR, SA, SU) with an optional position such as 1MO or -1FR, got '${v}'`);
      if (m![1] === undefined) return m![2]!;
      const n = Number(m![1]);
      if (n === 0 || Math.abs(n) > 53) fail(`A BYDAY position must be 1 to 53 or -1 to -53, got '${v}'`);
      if (freq !== 'MONTHLY' && freq !== 'YEARLY') fail(`A BYDAY position such as '${v}' needs FREQ=MONTHLY or FREQ=YEARLY`);
      if (freq === 'YEARLY' && hasWeekNo) fail(`A BYDAY position such as '${v}' cannot be combined with BYWEEKNO`);
      if (freq === 'MONTHLY' && Math.abs(n) > 5) fail(`A month has at most 5 of each weekday: '${v}' never occurs`);
      return `${n}${m![2]}`;
    })
    .join(',');
}

function until(value: string): Until {
  const m = /^(\d{4})(\d{2})(\d{2})(?:T(\d{2})(\d{2})(\d{2})(Z)?)?$/.exec(value);
  if (!m) return fail(`UNTIL must be a date like 20261231 or a UTC date-time like 20261231T235959Z, got '${value}'`);
  const wall = parseDate(`${m[1]}-${m[2]}-${m[3]}`, 'recurrence');
  if (m[4] === undefined) return { kind: 'date', wall };
  const local = wall + parseTime(`${m[4]}:${m[5]}:${m[6]}`, 'recurrence');
  return m[7] ? { kind: 'utc', instant: local } : { kind: 'local', wall: local };
}

/** Days in the longest of `months` (1-12; any month when empty), February counted as 29. */
function longestMonth(months: number[]): number {
  return months.length ? Math.max(...months.map((m) => MONTH_DAYS[m - 1]!)) : 31;
}

/** Month/day combinations that exist in no year would make the engine search forever. */
function checkReachable(values: Map<string, string>): void {
  const days = values.get('BYMONTHDAY');
  if (!days) return;
  const longest = longestMonth(values.has('BYMONTH') ? intList('BYMONTH', values.get('BYMONTH')!) : []);
  if (intList('BYMONTHDAY', days).every((d) => Math.abs(d) > longest)) {
    fail(`BYMONTHDAY=${days} never occurs in BYMONTH=${values.get('BYMONTH')}: the longest of those months has ${longest} days`);
  }
}

/**
 * A MONTHLY/YEARLY rule without a day part takes DTSTART's day of month (RFC 5545 §3.3.10);
 * refuse the ones that can never reach it, e.g. FREQ=YEARLY;BYMONTH=2 from a due on the 30th.
 */
export function checkInheritedDay(rule: Rule, dayOfMonth: number): void {
  if (rule.freq !== 'MONTHLY' && rule.freq !== 'YEARLY') return;
  if (rule.parts.some((p) => /^BY(MONTHDAY|DAY|YEARDAY|WEEKNO)=/.test(p))) return;
  const byMonth = rule.parts.find((p) => p.startsWith('BYMONTH='));
  if (!byMonth) return;
  const longest = longestMonth(byMonth.slice(8).split(',').map(Number));
  if (dayOfMonth > longest)
    fail(`${byMonth} never has a day ${dayOfMonth} (the due's day of month): add BYMONTHDAY, e.g. BYMONTHDAY=-1 for the last day`);
}

/** Parses and validates an RRULE ('RRULE:' prefix optional); throws ScheduleError('recurrence'). */
export function parseRrule(input: string): Rule {
  let text = input.trim();
  if (/[\r\n]/.test(text))
    fail('Give a single RRULE line; DTSTART, RDATE and EXDATE lines are not accepted (the series starts at the due)');
  if (/^RRULE:/i.test(text)) text = text.slice(6);
  const values = new Map<string, string>();
  for (const part of text.split(';')) {
    if (part.trim() === '') continue;
    const eq = part.indexOf('=');
    const name = (eq < 0 ? part : part.slice(0, eq)).trim().toUpperCase();
    const value = part
      .slice(eq + 1)
      .trim()
      .toUpperCase();
    if (name.startsWith('DTSTART')) fail("DTSTART is not allowed in the rule: the series starts at the task's due date");
    if (name === 'RSCALE' || name === 'SKIP') fail(`${name} (RFC 7529) is not supported`);
    if (!ORDER.includes(name)) fail(`Unknown RRULE part '${name}'. Supported: ${ORDER.join(', ')}`);
    if (eq < 0 || value === '') fail(`${name} needs a value, as in ${name}=…`);
    if (values.has(name)) fail(`${name} is given twice`);
    values.set(name, value);
  }
  const freqText = values.get('FREQ');
  if (!freqText) return fail('FREQ is required, e.g. FREQ=DAILY, FREQ=WEEKLY;BYDAY=MO or FREQ=MONTHLY;BYMONTHDAY=1');
  if (SUB_DAILY.includes(freqText)) fail(`FREQ=${freqText} is not supported: use FREQ=DAILY with BYHOUR/BYMINUTE for several times a day`);
  if (!FREQS.includes(freqText)) fail(`FREQ must be one of ${FREQS.join(', ')}, got '${freqText}'`);
  const freq = freqText as Freq;
  if (values.has('COUNT') && values.has('UNTIL')) fail('COUNT and UNTIL cannot both be given (RFC 5545)');

  const rule: Rule = { freq, parts: [] };
  for (const name of ORDER) {
    const value = values.get(name);
    if (value === undefined) continue;
    if (name === 'FREQ') rule.parts.push(`FREQ=${freq}`);
    else if (name === 'INTERVAL') {
      const n = positiveInt(name, value, 10_000);
      if (n !== 1) rule.parts.push(`INTERVAL=${n}`);
    } else if (name === 'COUNT') rule.count = positiveInt(name, value, MAX_COUNT);
    else if (name === 'UNTIL') [rule.until, rule.untilText] = [until(value), value];
    else if (name === 'BYDAY') rule.parts.push(`BYDAY=${byDay(value, freq, values.has('BYWEEKNO'))}`);
    else if (name === 'WKST') {
      if (!WEEKDAYS.includes(value)) fail(`WKST must be a weekday (MO … SU), got '${value}'`);
      if (value !== 'MO') rule.parts.push(`WKST=${value}`);
    } else rule.parts.push(`${name}=${intList(name, value).join(',')}`);
  }
  if (values.has('BYWEEKNO') && freq !== 'YEARLY') fail('BYWEEKNO needs FREQ=YEARLY');
  if (values.has('BYYEARDAY') && freq !== 'YEARLY') fail('BYYEARDAY needs FREQ=YEARLY');
  if (values.has('BYMONTHDAY') && freq === 'WEEKLY') fail('BYMONTHDAY cannot be used with FREQ=WEEKLY');
  if (values.has('BYSETPOS') && ![...values.keys()].some((k) => k.startsWith('BY') && k !== 'BYSETPOS')) {
    fail('BYSETPOS needs another BYxxx part to select from, e.g. FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1');
  }
  checkReachable(values);
  return rule;
}

/** The canonical text of a parsed rule, with COUNT replaced when `count` is given. */
export function formatRrule(rule: Rule, count: number | undefined = rule.count): string {
  const [freq, ...rest] = rule.parts;
  const head = [freq!, ...rest.filter((p) => p.startsWith('INTERVAL='))];
  const tail = rest.filter((p) => !p.startsWith('INTERVAL='));
  const bounds = [count === undefined ? null : `COUNT=${count}`, rule.untilText === undefined ? null : `UNTIL=${rule.untilText}`];
  return [...head, ...bounds.filter((b) => b !== null), ...tail].join(';');
}

/** Validates an RRULE ('RRULE:FREQ=…' or 'FREQ=…') and returns its canonical 'FREQ=…;…' form. */
export function normalizeRrule(input: string): string {
  return formatRrule(parseRrule(input));
}
