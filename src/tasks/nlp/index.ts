/**
 * Deterministic quick-add parser behind `POST /v1/tasks/quick-add`: one line
 * of text → intent, title, local due date, RRULE, reminders, priority, labels.
 * Pure: the clock and timezone come in through `ctx` (style.md §6).
 */
import { localClock } from './clock';
import { cleanTarget, detectIntent, type IntentMatch } from './intents';
import { parseSchedule, type Schedule } from './schedule';
import { normalize, tidy } from './text';
import { extractLabels, extractPriority, PART_OF_DAY } from './tokens';
import type { ParseContext, ParsedQuickAdd, Reminder } from './types';

export { isValidTimeZone } from './clock';
export type { Intent, ListRange, LocalDateTime, ParseContext, ParsedQuickAdd, Recurrence, Reminder } from './types';

const NOTHING = { due: null, recurrence: null, reminders: [] as Reminder[] };

// Words that mean the user tried to say something we did not understand.
const UNPARSED_HINT = /(?<![\p{L}])(every|each|remind me|reminder|after completion)(?![\p{L}])/iu;

/** Parses one quick-add line. Throws ScheduleError for an unknown timezone (validate it first: `isValidTimeZone`). */
export function parseQuickAdd(text: string, ctx: ParseContext): ParsedQuickAdd {
  const clock = localClock(ctx.now, ctx.timezone);
  const l = extractLabels(normalize(text));
  const p = extractPriority(l.work);
  const base = { priority: p.priority, labels: l.labels };
  const match: IntentMatch = detectIntent(p.work, clock, l.labels.length > 0);

  switch (match.intent) {
    case 'list': {
      const list: NonNullable<ParsedQuickAdd['list']> = {};
      if (match.range) list.range = match.range;
      if (l.labels[0]) list.label = l.labels[0];
      return { intent: 'list', title: '', ...NOTHING, ...base, list, confidence: match.specific ? 0.9 : 0.75 };
    }
    case 'complete':
    case 'delete': {
      const title = cleanTarget(match.target);
      return { intent: match.intent, title, ...NOTHING, ...base, confidence: score(title, match.ambiguous ? 0.75 : 0.9) };
    }
    case 'reschedule': {
      const title = cleanTarget(match.target);
      const when: Omit<Schedule, 'rest'> = match.when ?? NOTHING;
      return {
        intent: 'reschedule',
        title,
        due: when.due,
        recurrence: when.recurrence,
        reminders: when.reminders,
        ...base,
        confidence: score(title, when.due ? 0.9 : 0.5),
      };
    }
    case 'remind': {
      const s = parseSchedule(match.work, clock);
      // The reminder is the point: it rings at the due time (09:00 on an all-day date).
      const at: Reminder[] = s.due ? [{ at: { date: s.due.date, time: s.due.time ?? PART_OF_DAY.morning! } }] : [];
      const reminders = [...at, ...s.reminders.filter((r) => !at.some((a) => JSON.stringify(a) === JSON.stringify(r)))];
      const title = cleanTarget(s.rest);
      return {
        intent: 'remind',
        title,
        due: s.due,
        recurrence: s.recurrence,
        reminders,
        ...base,
        confidence: score(title, s.due ? 0.9 : 0.6),
      };
    }
    case 'create': {
      const s = parseSchedule(match.work, clock);
      const title = tidy(s.rest);
      let confidence = match.ambiguous ? 0.7 : 0.9;
      if (UNPARSED_HINT.test(title)) confidence -= 0.2;
      return {
        intent: 'create',
        title,
        due: s.due,
        recurrence: s.recurrence,
        reminders: s.reminders,
        ...base,
        confidence: score(title, confidence),
      };
    }
  }
}

/** An intent without a task to act on is barely a guess. */
function score(title: string, confidence: number): number {
  return Math.round((title === '' ? Math.min(confidence, 0.3) : confidence) * 100) / 100;
}
