// nextDue / advanceRecurrence: Todoist `every` (from: 'due') and `every!` (from: 'completion').
import { describe, expect, it } from 'vitest';
import { advanceRecurrence, type Due, nextDue } from '../../../src/tasks/schedule';

const day = (dueDate: string, timezone = 'Europe/Berlin'): Due => ({ dueDate, dueAt: null, timezone });
const at = (dueAt: string, timezone = 'Europe/Berlin'): Due => ({ dueDate: null, dueAt, timezone });

describe("nextDue from 'due' (every)", () => {
  it.each([
    ['daily, completed on the day', day('2026-01-10'), 'FREQ=DAILY', '2026-01-10T15:00:00Z', day('2026-01-11')],
    ['weekdays: Friday → Monday', day('2026-01-09'), 'FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR', '2026-01-09T17:00:00Z', day('2026-01-12')],
    ['every other Monday', day('2026-01-05'), 'FREQ=WEEKLY;INTERVAL=2;BYDAY=MO', '2026-01-05T10:00:00Z', day('2026-01-19')],
    ['monthly on the 31st skips February', day('2026-01-31'), 'FREQ=MONTHLY;BYMONTHDAY=31', '2026-01-31T10:00:00Z', day('2026-03-31')],
    ['last Friday of the month', day('2026-01-30'), 'FREQ=MONTHLY;BYDAY=-1FR', '2026-01-30T10:00:00Z', day('2026-02-27')],
    ['yearly March 5', day('2026-03-05'), 'FREQ=YEARLY;BYMONTH=3;BYMONTHDAY=5', '2026-03-05T10:00:00Z', day('2027-03-05')],
    ['every 2 weeks from Jan 10', day('2026-01-10'), 'FREQ=WEEKLY;INTERVAL=2', '2026-01-10T10:00:00Z', day('2026-01-24')],
    ['completed early: one step after the due', day('2026-01-12'), 'FREQ=WEEKLY;BYDAY=MO', '2026-01-08T10:00:00Z', day('2026-01-19')],
    [
      'timed weekdays keep 09:00 local',
      at('2026-01-09T08:00:00Z'),
      'FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR',
      '2026-01-09T08:30:00Z',
      at('2026-01-12T08:00:00.000Z'),
    ],
  ])('%s', (_name, due, rrule, completedAt, expected) => {
    expect(nextDue(due, rrule, { from: 'due', completedAt })).toEqual(expected);
  });
});

describe('overdue skip', () => {
  it.each([
    // all-day: the first date after the completion's local date
    ['daily, 5 days late', day('2026-01-05'), 'FREQ=DAILY', '2026-01-10T10:00:00Z', day('2026-01-11')],
    ['weekly Monday, done on a later Tuesday', day('2026-01-05'), 'FREQ=WEEKLY;BYDAY=MO', '2026-01-20T10:00:00Z', day('2026-01-26')],
    ['weekly Monday, done on a later Monday', day('2026-01-05'), 'FREQ=WEEKLY;BYDAY=MO', '2026-01-19T10:00:00Z', day('2026-01-26')],
    // 23:30Z on Jan 10 is already Jan 11 in Berlin
    ['completion date is local', day('2026-01-05'), 'FREQ=DAILY', '2026-01-10T23:30:00Z', day('2026-01-12')],
    ['monthly 31st, done Feb 1', day('2026-01-31'), 'FREQ=MONTHLY;BYMONTHDAY=31', '2026-02-01T10:00:00Z', day('2026-03-31')],
    // timed: the first occurrence after the completion instant, same time of day
    ['timed daily, done after 09:00', at('2026-01-05T08:00:00Z'), 'FREQ=DAILY', '2026-01-10T10:00:00Z', at('2026-01-11T08:00:00.000Z')],
    ['timed daily, done before 09:00', at('2026-01-05T08:00:00Z'), 'FREQ=DAILY', '2026-01-10T07:00:00Z', at('2026-01-10T08:00:00.000Z')],
    ['timed daily, done at 09:00 sharp', at('2026-01-05T08:00:00Z'), 'FREQ=DAILY', '2026-01-10T08:00:00Z', at('2026-01-11T08:00:00.000Z')],
    [
      'timed weekly over a DST change',
      at('2026-03-02T14:00:00Z', 'America/New_York'),
      'FREQ=WEEKLY',
      '2026-03-20T12:00:00Z',
      at('2026-03-23T13:00:00.000Z', 'America/New_York'),
    ],
  ])('%s', (_name, due, rrule, completedAt, expected) => {
    expect(nextDue(due, rrule, { from: 'due', completedAt })).toEqual(expected);
  });
});

