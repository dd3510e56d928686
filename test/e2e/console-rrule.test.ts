/** The board's recurrence in words (console/src/pages/tasks/rrule-text.ts), over the rules docs/tasks.md lists. */
import { describe, expect, it } from 'vitest';
import { ordinal, rruleToText } from '../../console/src/pages/tasks/rrule-text';

describe('rruleToText', () => {
  it.each([
    ['FREQ=DAILY', 'Every day'],
    ['FREQ=DAILY;INTERVAL=3', 'Every 3 days'],
    ['FREQ=WEEKLY', 'Every week'],
    ['FREQ=WEEKLY;BYDAY=MO', 'Every Monday'],
    ['FREQ=WEEKLY;INTERVAL=2;BYDAY=MO', 'Every other week on Monday'],
    ['FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR', 'Every weekday'],
    ['FREQ=WEEKLY;BYDAY=TU,TH', 'Every Tuesday and Thursday'],
    ['FREQ=MONTHLY;BYMONTHDAY=1', 'Every month on the 1st'],
    ['FREQ=MONTHLY;BYMONTHDAY=-1', 'Every month on the last day'],
    ['FREQ=MONTHLY;BYDAY=-1FR', 'Every month on the last Friday'],
    ['FREQ=MONTHLY;BYDAY=2TU', 'Every month on the 2nd Tuesday'],
    ['FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1', 'Every month on the last weekday'],
    ['FREQ=YEARLY;BYMONTH=3;BYMONTHDAY=5', 'Every year on March 5th'],
    ['FREQ=YEARLY', 'Every year'],
    ['FREQ=WEEKLY;BYDAY=MO;COUNT=3', 'Every Monday, 3 more times'],
    ['FREQ=DAILY;UNTIL=20301231T000000Z', 'Every day, until 2030-12-31'],
  ])('%s → %s', (rule, words) => {
    expect(rruleToText(rule)).toBe(words);
  });

  it('says when the rule counts from completion (every!)', () => {
    expect(rruleToText('FREQ=DAILY;INTERVAL=3', 'completion')).toBe('Every 3 days (counted from completion)');
  });

  it('shows a rule it cannot read as it is', () => {
    expect(rruleToText('FREQ=HOURLY')).toBe('FREQ=HOURLY');
  });

  it('ordinals', () => {
    expect([1, 2, 3, 4, 11, 12, 13, 21, 22, 101, -1, -2, -3].map(ordinal)).toEqual([
      '1st',
      '2nd',
      '3rd',
      '4th',
      '11th',
      '12th',
      '13th',
      '21st',
      '22nd',
      '101st',
      'last',
      'second to last',
      '3rd to last',
    ]);
  });
});
