// The scheduling core's parsers and zone conversions, run in workerd (no native Temporal there).
import { describe, expect, it } from 'vitest';
import {
  instantToZoned,
  isValidTimezone,
  nextDue,
  normalizeRrule,
  parseDuration,
  ScheduleError,
  todayIn,
  zonedToInstant,
} from '../../../src/tasks/schedule';

/** The `field` of the ScheduleError that `fn` throws. */
function errorField(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(ScheduleError);
    expect((error as ScheduleError).message.length).toBeGreaterThan(10);
    return (error as ScheduleError).field;
  }
  throw new Error('expected a ScheduleError');
}

describe('isValidTimezone', () => {
  it.each([
    ['Europe/Berlin', true],
    ['America/New_York', true],
    ['America/Argentina/Buenos_Aires', true],
    ['UTC', true],
    ['Europe/Berlinn', false],
    ['Mars/Olympus', false],
    ['+01:00', false],
    ['', false],
  ])('%j → %s', (tz, valid) => {
    expect(isValidTimezone(tz)).toBe(valid);
  });
});

describe('zonedToInstant / instantToZoned / todayIn', () => {
  it.each([
    ['2026-01-10', '09:00', 'Europe/Berlin', '2026-01-10T08:00:00.000Z'],
    ['2026-07-10', '09:00', 'Europe/Berlin', '2026-07-10T07:00:00.000Z'],
    ['2026-01-10', '09:00:30', 'America/New_York', '2026-01-10T14:00:30.000Z'],
    ['2026-01-10', '00:00', 'UTC', '2026-01-10T00:00:00.000Z'],
    // spring-forward gaps move forward by the gap (Temporal 'compatible')
    ['2026-03-08', '02:30', 'America/New_York', '2026-03-08T07:30:00.000Z'],
    ['2026-03-29', '02:30', 'Europe/Berlin', '2026-03-29T01:30:00.000Z'],
    // fall-back ambiguity takes the earlier instant
    ['2026-11-01', '01:30', 'America/New_York', '2026-11-01T05:30:00.000Z'],
    ['2026-10-25', '02:30', 'Europe/Berlin', '2026-10-25T00:30:00.000Z'],
  ])('%s %s %s → %s', (date, time, tz, instant) => {
    expect(zonedToInstant(date, time, tz)).toBe(instant);
  });

  it.each([
    ['2026-03-08T07:30:00Z', 'America/New_York', { date: '2026-03-08', time: '03:30' }],
    ['2026-11-01T05:30:00Z', 'America/New_York', { date: '2026-11-01', time: '01:30' }],
    ['2026-11-01T06:30:00Z', 'America/New_York', { date: '2026-11-01', time: '01:30' }],
    ['2026-01-10T23:30:00Z', 'Europe/Berlin', { date: '2026-01-11', time: '00:30' }],
    ['2026-01-10T12:00:00+01:00', 'UTC', { date: '2026-01-10', time: '11:00' }],
  ])('%s in %s', (instant, tz, zoned) => {
    expect(instantToZoned(instant, tz)).toEqual(zoned);
  });

  it.each([
    ['Pacific/Auckland', '2026-01-10T12:00:00Z', '2026-01-11'],
    ['America/Los_Angeles', '2026-01-10T12:00:00Z', '2026-01-10'],
    ['America/Los_Angeles', '2026-01-10T07:59:59Z', '2026-01-09'],
    ['Europe/Berlin', '2026-12-31T23:00:00Z', '2027-01-01'],
  ])('todayIn(%s) at %s → %s', (tz, now, date) => {
    expect(todayIn(tz, new Date(now))).toBe(date);
  });

  it.each([
    [() => zonedToInstant('2026-01-10', '09:00', 'Mars/Olympus'), 'timezone'],
    [() => zonedToInstant('2026-02-30', '09:00', 'UTC'), 'date'],
    [() => zonedToInstant('2026-1-10', '09:00', 'UTC'), 'date'],
    [() => zonedToInstant('2026-01-10', '24:00', 'UTC'), 'time'],
    [() => zonedToInstant('2026-01-10', '9:00', 'UTC'), 'time'],
    [() => instantToZoned('2026-01-10 09:00', 'UTC'), 'instant'],
    [() => todayIn('Nowhere/City', new Date(0)), 'timezone'],
  ])('invalid input #%# → ScheduleError(%s)', (fn, field) => {
    expect(errorField(fn)).toBe(field);
  });
});

describe('parseDuration', () => {
  it.each([
    ['PT30M', 1_800_000],
    ['PT1H30M', 5_400_000],
    ['PT45S', 45_000],
    ['PT0.5S', 500],
    ['P1D', 86_400_000],
    ['P1DT2H', 93_600_000],
    ['P2W', 1_209_600_000],
    ['PT24H', 86_400_000],
    ['P1Y', null],
    ['P1M', null],
    ['P1W2D', null],
    ['PT0S', null],
    ['P0D', null],
    ['-PT5M', null],
    ['P', null],
    ['PT', null],
    ['P1DT', null],
    ['PT1M30H', null],
    ['30M', null],
    ['pt30m', null],
    ['', null],
  ])('%j → %s', (iso, ms) => {
    expect(parseDuration(iso)).toBe(ms);
  });
});

