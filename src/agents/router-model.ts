/**
 * The deterministic router: a ModelDriver built on the quick-add parser
 * (src/tasks/nlp), used when the tenant has no LLM provider or the agent names
 * none, so the assistant and its tests work offline. It reads the last user
 * message, picks the intent (create, complete, reschedule, delete, list,
 * remind) and answers through the same built-in tools a real model would call:
 * it looks the target task up with `listTasks`, acts when exactly one task
 * matches and asks (`askUser`, with the candidates as options) when several do.
 * Each call to `next` is one model step decided from the conversation alone, so
 * a replayed step decides the same thing (docs/assistant.md, "Without a model").
 */

import { isValidTimeZone, type LocalDateTime, type ParsedQuickAdd, parseQuickAdd, type Reminder } from '../tasks/nlp';
import { addDays } from '../tasks/nlp/clock';
import { todayIn, zonedToInstant } from '../tasks/schedule';
import type { AgentMessage, ModelDriver, ModelReply, ModelRequest, ToolCall } from './contract';
import { provideRouterModel } from './router-slot';

export const ROUTER_PROVIDER = 'router';
export const ROUTER_MODEL = 'quick-add';

/**
 * The line the assistant puts in its system message so a model (and this router) knows the user's
 * clock: `Current time: 2026-11-14T09:30:00.000Z; time zone: Europe/Berlin.`
 */
export function clockLine(now: Date, timezone: string): string {
  return `Current time: ${now.toISOString()}; time zone: ${timezone}.`;
}

const CLOCK_LINE = /Current time: (\S+); time zone: ([^\s;]+)\./;

/** The clock a conversation states (its system messages), else the driver's own clock in UTC. */
export function clockOf(messages: AgentMessage[], fallbackNow: Date): { now: Date; timezone: string } {
  for (const m of messages) {
    if (m.role !== 'system') continue;
    const hit = CLOCK_LINE.exec(m.content);
    if (!hit) continue;
    const now = new Date(hit[1]!);
    const timezone = hit[2]!;
    if (!Number.isNaN(now.getTime()) && isValidTimeZone(timezone)) return { now, timezone };
  }
  return { now: fallbackNow, timezone: 'UTC' };
}

/** What one step decides: text for the user, or tool calls (never both empty). */
export interface RouterDecision {
  text: string;
  toolCalls: ToolCall[];
}

interface TaskLike {
  id: string;
  title: string;
  status?: string;
  dueDate?: string | null;
  dueAt?: string | null;
}

/** A tool's answer as the loop gives it back: JSON text, possibly an error or a denial. */
interface ToolAnswer {
  name: string;
  input: unknown;
  ok: boolean;
  value: unknown;
  error: string | null;
  denied: boolean;
}

const GREETING = /^\s*(hi|hello|hey|help|thanks|thank you|ok|okay)\b[\s!.?]*$/i;
const HELP =
  'I can manage your tasks. Try: "buy milk tomorrow at 5pm", "done with buy milk", "move dentist to friday", ' +
  '"remind me to call Ana at 3pm", "what is due this week?"';
const norm = (s: string) => s.toLowerCase().replace(/\s+/g, ' ').trim();

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** Reads a tool message the way the loop writes it (JSON of `{ output }`, `{ error }` or `{ denied }`). */
function answerOf(call: ToolCall, msg: AgentMessage | undefined): ToolAnswer | null {
  if (!msg) return null;
  let value = parseJson(msg.content);
  const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
  // The loop wraps a result as { output } (or { error } / { denied }).
  if (isObj(value) && Object.keys(value).length === 1 && 'output' in value) value = value.output;
  const obj = isObj(value) ? value : null;
  const denied = obj !== null && (obj.denied === true || (typeof obj.denied === 'object' && obj.denied !== null));
  const rawError = obj && !denied && 'error' in obj && Object.keys(obj).length <= 2 ? obj.error : undefined;
  const error =
    rawError === undefined
      ? null
      : typeof rawError === 'string'
        ? rawError
        : typeof rawError === 'object' && rawError !== null && typeof (rawError as { message?: unknown }).message === 'string'
          ? (rawError as { message: string }).message
          : JSON.stringify(rawError);
  return { name: call.name, input: call.input, ok: !denied && error === null, value, error, denied };
}

