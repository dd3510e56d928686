// Targeted behaviour of the quick-add parser beyond the corpus: clocks, timezones, DST, first occurrences, confidence.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { isValidTimeZone, parseQuickAdd } from '../../../src/tasks/nlp';
import { ScheduleError } from '../../../src/tasks/schedule';

const NY = 'America/New_York';
const BER = 'Europe/Berlin';
const WEDNESDAY = new Date('2026-11-18T15:00:00Z');

const parse = (text: string, now = WEDNESDAY, timezone = NY) => parseQuickAdd(text, { timezone, now });

describe('quick-add: the clock is an input', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('ignores the system clock entirely', () => {
    const before = parse('pay rent every 1st at 9am remind me 1 day before #home p1');
    vi.useFakeTimers();
    vi.setSystemTime(new Date('2031-06-01T12:00:00Z'));
    expect(parse('pay rent every 1st at 9am remind me 1 day before #home p1')).toEqual(before);
    expect(parse('tomorrow 5pm').due).toEqual({ date: '2026-11-19', time: '17:00' });
  });

  it('computes "today" in the given timezone, not UTC', () => {
    const late = new Date('2026-11-18T23:30:00Z');
    expect(parse('today', late, NY).due).toEqual({ date: '2026-11-18', time: null });
    expect(parse('today', late, BER).due).toEqual({ date: '2026-11-19', time: null });
    expect(parse('today', late, 'Asia/Tokyo').due).toEqual({ date: '2026-11-19', time: null });
    expect(parse('today', late, 'Pacific/Honolulu').due).toEqual({ date: '2026-11-18', time: null });
  });

  it('"in 2 hours" is instant math, so it lands right across a DST change', () => {
    // Berlin springs forward at 02:00 → 03:00 on 2026-03-29: 01:30 CET + 2h = 04:30 CEST.
    expect(parse('in 2 hours', new Date('2026-03-29T00:30:00Z'), BER).due).toEqual({ date: '2026-03-29', time: '04:30' });
    // New York falls back at 02:00 → 01:00 on 2026-11-01: 01:30 EDT + 2h = 02:30 EST.
    expect(parse('in 2 hours', new Date('2026-11-01T05:30:00Z'), NY).due).toEqual({ date: '2026-11-01', time: '02:30' });
  });

  it('rolls "in 90 minutes" over midnight', () => {
    expect(parse('call back in 90 minutes', new Date('2026-11-18T22:45:00Z'), BER).due).toEqual({ date: '2026-11-19', time: '01:15' });
  });

  it('drops seconds from now', () => {
    expect(parse('in 1 hour', new Date('2026-11-18T15:00:59.999Z')).due).toEqual({ date: '2026-11-18', time: '11:00' });
  });

  it('says which timezones it knows, and refuses the others', () => {
    expect(isValidTimeZone(BER)).toBe(true);
    expect(isValidTimeZone('Mars/Olympus_Mons')).toBe(false);
    expect(() => parse('tomorrow', WEDNESDAY, 'Mars/Olympus_Mons')).toThrow(ScheduleError);
  });
});

describe('quick-add: first occurrence of a recurrence', () => {
  it('"starting jan 10" after Jan 10 means the next Jan 10', () => {
    const r = parse('every 2 weeks starting jan 10', new Date('2027-01-15T12:00:00Z'));
    expect(r.due).toEqual({ date: '2028-01-10', time: null });
    expect(r.recurrence).toEqual({ rrule: 'FREQ=WEEKLY;INTERVAL=2', from: 'due' });
  });

  it('a weekly rule starting on a date begins at its first matching weekday', () => {
    expect(parse('every monday starting jan 10').due).toEqual({ date: '2027-01-11', time: null });
  });

  it('"every 1st" on the 1st before the time is today; after it, next month', () => {
    const first = new Date('2026-12-01T13:00:00Z'); // 08:00 in New York
    expect(parse('every 1st at 9am', first).due).toEqual({ date: '2026-12-01', time: '09:00' });
    expect(parse('every 1st at 7am', first).due).toEqual({ date: '2027-01-01', time: '07:00' });
  });

  it('skips months without the day: "every 31st" from November is Dec 31', () => {
    expect(parse('every 31st').due).toEqual({ date: '2026-12-31', time: null });
  });

  it('finds a leap day years ahead', () => {
    const r = parse('every feb 29');
    expect(r.recurrence?.rrule).toBe('FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29');
    expect(r.due).toEqual({ date: '2028-02-29', time: null });
  });

  it('rejects a day no month has', () => {
    expect(parse('every feb 30').recurrence).toBeNull();
  });

  it('"every last friday" in a month whose last friday is past goes to next month', () => {
    expect(parse('every last friday', new Date('2026-11-28T12:00:00Z')).due).toEqual({ date: '2026-12-25', time: null });
  });

  it('an explicit time wins over the part-of-day default', () => {
    expect(parse('every morning at 7:30').due).toEqual({ date: '2026-11-19', time: '07:30' });
  });
});