describe('normalizeRrule', () => {
  it.each([
    ['FREQ=DAILY', 'FREQ=DAILY'],
    ['RRULE:FREQ=DAILY', 'FREQ=DAILY'],
    ['RRULE:freq=weekly;byday=mo,we;interval=2', 'FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,WE'],
    ['BYMONTHDAY=31;FREQ=MONTHLY;INTERVAL=1', 'FREQ=MONTHLY;BYMONTHDAY=31'],
    ['FREQ=MONTHLY;BYDAY=+1MO', 'FREQ=MONTHLY;BYDAY=1MO'],
    ['FREQ=MONTHLY;BYDAY=-1FR', 'FREQ=MONTHLY;BYDAY=-1FR'],
    ['FREQ=MONTHLY;BYSETPOS=-1;BYDAY=MO,TU,WE,TH,FR', 'FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1'],
    ['FREQ=YEARLY;BYMONTHDAY=5;BYMONTH=3;COUNT=5', 'FREQ=YEARLY;COUNT=5;BYMONTH=3;BYMONTHDAY=5'],
    [' FREQ=DAILY;UNTIL=20261231T235959Z; ', 'FREQ=DAILY;UNTIL=20261231T235959Z'],
    ['FREQ=WEEKLY;WKST=SU;BYDAY=TU', 'FREQ=WEEKLY;BYDAY=TU;WKST=SU'],
    ['FREQ=DAILY;BYHOUR=9,17;BYMINUTE=0', 'FREQ=DAILY;BYHOUR=9,17;BYMINUTE=0'],
  ])('%j → %j', (input, canonical) => {
    expect(normalizeRrule(input)).toBe(canonical);
  });

  it.each([
    ['', /FREQ is required/],
    ['INTERVAL=2', /FREQ is required/],
    ['FREQ=FORTNIGHTLY', /FREQ must be one of/],
    ['FREQ=HOURLY', /not supported/],
    ['FREQ=DAILY;FOO=1', /Unknown RRULE part 'FOO'/],
    ['FREQ=DAILY;FREQ=WEEKLY', /given twice/],
    ['FREQ=DAILY;INTERVAL=0', /INTERVAL must be a whole number/],
    ['FREQ=DAILY;INTERVAL', /needs a value/],
    ['FREQ=WEEKLY;BYDAY=XX', /BYDAY values are weekdays/],
    ['FREQ=WEEKLY;BYDAY=1MO', /needs FREQ=MONTHLY or FREQ=YEARLY/],
    ['FREQ=MONTHLY;BYDAY=6MO', /at most 5/],
    ['FREQ=MONTHLY;BYMONTHDAY=32', /BYMONTHDAY values/],
    ['FREQ=MONTHLY;BYMONTHDAY=0', /BYMONTHDAY values/],
    ['FREQ=WEEKLY;BYMONTHDAY=1', /cannot be used with FREQ=WEEKLY/],
    ['FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30', /never occurs/],
    ['FREQ=MONTHLY;BYSETPOS=1', /BYSETPOS needs another BYxxx/],
    ['FREQ=DAILY;COUNT=2;UNTIL=20260101', /COUNT and UNTIL/],
    ['FREQ=DAILY;COUNT=1001', /COUNT must be a whole number from 1 to 1000/],
    ['FREQ=DAILY;UNTIL=2026-01-01', /UNTIL must be a date/],
    ['FREQ=DAILY;DTSTART=20260101', /DTSTART is not allowed/],
    ['DTSTART:20260101T090000Z\nRRULE:FREQ=DAILY', /single RRULE line/],
    ['FREQ=DAILY;RSCALE=HEBREW', /RFC 7529/],
  ])('%j is refused: %s', (input, message) => {
    expect(errorField(() => normalizeRrule(input))).toBe('recurrence');
    expect(() => normalizeRrule(input)).toThrow(message);
  });
});

describe('ScheduleError fields from nextDue', () => {
  const at = '2026-01-10T08:00:00Z';
  it.each([
    [{ dueDate: null, dueAt: at, timezone: 'Nope/Zone' }, 'FREQ=DAILY', at, 'timezone'],
    [{ dueDate: null, dueAt: at, timezone: 'UTC' }, 'FREQ=SOMETIMES', at, 'recurrence'],
    [{ dueDate: '2026-01-10', dueAt: at, timezone: 'UTC' }, 'FREQ=DAILY', at, 'dueAt'],
    [{ dueDate: null, dueAt: null, timezone: 'UTC' }, 'FREQ=DAILY', at, 'dueDate'],
    [{ dueDate: '2026-02-30', dueAt: null, timezone: 'UTC' }, 'FREQ=DAILY', at, 'dueDate'],
    [{ dueDate: null, dueAt: 'tomorrow', timezone: 'UTC' }, 'FREQ=DAILY', at, 'dueAt'],
    [{ dueDate: '2026-01-10', dueAt: null, timezone: 'UTC' }, 'FREQ=DAILY', 'yesterday', 'completedAt'],
    [{ dueDate: '2026-01-10', dueAt: null, timezone: 'UTC' }, 'FREQ=DAILY;BYHOUR=9', at, 'recurrence'],
    // valid text, but no Feb 30 ever follows a due on the 30th: refused quickly, not searched forever
    [{ dueDate: '2026-01-30', dueAt: null, timezone: 'UTC' }, 'FREQ=YEARLY;BYMONTH=2', at, 'recurrence'],
    // no month has a 6th Monday: the engine gives up at its search limit instead of hanging
    [{ dueDate: '2026-01-05', dueAt: null, timezone: 'UTC' }, 'FREQ=MONTHLY;BYDAY=MO;BYSETPOS=6', at, 'recurrence'],
  ])('#%# → %s', (due, rrule, completedAt, field) => {
    expect(errorField(() => nextDue(due, rrule, { from: 'due', completedAt }))).toBe(field);
  });
});
