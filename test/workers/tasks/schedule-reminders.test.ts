// reminderFireAt and validateReminders outside DST (DST cases: schedule-dst.test.ts).
import { describe, expect, it } from 'vitest';
import { ALL_DAY_REMINDER_TIME, type Due, reminderFireAt, ScheduleError, validateReminders } from '../../../src/tasks/schedule';

const tokyo = (dueDate: string | null, dueAt: string | null): Due => ({ dueDate, dueAt, timezone: 'Asia/Tokyo' });

describe('reminderFireAt', () => {
  it('counts all-day reminders back from 09:00 local', () => {
    expect(ALL_DAY_REMINDER_TIME).toBe('09:00');
  });

  it.each([
    ['timed, PT15M', tokyo(null, '2026-01-10T03:00:00Z'), { before: 'PT15M' }, '2026-01-10T02:45:00.000Z'],
    ['timed, P1W', tokyo(null, '2026-01-10T03:00:00Z'), { before: 'P1W' }, '2026-01-03T03:00:00.000Z'],
    ['timed, P1DT2H', tokyo(null, '2026-01-10T03:00:00Z'), { before: 'P1DT2H' }, '2026-01-09T01:00:00.000Z'],
    ['all-day, PT1H → 08:00 local', tokyo('2026-01-10', null), { before: 'PT1H' }, '2026-01-09T23:00:00.000Z'],
    ['all-day, P2D → 09:00 two days before', tokyo('2026-01-10', null), { before: 'P2D' }, '2026-01-08T00:00:00.000Z'],
    ['absolute, normalised to Z', tokyo(null, null), { at: '2026-01-10T09:00:00+09:00' }, '2026-01-10T00:00:00.000Z'],
    ['absolute, due irrelevant', tokyo('2026-05-01', null), { at: '2026-01-10T00:00:00Z' }, '2026-01-10T00:00:00.000Z'],
    ['before without a due', tokyo(null, null), { before: 'PT15M' }, null],
  ] as const)('%s', (_name, due, reminder, expected) => {
    expect(reminderFireAt(due, reminder)).toBe(expected);
  });

  it('null due: before → null, at → the instant', () => {
    expect(reminderFireAt(null, { before: 'PT15M' })).toBeNull();
    expect(reminderFireAt(null, { at: '2026-01-10T00:00:00.5Z' })).toBe('2026-01-10T00:00:00.500Z');
  });

  it.each([
    [tokyo(null, '2026-01-10T03:00:00Z'), { before: 'P1M' }, 'before'],
    [tokyo(null, '2026-01-10T03:00:00Z'), { before: '15 minutes' }, 'before'],
    [null, { at: 'tomorrow' }, 'at'],
    [{ dueDate: '2026-01-10', dueAt: null, timezone: 'Tokyo' }, { before: 'PT1H' }, 'timezone'],
  ] as const)('invalid #%# → ScheduleError(%s)', (due, reminder, field) => {
    expect(() => reminderFireAt(due, reminder)).toThrow(ScheduleError);
    expect(() => reminderFireAt(due, reminder)).toThrow(expect.objectContaining({ field }));
  });
});

describe('validateReminders', () => {
  it('accepts valid lists', () => {
    expect(() => validateReminders([{ before: 'PT30M' }, { at: '2026-01-10T00:00:00Z' }, { before: 'P1D' }])).not.toThrow();
  });

  it.each([
    [[{ before: 'PT30M' }, { before: '1h' }], 'reminders[1].before'],
    [[{ at: '2026-01-10' }], 'reminders[0].at'],
    [[{ before: 'PT0S' }], 'reminders[0].before'],
  ])('%j → %s', (reminders, field) => {
    expect(() => validateReminders(reminders)).toThrow(expect.objectContaining({ field }));
  });
});
