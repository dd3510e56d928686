// DST in two zones: America/New_York (2026-03-08 spring forward, 2026-11-01 fall back) and
// Europe/Berlin (2026-03-29, 2026-10-25). Daily 09:00 series stay at 09:00 local; reminders
// count days on the calendar and hours exactly.
import { describe, expect, it } from 'vitest';
import { type Due, nextDue, reminderFireAt, upcoming } from '../../../src/tasks/schedule';

const at = (dueAt: string, timezone: string): Due => ({ dueDate: null, dueAt, timezone });
const day = (dueDate: string, timezone: string): Due => ({ dueDate, dueAt: null, timezone });
const instants = (due: Due, rrule: string, n: number) => upcoming(due, rrule, n).map((d) => d.dueAt);

describe('daily 09:00 across DST', () => {
  it.each([
    [
      'New York, spring forward',
      at('2026-03-07T14:00:00Z', 'America/New_York'),
      ['2026-03-07T14:00:00.000Z', '2026-03-08T13:00:00.000Z', '2026-03-09T13:00:00.000Z'],
    ],
    [
      'New York, fall back',
      at('2026-10-31T13:00:00Z', 'America/New_York'),
      ['2026-10-31T13:00:00.000Z', '2026-11-01T14:00:00.000Z', '2026-11-02T14:00:00.000Z'],
    ],
    [
      'Berlin, spring forward',
      at('2026-03-28T08:00:00Z', 'Europe/Berlin'),
      ['2026-03-28T08:00:00.000Z', '2026-03-29T07:00:00.000Z', '2026-03-30T07:00:00.000Z'],
    ],
    [
      'Berlin, fall back',
      at('2026-10-24T07:00:00Z', 'Europe/Berlin'),
      ['2026-10-24T07:00:00.000Z', '2026-10-25T08:00:00.000Z', '2026-10-26T08:00:00.000Z'],
    ],
  ])('%s: series', (_name, due, expected) => {
    expect(instants(due, 'FREQ=DAILY', 3)).toEqual(expected);
  });

  it.each([
    ['New York, spring forward', '2026-03-07T14:00:00Z', 'America/New_York', '2026-03-08T13:00:00.000Z'],
    ['New York, fall back', '2026-10-31T13:00:00Z', 'America/New_York', '2026-11-01T14:00:00.000Z'],
    ['Berlin, spring forward', '2026-03-28T08:00:00Z', 'Europe/Berlin', '2026-03-29T07:00:00.000Z'],
    ['Berlin, fall back', '2026-10-24T07:00:00Z', 'Europe/Berlin', '2026-10-25T08:00:00.000Z'],
  ])('%s: nextDue when completed an hour after the due', (_name, dueAt, tz, expected) => {
    const completedAt = new Date(Date.parse(dueAt) + 3_600_000).toISOString();
    expect(nextDue(at(dueAt, tz), 'FREQ=DAILY', { from: 'due', completedAt })).toEqual(at(expected, tz));
  });
});

describe('wall times that do not exist or exist twice', () => {
  it('a daily 02:30 series moves to 03:30 on the spring-forward day only', () => {
    expect(instants(at('2026-03-07T07:30:00Z', 'America/New_York'), 'FREQ=DAILY', 4)).toEqual([
      '2026-03-07T07:30:00.000Z', // 02:30 EST
      '2026-03-08T07:30:00.000Z', // 02:30 does not exist → 03:30 EDT
      '2026-03-09T06:30:00.000Z', // 02:30 EDT
      '2026-03-10T06:30:00.000Z',
    ]);
    expect(instants(at('2026-03-28T01:30:00Z', 'Europe/Berlin'), 'FREQ=DAILY', 3)).toEqual([
      '2026-03-28T01:30:00.000Z', // 02:30 CET
      '2026-03-29T01:30:00.000Z', // → 03:30 CEST
      '2026-03-30T00:30:00.000Z', // 02:30 CEST
    ]);
  });

  it.each([
    // completing the day before: the gap day's 02:30 becomes 03:30
    ['due the day before', '2026-03-07T07:30:00Z', 'FREQ=DAILY', '2026-03-08T07:30:00.000Z'],
    // the stored instant is 03:30 local, so that is the series' time from here (see next-due.ts)
    ['due on the gap day, time from the due', '2026-03-08T07:30:00Z', 'FREQ=DAILY', '2026-03-09T07:30:00.000Z'],
    // BYHOUR/BYMINUTE pin 02:30
    ['due on the gap day, time pinned by the rule', '2026-03-08T07:30:00Z', 'FREQ=DAILY;BYHOUR=2;BYMINUTE=30', '2026-03-09T06:30:00.000Z'],
  ])('nextDue of a 02:30 New York task, %s', (_name, dueAt, rrule, expected) => {
    const due = at(dueAt, 'America/New_York');
    expect(nextDue(due, rrule, { from: 'due', completedAt: dueAt })).toEqual(at(expected, 'America/New_York'));
  });

  it('a daily 01:30 series takes the earlier 01:30 on the fall-back day', () => {
    expect(instants(at('2026-10-31T05:30:00Z', 'America/New_York'), 'FREQ=DAILY', 3)).toEqual([
      '2026-10-31T05:30:00.000Z', // 01:30 EDT
      '2026-11-01T05:30:00.000Z', // 01:30 EDT (the first of two)
      '2026-11-02T06:30:00.000Z', // 01:30 EST
    ]);
  });

  it('two rule times that meet in one instant on the gap day yield one due', () => {
    expect(instants(at('2026-03-07T07:00:00Z', 'America/New_York'), 'FREQ=DAILY;BYHOUR=2,3;BYMINUTE=0', 5)).toEqual([
      '2026-03-07T07:00:00.000Z', // 02:00 EST
      '2026-03-07T08:00:00.000Z', // 03:00 EST
      '2026-03-08T07:00:00.000Z', // 02:00 → 03:00 EDT, and 03:00 EDT is the same instant
      '2026-03-09T06:00:00.000Z', // 02:00 EDT
      '2026-03-09T07:00:00.000Z', // 03:00 EDT
    ]);
  });
});

