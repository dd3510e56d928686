/**
 * Which verb the phrase is: complete / delete / reschedule / remind / list,
 * or else create. Only leading verb phrases count, so a title that merely
 * contains "done" or "move" stays a title.
 */
import type { LocalClock } from './clock';
import { hasSchedule, parseSchedule, type Schedule } from './schedule';
import { tidy } from './text';
import type { ListRange } from './types';

export type IntentMatch =
  | { intent: 'create'; work: string; ambiguous: boolean }
  | { intent: 'complete' | 'delete'; target: string; ambiguous: boolean }
  | { intent: 'reschedule'; target: string; when: Schedule | null }
  | { intent: 'remind'; work: string }
  | { intent: 'list'; range: ListRange | null; specific: boolean };

const COMPLETE =
  /^\s*(?:done\s+with|done\s*:|finished(?:\s+with)?|completed|i(?:'ve|\s+have)?\s+(?:done|finished|completed)|i\s+did|(?:check|tick|cross)(?:ed)?\s+off)\s+(.+)$/i;
// Lazy optional target: "mark as done" names nothing rather than a task called "as".
const MARK_DONE = /^\s*mark\s+(?:(.+?)\s+)??(?:as\s+)?(?:done|complete|completed|finished)\s*[.!]?\s*$/i;
const IS_DONE = /^\s*(.+?)\s+is\s+(?:done|finished|complete|completed)\s*[.!]?\s*$/i;
// Imperatives that are also ordinary tasks ("complete tax form by friday", "cancel gym membership tomorrow").
// "finish X" is left out on purpose: it is far more often a new task than a completion.
const COMPLETE_OR_TASK = /^\s*complete\s+(.+)$/i;
const DELETE = /^\s*(?:delete|trash|erase)\s+(.+)$/i;
const DELETE_OR_TASK = /^\s*(?:remove|cancel|get\s+rid\s+of)\s+(.+)$/i;
const RESCHEDULE = /^\s*(reschedule|postpone|defer|delay|move|push(?:\s+back)?|shift|bump)\s+(.+)$/i;
const REMIND = /^\s*(?:please\s+)?(?:remind\s+me|reminder|set\s+a\s+reminder)\s+(?:to|about|of|that\s+i\s+(?:need|have)\s+to)\s+(.+)$/i;
const REMIND_WHEN_FIRST = /^\s*(?:please\s+)?remind\s+me\s+(.+?)\s+(?:to|about)\s+(.+)$/i;

const LIST_TRIGGER = /^\s*(?:what(?:'s|s|\s+is|\s+are|\s+do|\s+have)?|show|list|display|view|see|anything)\b/i;
// Every word of a list query must come from here, so "show Ana the slides" stays a task.
const LIST_WORDS = new Set(
  (
    "what what's whats is are do have i got me show list display view see anything all my the everything task tasks todo todos " +
    'to-do to-dos to items agenda due for on in of that open pending upcoming left plate scheduled ' +
    'tagged labeled label with overdue late past today tonight tomorrow this week next 7 seven days'
  ).split(' '),
);
const RANGES: Array<[RegExp, ListRange]> = [
  [/\b(overdue|late|past\s+due)\b/i, 'overdue'],
  [/\b(today|tonight)\b/i, 'today'],
  [/\btomorrow\b/i, 'tomorrow'],
  [/\b(week|7\s+days|seven\s+days)\b/i, 'week'],
];

function listQuery(work: string, hasLabel: boolean): IntentMatch | null {
  if (!LIST_TRIGGER.test(work)) return null;
  const words = work
    .toLowerCase()
    .replace(/[?.!,]/g, ' ')
    .split(/\s+/)
    .filter(Boolean);
  if (!words.every((w) => LIST_WORDS.has(w))) return null;
  const range = RANGES.find(([re]) => re.test(work))?.[1] ?? null;
  const specific = range !== null || hasLabel;
  // "what is" alone asks nothing; "show"/"list" alone means everything.
  if (!specific && /^(what|whats|what's|anything)$/.test(words[0]!) && !words.some((w) => /^(due|tasks?|todos?|agenda|to-dos?)$/.test(w)))
    return null;
  return { intent: 'list', range, specific };
}

/** Drops "the … task" wrappers and quotes around a target: 'the "dentist" task' → 'dentist'. */
export function cleanTarget(text: string): string {
  // A pronoun names nothing we can look up: "delete it" has no target.
  if (/^(?:it|this|that|this one|that one|(?:the|this|that|my)?\s*task)$/i.test(tidy(text))) return '';
  return tidy(text)
    .replace(/^(?:the|my)\s+(?:task\s+)?/i, '')
    .replace(/^task\s+/i, '')
    .replace(/\s+(?:task|item|todo|to-do|reminder)$/i, '')
    .replace(/^["'](.*)["']$/, '$1')
    .trim();
}

function reschedule(verb: string, rest: string, clock: LocalClock): IntentMatch | null {
  // Try each "to/until/for/on" left to right: the first whose right side is entirely a date wins.
  for (const m of rest.matchAll(/\s(?:to|until|till|for|on)\s/gi)) {
    const when = parseSchedule(rest.slice(m.index + m[0].length), clock);
    if (when.due && when.rest === '') return { intent: 'reschedule', target: rest.slice(0, m.index), when };
  }
  const when = parseSchedule(rest, clock);
  if (when.due) return { intent: 'reschedule', target: when.rest, when };
  // "move couch to garage" is a task; "postpone dentist" is still a reschedule, date unknown.
  return /^(reschedule|postpone|defer|delay)$/i.test(verb) ? { intent: 'reschedule', target: rest, when: null } : null;
}

/** Classifies `work` (labels and priority already blanked). */
export function detectIntent(work: string, clock: LocalClock, hasLabel: boolean): IntentMatch {
  const list = listQuery(work, hasLabel);
  if (list) return list;
  let m = REMIND.exec(work);
  if (m) return { intent: 'remind', work: m[1]! };
  m = REMIND_WHEN_FIRST.exec(work);
  if (m) {
    const when = parseSchedule(m[1]!, clock);
    if (hasSchedule(when) && when.rest === '') return { intent: 'remind', work: `${m[2]!} ${m[1]!}` };
  }
  m = MARK_DONE.exec(work) ?? COMPLETE.exec(work) ?? IS_DONE.exec(work);
  if (m) return { intent: 'complete', target: m[1] ?? '', ambiguous: false };
  m = DELETE.exec(work);
  if (m) {
    // A date makes even "delete" a new task ("delete old photos on saturday"): nothing is ever due to be destroyed.
    if (hasSchedule(parseSchedule(m[1]!, clock))) return { intent: 'create', work, ambiguous: true };
    return { intent: 'delete', target: m[1]!, ambiguous: false };
  }
  for (const [re, intent] of [
    [COMPLETE_OR_TASK, 'complete'],
    [DELETE_OR_TASK, 'delete'],
  ] as const) {
    m = re.exec(work);
    if (!m) continue;
    // With a date it reads as a new task: "cancel gym membership by friday".
    if (hasSchedule(parseSchedule(m[1]!, clock))) return { intent: 'create', work, ambiguous: true };
    return { intent, target: m[1]!, ambiguous: true };
  }
  m = RESCHEDULE.exec(work);
  if (m) {
    const r = reschedule(m[1]!, m[2]!, clock);
    if (r) return r;
    return { intent: 'create', work, ambiguous: true };
  }
  return { intent: 'create', work, ambiguous: false };
}
