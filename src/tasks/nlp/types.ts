/** Public shapes of the quick-add parser (`POST /v1/tasks/quick-add`). */

export type Intent = 'create' | 'complete' | 'reschedule' | 'delete' | 'list' | 'remind';

/** A local wall-clock moment in the request's timezone; `time: null` means all-day. */
export interface LocalDateTime {
  date: string; // YYYY-MM-DD
  time: string | null; // HH:mm
}

export interface Recurrence {
  /** RFC 5545 RRULE body without DTSTART; `due` is the first occurrence. */
  rrule: string;
  /** 'completion' = Todoist's `every!`: the next one counts from when the task is done. */
  from: 'due' | 'completion';
}

export type Reminder = { before: string /* ISO 8601 duration */ } | { at: LocalDateTime };

export type ListRange = 'today' | 'tomorrow' | 'overdue' | 'week';

export interface ParsedQuickAdd {
  intent: Intent;
  /** create: the title with every recognised token removed; other intents: the text naming the target task. */
  title: string;
  due: LocalDateTime | null;
  recurrence: Recurrence | null;
  reminders: Reminder[];
  priority: 1 | 2 | 3 | 4 | null;
  labels: string[];
  list?: { range?: ListRange; label?: string };
  /** 0..1 heuristic: how sure the parser is of the intent and its fields. */
  confidence: number;
}

export interface ParseContext {
  /** IANA timezone, e.g. 'Europe/Berlin'. */
  timezone: string;
  /** The request's clock, injected (never read here). */
  now: Date;
}