function tasksIn(value: unknown): TaskLike[] {
  const list = Array.isArray(value)
    ? value
    : typeof value === 'object' && value !== null
      ? ((value as { data?: unknown; tasks?: unknown }).data ?? (value as { tasks?: unknown }).tasks)
      : null;
  if (!Array.isArray(list)) return [];
  return list.filter((t): t is TaskLike => typeof t === 'object' && t !== null && typeof t.id === 'string' && typeof t.title === 'string');
}

function taskIn(value: unknown): TaskLike | null {
  const v = value as { task?: unknown } | null;
  const t = (typeof v === 'object' && v !== null && 'task' in v ? v.task : v) as TaskLike | null;
  return t && typeof t === 'object' && typeof t.id === 'string' && typeof t.title === 'string' ? t : null;
}

function when(due: LocalDateTime | null): string {
  if (!due) return '';
  return due.time === null ? ` (due ${due.date})` : ` (due ${due.date} ${due.time})`;
}

function dueOf(t: TaskLike, timezone: string): string {
  if (t.dueDate) return ` (due ${t.dueDate})`;
  if (t.dueAt) {
    const local = new Date(t.dueAt).toLocaleString('sv-SE', { timeZone: timezone }).slice(0, 16);
    return ` (due ${local})`;
  }
  return '';
}

function dueFields(due: LocalDateTime | null, timezone: string): { dueDate?: string; dueAt?: string } {
  if (!due) return {};
  return due.time === null ? { dueDate: due.date } : { dueAt: zonedToInstant(due.date, due.time, timezone) };
}

function reminderInput(taskId: string, r: Reminder, timezone: string): Record<string, unknown> {
  return 'before' in r ? { taskId, before: r.before } : { taskId, at: zonedToInstant(r.at.date, r.at.time ?? '09:00', timezone) };
}

/** The option a candidate is offered as: its title, its due date, and its id (so equal titles stay apart). */
export function optionOf(t: TaskLike, timezone: string): string {
  return `${t.title}${dueOf(t, timezone)} [${t.id}]`;
}