describe('quick-add: confidence', () => {
  it('ranks a clean create above one with an "every" it could not read', () => {
    expect(parse('buy milk tomorrow').confidence).toBeGreaterThan(parse('buy milk every blue moon').confidence);
  });

  it('is low for an intent without a target', () => {
    expect(parse('done with').confidence).toBeGreaterThan(0); // "done with" alone is a title, not an intent
    expect(parse('delete the task')).toMatchObject({ intent: 'delete', title: '' });
    expect(parse('delete the task').confidence).toBeLessThanOrEqual(0.3);
    expect(parse('mark it done').confidence).toBeLessThanOrEqual(0.3);
    expect(parse('mark as done')).toMatchObject({ intent: 'complete', title: '' });
  });

  it('is lower for a reschedule that names no date', () => {
    expect(parse('reschedule dentist').confidence).toBeLessThan(parse('reschedule dentist to friday').confidence);
  });

  it('is lower for verbs that also make tasks', () => {
    expect(parse('cancel gym').confidence).toBeLessThan(parse('delete gym').confidence);
  });

  it('stays within 0..1 for empty and noisy input', () => {
    for (const text of ['', '   ', '#only #labels p1', 'every every every', 'remind me', '!!!', '🙂 tomorrow']) {
      const r = parse(text);
      expect(r.confidence).toBeGreaterThanOrEqual(0);
      expect(r.confidence).toBeLessThanOrEqual(1);
    }
  });
});

describe('quick-add: titles', () => {
  it('keeps the original casing and punctuation of the title', () => {
    expect(parse('Email "Q4 plan" to Ana, ASAP tomorrow').title).toBe('Email "Q4 plan" to Ana, ASAP');
  });

  it('treats a weekday abbreviation as a date only with a hint', () => {
    expect(parse('buy sun cream').due).toBeNull();
    expect(parse('brunch on sun').due).toEqual({ date: '2026-11-22', time: null });
  });

  it('a month with a day is a date even next to a name', () => {
    // Chosen trade-off: "call May 3" reads as a date; "call May" does not.
    expect(parse('call May 3')).toMatchObject({ title: 'call', due: { date: '2027-05-03', time: null } });
    expect(parse('call May')).toMatchObject({ title: 'call May', due: null });
  });

  it('reads a bare hour 1–6 as afternoon but keeps "05:00" as written', () => {
    expect(parse('call Ana at 5').due).toEqual({ date: '2026-11-18', time: '17:00' });
    expect(parse('run at 05:00').due).toEqual({ date: '2026-11-19', time: '05:00' });
    expect(parse('run at 7').due).toEqual({ date: '2026-11-19', time: '07:00' });
    expect(parse('run tomorrow morning at 5').due).toEqual({ date: '2026-11-19', time: '05:00' });
  });

  it('copes with a long line (the route caps length; this only guards against pathological regexes)', () => {
    const long = `${'call the plumber about the leaking tap and '.repeat(40)}tomorrow at 9am`;
    const r = parse(long);
    expect(r.due).toEqual({ date: '2026-11-19', time: '09:00' });
    expect(parse(`mark ${'x '.repeat(800)}`).intent).toBe('create');
  });

  it('typographic apostrophes work like plain ones', () => {
    expect(parse('what\u2019s due today').intent).toBe('list');
  });
});
