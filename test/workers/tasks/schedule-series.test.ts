// The RRULE catalogue a to-do app needs, as series previews (upcoming) with exact dates.
import { describe, expect, it } from 'vitest';
import { type Due, upcoming } from '../../../src/tasks/schedule';

const day = (dueDate: string, timezone = 'Europe/Berlin'): Due => ({ dueDate, dueAt: null, timezone });
const dates = (due: Due, rrule: string, n: number) => upcoming(due, rrule, n).map((d) => d.dueDate);
const instants = (due: Due, rrule: string, n: number) => upcoming(due, rrule, n).map((d) => d.dueAt);

describe('upcoming: all-day series', () => {
  it.each([
    ['every day', '2026-01-10', 'FREQ=DAILY', ['2026-01-10', '2026-01-11', '2026-01-12']],
    [
      'weekdays across a weekend',
      '2026-01-08',
      'FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR',
      ['2026-01-08', '2026-01-09', '2026-01-12', '2026-01-13'],
    ],
    ['every other Monday', '2026-01-05', 'FREQ=WEEKLY;INTERVAL=2;BYDAY=MO', ['2026-01-05', '2026-01-19', '2026-02-02', '2026-02-16']],
    ['every 2 weeks from Sat Jan 10', '2026-01-10', 'FREQ=WEEKLY;INTERVAL=2', ['2026-01-10', '2026-01-24', '2026-02-07', '2026-02-21']],
    [
      'monthly on the 31st skips short months (RFC 5545)',
      '2026-01-31',
      'FREQ=MONTHLY;BYMONTHDAY=31',
      ['2026-01-31', '2026-03-31', '2026-05-31', '2026-07-31', '2026-08-31', '2026-10-31', '2026-12-31'],
    ],
    ['monthly from the 31st without BYMONTHDAY', '2026-01-31', 'FREQ=MONTHLY', ['2026-01-31', '2026-03-31', '2026-05-31']],
    ['last day of every month', '2026-01-31', 'FREQ=MONTHLY;BYMONTHDAY=-1', ['2026-01-31', '2026-02-28', '2026-03-31', '2026-04-30']],
    [
      'last Friday of the month',
      '2026-01-30',
      'FREQ=MONTHLY;BYDAY=-1FR',
      ['2026-01-30', '2026-02-27', '2026-03-27', '2026-04-24', '2026-05-29', '2026-06-26'],
    ],
    ['first Monday of the month', '2026-01-05', 'FREQ=MONTHLY;BYDAY=1MO', ['2026-01-05', '2026-02-02', '2026-03-02']],
    [
      'last workday (BYSETPOS)',
      '2026-01-30',
      'FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1',
      ['2026-01-30', '2026-02-27', '2026-03-31', '2026-04-30'],
    ],
    ['yearly on March 5', '2026-03-05', 'FREQ=YEARLY;BYMONTH=3;BYMONTHDAY=5', ['2026-03-05', '2027-03-05', '2028-03-05']],
    ['yearly from the due', '2026-03-05', 'FREQ=YEARLY', ['2026-03-05', '2027-03-05', '2028-03-05']],
    ['Jan 1 and Jul 1 (BYMONTH)', '2026-01-01', 'FREQ=YEARLY;BYMONTH=1,7;BYMONTHDAY=1', ['2026-01-01', '2026-07-01', '2027-01-01']],
    ['every 3 days', '2026-01-30', 'FREQ=DAILY;INTERVAL=3', ['2026-01-30', '2026-02-02', '2026-02-05']],
    ['due off-pattern: DTSTART still comes first', '2026-01-07', 'FREQ=WEEKLY;BYDAY=MO', ['2026-01-07', '2026-01-12', '2026-01-19']],
    ['COUNT ends the series (the due counts)', '2026-01-10', 'FREQ=DAILY;COUNT=3', ['2026-01-10', '2026-01-11', '2026-01-12']],
    ['UNTIL as a date is inclusive', '2026-01-10', 'FREQ=WEEKLY;UNTIL=20260131', ['2026-01-10', '2026-01-17', '2026-01-24', '2026-01-31']],
  ])('%s', (_name, start, rrule, expected) => {
    // Bounded rules are asked for more than they have; open ones for exactly the expected count.
    const ask = /COUNT|UNTIL/.test(rrule) ? 10 : expected.length;
    expect(dates(day(start), rrule, ask)).toEqual(expected);
  });

  it('previews exactly `count` items and keeps the zone', () => {
    expect(upcoming(day('2026-01-10'), 'FREQ=DAILY', 0)).toEqual([]);
    expect(upcoming(day('2026-01-10', 'Asia/Tokyo'), 'RRULE:FREQ=DAILY', 2)).toEqual([
      { dueDate: '2026-01-10', dueAt: null, timezone: 'Asia/Tokyo' },
      { dueDate: '2026-01-11', dueAt: null, timezone: 'Asia/Tokyo' },
    ]);
  });
});

describe('upcoming: timed series keep local time', () => {
  const at = (dueAt: string, timezone: string): Due => ({ dueDate: null, dueAt, timezone });

  it.each([
    // Fri 09:00 Berlin → Mon, Tue
    [
      'weekdays 09:00 Berlin',
      at('2026-01-09T08:00:00Z', 'Europe/Berlin'),
      'FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR',
      ['2026-01-09T08:00:00.000Z', '2026-01-12T08:00:00.000Z', '2026-01-13T08:00:00.000Z'],
    ],
    // a due given with an offset is normalised to Z with ms
    [
      'every other Monday 18:30 Tokyo',
      at('2026-01-05T18:30:00+09:00', 'Asia/Tokyo'),
      'FREQ=WEEKLY;INTERVAL=2',
      ['2026-01-05T09:30:00.000Z', '2026-01-19T09:30:00.000Z'],
    ],
    [
      'twice a day (BYHOUR)',
      at('2026-01-10T08:00:00Z', 'Europe/Berlin'),
      'FREQ=DAILY;BYHOUR=9,17;BYMINUTE=0',
      ['2026-01-10T08:00:00.000Z', '2026-01-10T16:00:00.000Z', '2026-01-11T08:00:00.000Z'],
    ],
    // UNTIL in UTC bounds instants: the 13:00Z occurrence on Mar 12 is the last
    [
      'UTC UNTIL',
      at('2026-03-10T13:00:00Z', 'America/New_York'),
      'FREQ=DAILY;UNTIL=20260312T130000Z',
      ['2026-03-10T13:00:00.000Z', '2026-03-11T13:00:00.000Z', '2026-03-12T13:00:00.000Z'],
    ],
  ])('%s', (_name, due, rrule, expected) => {
    const ask = /COUNT|UNTIL/.test(rrule) ? 10 : expected.length;
    expect(instants(due, rrule, ask)).toEqual(expected);
  });
});