/** Which candidate an askUser answer picks: the option text, an id in it, the title, or a number. */
function pick(answer: unknown, candidates: TaskLike[], timezone: string): TaskLike | null {
  const raw =
    typeof answer === 'string'
      ? answer
      : typeof answer === 'object' && answer !== null
        ? String((answer as { answer?: unknown; choice?: unknown }).answer ?? (answer as { choice?: unknown }).choice ?? '')
        : String(answer ?? '');
  const text = norm(raw);
  if (!text) return null;
  const byOption = candidates.find((c) => norm(optionOf(c, timezone)) === text);
  if (byOption) return byOption;
  const byId = candidates.filter((c) => raw.includes(c.id));
  if (byId.length === 1) return byId[0]!;
  const byTitle = candidates.filter((c) => norm(c.title) === text);
  if (byTitle.length === 1) return byTitle[0]!;
  const n = /^(?:#|no\.?\s*|number\s+)?(\d{1,2})$/.exec(text);
  if (n) return candidates[Number(n[1]) - 1] ?? null;
  const ordinals = ['first', 'second', 'third', 'fourth', 'fifth'];
  const o = ordinals.findIndex((w) => text === w || text === `the ${w}` || text === `the ${w} one`);
  return o >= 0 ? (candidates[o] ?? null) : null;
}

/** The step's decision from the conversation (pure: the clock comes from the conversation or `fallbackNow`). */
export function route(messages: AgentMessage[], offered: ReadonlySet<string>, fallbackNow: Date): RouterDecision {
  const u = messages.map((m) => m.role).lastIndexOf('user');
  if (u < 0) return { text: HELP, toolCalls: [] };
  const { now, timezone } = clockOf(messages, fallbackNow);
  const text = messages[u]!.content;
  const after = messages.slice(u + 1);
  const calls = after.flatMap((m) => (m.role === 'assistant' ? (m.toolCalls ?? []) : []));
  const answers = calls.map((c) =>
    answerOf(
      c,
      after.find((m) => m.role === 'tool' && m.toolCallId === c.id),
    ),
  );
  const done = (name: string) => answers.filter((a): a is ToolAnswer => a !== null && a.name === name);
  let n = calls.length;
  const call = (name: string, input: Record<string, unknown>): ToolCall => ({ id: `rt${u}_${n++}_${name}`, name, input });
  const say = (t: string): RouterDecision => ({ text: t, toolCalls: [] });
  const use = (...tc: ToolCall[]): RouterDecision => {
    const missing = tc.find((c) => !offered.has(c.name));
    return missing
      ? say(`I can't ${missing.name.replace(/Task$/, ' tasks').toLowerCase()} here: that tool is not available to me.`)
      : { text: '', toolCalls: tc };
  };
  const failed = answers.find((a) => a !== null && !a.ok);
  if (failed) {
    if (failed.denied) return say(`OK, I did not ${failed.name.replace(/Task$/, '').toLowerCase()} it.`);
    return say(`That did not work: ${failed.error}`);
  }

  if (GREETING.test(text)) return say(HELP);
  let parsed: ParsedQuickAdd;
  try {
    parsed = parseQuickAdd(text, { timezone, now });
  } catch {
    return say(`I didn't understand that. ${HELP}`);
  }

  switch (parsed.intent) {
    case 'create':
    case 'remind': {
      const [created] = done('createTask');
      if (!created) {
        if (!parsed.title) return say('What should the task be called?');
        return use(
          call('createTask', {
            title: parsed.title,
            timezone,
            ...dueFields(parsed.due, timezone),
            ...(parsed.recurrence ? { recurrence: parsed.recurrence.rrule } : {}),
            ...(parsed.priority ? { priority: parsed.priority } : {}),
            ...(parsed.labels.length ? { labels: parsed.labels } : {}),
          }),
        );
      }
      const task = taskIn(created.value);
      if (task && parsed.reminders.length > 0 && done('setReminder').length === 0)
        return use(...parsed.reminders.map((r) => call('setReminder', reminderInput(task.id, r, timezone))));
      const reminded = parsed.reminders.length
        ? `, with ${parsed.reminders.length === 1 ? 'a reminder' : `${parsed.reminders.length} reminders`}`
        : '';
      return say(`Created “${task?.title ?? parsed.title}”${when(parsed.due)}${reminded}.`);
    }
    case 'list': {
      const [listed] = done('listTasks');
      if (!listed) {
        const today = todayIn(timezone, now);
        const range = parsed.list?.range;
        const window =
          range === 'today'
            ? { dueFrom: today, dueTo: today }
            : range === 'tomorrow'
              ? { dueFrom: addDays(today, 1), dueTo: addDays(today, 1) }
              : range === 'week'
                ? { dueFrom: today, dueTo: addDays(today, 6) }
                : range === 'overdue'
                  ? { dueTo: now.toISOString() }
                  : {};
        return use(
          call('listTasks', { status: 'open', ...window, ...(parsed.list?.label ? { label: parsed.list.label } : {}), limit: 50 }),
        );
      }
      const found = tasksIn(listed.value);
      if (found.length === 0) return say('Nothing is open there.');
      return say(
        `${found.length === 1 ? 'One open task' : `${found.length} open tasks`}:\n${found.map((t) => `- ${t.title}${dueOf(t, timezone)}`).join('\n')}`,
      );
    }
    case 'complete':
    case 'delete':
    case 'reschedule':
      return target(parsed, { done, call, use, say, timezone });
  }
}

interface Tools {
  done(name: string): ToolAnswer[];
  call(name: string, input: Record<string, unknown>): ToolCall;
  use(...tc: ToolCall[]): RouterDecision;
  say(t: string): RouterDecision;
  timezone: string;
}

const VERB = { complete: 'completeTask', delete: 'deleteTask', reschedule: 'rescheduleTask' } as const;
const PAST = { complete: 'Completed', delete: 'Deleted', reschedule: 'Moved' } as const;

/** complete / delete / reschedule: find the task, ask when several match, then act on the one. */
function target(parsed: ParsedQuickAdd, t: Tools): RouterDecision {
  const intent = parsed.intent as keyof typeof VERB;
  if (!parsed.title) return t.say('Which task? Say its title, e.g. "done with call Ana".');
  if (intent === 'reschedule' && !parsed.due)
    return t.say(`When should I move “${parsed.title}” to? E.g. "move ${parsed.title} to friday".`);
  const [acted] = t.done(VERB[intent]);
  if (acted) {
    const task = taskIn(acted.value) ?? taskIn(acted.input);
    const title = task?.title ? task.title : parsed.title;
    return t.say(`${PAST[intent]} “${title}”${intent === 'reschedule' ? when(parsed.due).replace('(due', 'to').replace(')', '') : ''}.`);
  }
  const [listed] = t.done('listTasks');
  if (!listed) return t.use(t.call('listTasks', { status: 'open', q: parsed.title, limit: 100 }));
  const wanted = norm(parsed.title);
  const all = tasksIn(listed.value).filter((x) => (x.status ?? 'open') === 'open');
  const matches = all.filter((x) => norm(x.title).includes(wanted));
  const exact = matches.filter((x) => norm(x.title) === wanted);
  const candidates = exact.length === 1 ? exact : matches;
  const act = (task: TaskLike) =>
    t.use(
      t.call(VERB[intent], {
        taskId: task.id,
        ...(intent === 'reschedule'
          ? {
              ...dueFields(parsed.due, t.timezone),
              ...(parsed.due?.time === null ? { dueAt: null } : { dueDate: null }),
              timezone: t.timezone,
            }
          : {}),
      }),
    );
  const [asked] = t.done('askUser');
  if (asked) {
    const chosen = pick(asked.value, candidates, t.timezone);
    return chosen ? act(chosen) : t.say("I couldn't tell which task you meant, so I changed nothing.");
  }
  if (candidates.length === 0) return t.say(`I found no open task like “${parsed.title}”.`);
  if (candidates.length === 1) return act(candidates[0]!);
  return t.use(
    t.call('askUser', {
      question: `Which “${parsed.title}” do you mean?`,
      options: candidates.slice(0, 10).map((c) => optionOf(c, t.timezone)),
    }),
  );
}

function words(s: string): number {
  return (s.match(/\S+/g) ?? []).length;
}

/** The router as a ModelDriver: the decision, its text streamed word by word through `onDelta`. */
export function routerModel(clock: () => Date = () => new Date()): ModelDriver {
  return {
    name: ROUTER_PROVIDER,
    async next(req: ModelRequest): Promise<ModelReply> {
      if (req.signal.aborted) throw req.signal.reason ?? new Error('aborted');
      const decision = route(req.messages, new Set(req.tools.map((x) => x.name)), clock());
      for (const piece of decision.text.match(/\S+\s*|\s+/g) ?? []) req.onDelta(piece);
      const inputTokens = req.messages.reduce((sum, m) => sum + words(m.content), 0);
      return {
        text: decision.text,
        toolCalls: decision.toolCalls,
        usage: { inputTokens, outputTokens: words(decision.text) + decision.toolCalls.length, costUsd: 0, estimated: true },
        provider: ROUTER_PROVIDER,
        model: ROUTER_MODEL,
      };
    },
  };
}

// The agent loop finds the router through its slot (src/agents/router-slot.ts): installed when this module loads.
provideRouterModel((o) => routerModel(() => o.now));