describe("nextDue from 'completion' (every!)", () => {
  it.each([
    ['every 3 days, done on the 10th → the 13th', day('2026-01-05'), 'FREQ=DAILY;INTERVAL=3', '2026-01-10T15:00:00Z', day('2026-01-13')],
    ['done early counts from the completion', day('2026-01-20'), 'FREQ=DAILY;INTERVAL=3', '2026-01-10T15:00:00Z', day('2026-01-13')],
    ['completion date is local (Jan 11 in Berlin)', day('2026-01-05'), 'FREQ=DAILY;INTERVAL=3', '2026-01-10T23:30:00Z', day('2026-01-14')],
    [
      'completion date is local (Jan 10 in New York)',
      day('2026-01-05', 'America/New_York'),
      'FREQ=DAILY;INTERVAL=3',
      '2026-01-11T03:00:00Z',
      day('2026-01-13', 'America/New_York'),
    ],
    ['weekly Monday, done on a Wednesday', day('2026-01-05'), 'FREQ=WEEKLY;BYDAY=MO', '2026-01-14T10:00:00Z', day('2026-01-19')],
    ['weekly Monday, done on a Monday', day('2026-01-05'), 'FREQ=WEEKLY;BYDAY=MO', '2026-01-12T10:00:00Z', day('2026-01-19')],
    ['every 2 weeks', day('2026-01-10'), 'FREQ=WEEKLY;INTERVAL=2', '2026-01-15T10:00:00Z', day('2026-01-29')],
    ['monthly', day('2026-01-10'), 'FREQ=MONTHLY', '2026-01-31T10:00:00Z', day('2026-03-31')],
    [
      'timed keeps the due time of day',
      at('2026-01-05T08:00:00Z'),
      'FREQ=DAILY;INTERVAL=3',
      '2026-01-10T20:00:00Z',
      at('2026-01-13T08:00:00.000Z'),
    ],
    [
      'timed across spring forward (09:00 New York)',
      at('2026-03-01T14:00:00Z', 'America/New_York'),
      'FREQ=DAILY',
      '2026-03-07T20:00:00Z',
      at('2026-03-08T13:00:00.000Z', 'America/New_York'),
    ],
  ])('%s', (_name, due, rrule, completedAt, expected) => {
    expect(nextDue(due, rrule, { from: 'completion', completedAt })).toEqual(expected);
  });
});

describe('the end of a series', () => {
  it.each([
    ['COUNT=1: the current due is the last', day('2026-01-10'), 'FREQ=DAILY;COUNT=1', 'due', '2026-01-10T10:00:00Z'],
    ['COUNT=3, overdue past all three', day('2026-01-10'), 'FREQ=DAILY;COUNT=3', 'due', '2026-01-20T10:00:00Z'],
    ['UNTIL reached', day('2026-01-31'), 'FREQ=WEEKLY;UNTIL=20260131', 'due', '2026-01-31T10:00:00Z'],
    [
      'UTC UNTIL reached (timed)',
      at('2026-03-12T13:00:00Z', 'America/New_York'),
      'FREQ=DAILY;UNTIL=20260312T130000Z',
      'due',
      '2026-03-12T14:00:00Z',
    ],
    ['COUNT=1 from completion', day('2026-01-10'), 'FREQ=DAILY;COUNT=1', 'completion', '2026-01-10T10:00:00Z'],
    [
      'UNTIL before the completion-based next',
      day('2026-01-10'),
      'FREQ=DAILY;INTERVAL=3;UNTIL=20260115',
      'completion',
      '2026-01-14T10:00:00Z',
    ],
  ] as const)('%s → null', (_name, due, rrule, from, completedAt) => {
    expect(nextDue(due, rrule, { from, completedAt })).toBeNull();
  });

  it('advanceRecurrence counts COUNT down so the series ends after COUNT completions', () => {
    const steps: Array<string | null> = [];
    let state: { due: Due; rrule: string } | null = { due: day('2026-01-10'), rrule: 'RRULE:FREQ=DAILY;COUNT=3' };
    while (state) {
      state = advanceRecurrence(state.due, state.rrule, { from: 'due', completedAt: `${state.due.dueDate}T10:00:00Z` });
      steps.push(state && `${state.due.dueDate} ${state.rrule}`);
    }
    expect(steps).toEqual(['2026-01-11 FREQ=DAILY;COUNT=2', '2026-01-12 FREQ=DAILY;COUNT=1', null]);
  });

  it.each([
    // skipped occurrences are used up too: Jan 10, 11 (skipped), 12 → 3 of 5 left
    [
      'overdue skip uses up skipped occurrences',
      day('2026-01-10'),
      'FREQ=DAILY;COUNT=5',
      'due',
      '2026-01-11T10:00:00Z',
      { due: day('2026-01-12'), rrule: 'FREQ=DAILY;COUNT=3' },
    ],
    [
      'completion-based uses one',
      day('2026-01-10'),
      'FREQ=DAILY;INTERVAL=3;COUNT=5',
      'completion',
      '2026-01-20T10:00:00Z',
      { due: day('2026-01-23'), rrule: 'FREQ=DAILY;INTERVAL=3;COUNT=4' },
    ],
    [
      'without COUNT the rule comes back canonical',
      day('2026-01-05'),
      'byday=mo;freq=weekly',
      'due',
      '2026-01-05T10:00:00Z',
      { due: day('2026-01-12'), rrule: 'FREQ=WEEKLY;BYDAY=MO' },
    ],
  ] as const)('%s', (_name, due, rrule, from, completedAt, expected) => {
    expect(advanceRecurrence(due, rrule, { from, completedAt })).toEqual(expected);
  });
});
