// Unit tests for the grammar pieces of the quick-add parser: RRULE text, occurrences, durations, labels, priority.
import { describe, expect, it } from 'vitest';
import { localClock } from '../../../src/tasks/nlp/clock';
import { extractRecurrence } from '../../../src/tasks/nlp/recurrence';
import { extractReminders, isoDuration } from '../../../src/tasks/nlp/reminders';
import { firstOccurrence, matches, toRRule } from '../../../src/tasks/nlp/rrule';
import { extractLabels, extractPriority } from '../../../src/tasks/nlp/tokens';

const clock = localClock(new Date('2026-11-18T15:00:00Z'), 'America/New_York');

describe('rrule', () => {
  it('writes parts in a fixed order and orders weekdays from Monday', () => {
    expect(toRRule({ freq: 'WEEKLY', interval: 2, byDay: [{ weekday: 0 }, { weekday: 4 }, { weekday: 1 }], from: 'due' })).toBe(
      'FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,TH,SU',
    );
    expect(toRRule({ freq: 'YEARLY', interval: 1, byMonth: [3], byMonthDay: [5], from: 'due' })).toBe('FREQ=YEARLY;BYMONTH=3;BYMONTHDAY=5');
    expect(toRRule({ freq: 'MONTHLY', interval: 1, byDay: [{ weekday: 5, nth: -1 }], from: 'due' })).toBe('FREQ=MONTHLY;BYDAY=-1FR');
  });

  it('matches nth and last weekdays of a month', () => {
    const secondTuesday = { freq: 'MONTHLY' as const, interval: 1, byDay: [{ weekday: 2, nth: 2 }], from: 'due' as const };
    expect(matches(secondTuesday, '2026-12-08')).toBe(true);
    expect(matches(secondTuesday, '2026-12-15')).toBe(false);
    const lastDay = { freq: 'MONTHLY' as const, interval: 1, byMonthDay: [-1], from: 'due' as const };
    expect(matches(lastDay, '2028-02-29')).toBe(true);
    expect(matches(lastDay, '2026-02-28')).toBe(true);
    expect(matches(lastDay, '2026-03-30')).toBe(false);
  });

  it('never returns a time already past today', () => {
    const daily = { freq: 'DAILY' as const, interval: 1, from: 'due' as const };
    expect(firstOccurrence(daily, clock.date, '09:59', clock)).toBe('2026-11-19');
    expect(firstOccurrence(daily, clock.date, '10:00', clock)).toBe('2026-11-18');
    expect(firstOccurrence(daily, clock.date, null, clock)).toBe('2026-11-18');
  });
});

describe('recurrence grammar', () => {
  const rrule = (text: string) => {
    const r = extractRecurrence(text);
    return r && { rrule: toRRule(r.rule), from: r.rule.from, rest: r.work.trim() };
  };

  it.each([
    ['every tue and thu', 'FREQ=WEEKLY;BYDAY=TU,TH'],
    ['every mon, wed & fri', 'FREQ=WEEKLY;BYDAY=MO,WE,FR'],
    ['every first monday of the month', 'FREQ=MONTHLY;BYDAY=1MO'],
    ['every month on the 15th', 'FREQ=MONTHLY;BYMONTHDAY=15'],
    ['every month on the last friday', 'FREQ=MONTHLY;BYDAY=-1FR'],
    ['every other week on friday', 'FREQ=WEEKLY;INTERVAL=2;BYDAY=FR'],
    ['every two weeks', 'FREQ=WEEKLY;INTERVAL=2'],
    ['every second day', 'FREQ=DAILY;INTERVAL=2'],
    ['every 5th of march', 'FREQ=YEARLY;BYMONTH=3;BYMONTHDAY=5'],
    ['every workday', 'FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR'],
    ['fortnightly', 'FREQ=WEEKLY;INTERVAL=2'],
    ['annually', 'FREQ=YEARLY'],
    ['each friday', 'FREQ=WEEKLY;BYDAY=FR'],
    ['every mondays', 'FREQ=WEEKLY;BYDAY=MO'],
  ])('%s → %s', (text, expected) => {
    expect(rrule(text)).toEqual({ rrule: expected, from: 'due', rest: '' });
  });

  it('knows every spelling of "from completion"', () => {
    for (const text of [
      'every! 2 weeks',
      'every 2 weeks after completion',
      'every 2 weeks after it is done',
      'every 2 weeks from completion',
      'every 2 weeks at 9am after completed',
    ]) {
      expect(rrule(text)?.from).toBe('completion');
    }
  });

  it('leaves an "every" it cannot read in place', () => {
    expect(extractRecurrence('read every chapter')).toBeNull();
    expect(extractRecurrence('every blue moon')).toBeNull();
  });
});

describe('reminders', () => {
  it.each([
    ['30 min', 'PT30M'],
    ['2h', 'PT2H'],
    ['1 day', 'P1D'],
    ['1 week', 'P1W'],
    ['1 week 2 days', 'P9D'],
    ['1 hour and 30 minutes', 'PT1H30M'],
    ['half an hour', 'PT30M'],
    ['an hour', 'PT1H'],
    ['two days', 'P2D'],
  ])('%s → %s', (phrase, iso) => {
    expect(isoDuration(phrase)).toBe(iso);
  });

  it('ignores "remind me to …" (that is the remind intent)', () => {
    expect(extractReminders('remind me to call mom', clock).reminders).toEqual([]);
  });

  it('keeps an at-reminder undated until the due date is known', () => {
    expect(extractReminders('x remind me at 8am', clock).reminders).toEqual([{ at: { date: null, time: '08:00' } }]);
  });
});

describe('labels and priority', () => {
  it('lower-cases and dedupes labels, keeps #123 and C# in the text', () => {
    const r = extractLabels('fix #Work bug #123 in C# #work #home-office');
    expect(r.labels).toEqual(['work', 'home-office']);
    expect(r.work.replace(/\s+/g, ' ').trim()).toBe('fix bug #123 in C#');
  });

  it('takes the first priority and removes every one', () => {
    const r = extractPriority('p3 ship it p1');
    expect(r.priority).toBe(3);
    expect(r.work.trim()).toBe('ship it');
    expect(extractPriority('top1 p0 p5').priority).toBeNull();
  });
});
