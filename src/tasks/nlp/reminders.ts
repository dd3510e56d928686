/** "remind me 30 min before" → {before:'PT30M'}; "remind me at 8am" → {at}. */
import type { LocalClock } from './clock';
import { type DateMatch, dateExpressionAt, resolveDate } from './dates';
import { blank } from './text';
import { NUMBER_PATTERN, numberValue, PART_OF_DAY } from './tokens';
import type { LocalDateTime, Reminder } from './types';

/** A reminder whose `at` may still need the due date ("remind me at 8am" → on the due day). */
export type PendingReminder = { before: string } | { at: DateMatch };

const PREFIX =
  /(?<![\p{L}])(?:(?:with|and|set)\s+an?\s+reminder|reminders?|remind\s+me|alert\s+me|notify\s+me|ping\s+me)(?![\p{L}])(?!\s+(?:to|about|that|of)\b)/giu;
// Whole words only: "and" must not read as "a" + "d"(ay).
const UNIT = '(minutes?|mins?|m|hours?|hrs?|h|days?|d|weeks?|w)(?![a-z])';
const AMOUNT = `(?<![a-z])(half\\s+an|${NUMBER_PATTERN})`;
const DUR = `${AMOUNT}\\s*${UNIT}`;
const BEFORE = `(${DUR}(?:\\s*(?:,|and)\\s*${DUR})*)\\s+(?:before|earlier|ahead|prior|in\\s+advance)`;

/** "1 hour and 30 min" → 'PT1H30M'; "1 week" → 'P1W'; "1 week 2 days" → 'P9D'. */
export function isoDuration(phrase: string): string {
  let weeks = 0,
    days = 0,
    hours = 0,
    minutes = 0;
  for (const m of phrase.matchAll(new RegExp(DUR, 'gi'))) {
    const unit = m[2]!.toLowerCase()[0];
    if (/^half/i.test(m[1]!))
      minutes += 30; // "half an hour"
    else if (unit === 'w') weeks += numberValue(m[1]!);
    else if (unit === 'd') days += numberValue(m[1]!);
    else if (unit === 'h') hours += numberValue(m[1]!);
    else minutes += numberValue(m[1]!);
  }
  if (weeks && !days && !hours && !minutes) return `P${weeks}W`;
  days += weeks * 7;
  const time = `${hours ? `${hours}H` : ''}${minutes ? `${minutes}M` : ''}`;
  return `P${days ? `${days}D` : ''}${time ? `T${time}` : ''}` || 'PT0M';
}

function sticky(pattern: string, text: string, from: number): { groups: RegExpExecArray; end: number } | null {
  const re = new RegExp(pattern, 'iy');
  re.lastIndex = from;
  const m = re.exec(text);
  return m ? { groups: m, end: re.lastIndex } : null;
}

/** Blanks every reminder phrase and returns the reminders in order. */
export function extractReminders(work: string, clock: LocalClock): { reminders: PendingReminder[]; work: string } {
  const reminders: PendingReminder[] = [];
  let out = work;
  for (const m of work.matchAll(PREFIX)) {
    let end = m.index + m[0].length;
    let b = sticky(`\\s*:?\\s*${BEFORE}`, work, end);
    if (b) {
      // "1 day before and 1 hour before": one reminder per "before".
      while (b) {
        reminders.push({ before: isoDuration(b.groups[1]!) });
        end = b.end;
        b = sticky(`\\s*(?:,|and)\\s*${BEFORE}`, work, end);
      }
    } else {
      const at = dateExpressionAt(work.slice(end), clock);
      if (!at) continue;
      reminders.push({ at: at.match });
      end += at.length;
    }
    out = blank(out, { start: m.index, end });
  }
  return { reminders, work: out };
}

/** Fills in dates: a bare "at 8am" falls on the due day; a bare date rings at 09:00. */
export function resolveReminders(pending: PendingReminder[], due: LocalDateTime | null, clock: LocalClock): Reminder[] {
  const out: Reminder[] = [];
  for (const p of pending) {
    const r: Reminder =
      'before' in p ? p : { at: { date: p.at.date ?? due?.date ?? resolveDate(p.at, clock), time: p.at.time ?? PART_OF_DAY.morning! } };
    if (!out.some((o) => JSON.stringify(o) === JSON.stringify(r))) out.push(r);
  }
  return out;
}