describe('reminders across DST', () => {
  it.each([
    // timed dues at 09:00 local on the change day
    ['NY spring, PT30M', at('2026-03-08T13:00:00Z', 'America/New_York'), 'PT30M', '2026-03-08T12:30:00.000Z'],
    ['NY spring, P1D = 09:00 the day before', at('2026-03-08T13:00:00Z', 'America/New_York'), 'P1D', '2026-03-07T14:00:00.000Z'],
    ['NY spring, PT24H is exact', at('2026-03-08T13:00:00Z', 'America/New_York'), 'PT24H', '2026-03-07T13:00:00.000Z'],
    ['NY fall, PT30M', at('2026-11-01T14:00:00Z', 'America/New_York'), 'PT30M', '2026-11-01T13:30:00.000Z'],
    ['NY fall, P1D', at('2026-11-01T14:00:00Z', 'America/New_York'), 'P1D', '2026-10-31T13:00:00.000Z'],
    ['Berlin spring, PT30M', at('2026-03-29T07:00:00Z', 'Europe/Berlin'), 'PT30M', '2026-03-29T06:30:00.000Z'],
    ['Berlin spring, P1D', at('2026-03-29T07:00:00Z', 'Europe/Berlin'), 'P1D', '2026-03-28T08:00:00.000Z'],
    ['Berlin fall, PT30M', at('2026-10-25T08:00:00Z', 'Europe/Berlin'), 'PT30M', '2026-10-25T07:30:00.000Z'],
    ['Berlin fall, P1D', at('2026-10-25T08:00:00Z', 'Europe/Berlin'), 'P1D', '2026-10-24T07:00:00.000Z'],
    // PT3H before 03:30 EDT on the gap day crosses the gap: exact hours
    ['NY spring, PT3H over the gap', at('2026-03-08T07:30:00Z', 'America/New_York'), 'PT3H', '2026-03-08T04:30:00.000Z'],
    // P1D before 02:30 on Mar 9 lands in the gap on Mar 8 → 03:30 EDT
    ['NY spring, P1D into the gap', at('2026-03-09T06:30:00Z', 'America/New_York'), 'P1D', '2026-03-08T07:30:00.000Z'],
    // all-day dues count back from 09:00 local
    ['NY spring all-day, PT30M', day('2026-03-08', 'America/New_York'), 'PT30M', '2026-03-08T12:30:00.000Z'],
    ['NY spring all-day, P1D', day('2026-03-08', 'America/New_York'), 'P1D', '2026-03-07T14:00:00.000Z'],
    ['NY fall all-day, P1D', day('2026-11-01', 'America/New_York'), 'P1D', '2026-10-31T13:00:00.000Z'],
    ['Berlin spring all-day, PT30M', day('2026-03-29', 'Europe/Berlin'), 'PT30M', '2026-03-29T06:30:00.000Z'],
    ['Berlin spring all-day, P1D', day('2026-03-29', 'Europe/Berlin'), 'P1D', '2026-03-28T08:00:00.000Z'],
    ['Berlin fall all-day, PT30M', day('2026-10-25', 'Europe/Berlin'), 'PT30M', '2026-10-25T07:30:00.000Z'],
    ['Berlin fall all-day, P1D', day('2026-10-25', 'Europe/Berlin'), 'P1D', '2026-10-24T07:00:00.000Z'],
  ])('%s', (_name, due, before, expected) => {
    expect(reminderFireAt(due, { before })).toBe(expected);
  });
});
