/**
 * POST /v1/tasks/quick-add: one line of text → what the parser understood →
 * the action (create, complete, reschedule, delete, list, remind) done through
 * the same service verbs as the rest of the API. Destructive intents never act
 * by guess: see `resolveTarget` for the match rule and `confirmQuickAdd`.
 */
import { z } from 'zod';
import { fromB64, toB64Url } from '../identity/encoding';
import type { ServiceCtx } from '../lib/context';
import { AppError } from '../lib/problem';
import type { Task, TaskCreate, TaskPatch } from './model';
import { type LocalDateTime, type ParsedQuickAdd, parseQuickAdd } from './nlp';
import { addDays } from './nlp/clock';
import { todayIn, zonedToInstant } from './schedule';
import { TaskPatchSchema } from './schemas';
import * as tasks from './service';
import { type ResolvedTimezone, resolveTimezone } from './timezone';

export interface QuickAddResult {
  intent: ParsedQuickAdd['intent'];
  task: Task | null;
  tasks?: Task[];
  /** null on a confirmation (nothing was parsed then). */
  parsed: ParsedQuickAdd | null;
  /** A destructive intent held back: the tasks it might mean, and the token to act on one. */
  candidates?: Task[];
  confirmation?: { token: string; expiresAt: string };
  /** The zone the text was read in and where it came from (request, member, tenant or utc); absent on a confirmation. */
  timezone?: ResolvedTimezone;
}

const field = (path: string, message: string) =>
  new AppError('validation_failed', message, { errors: [{ in: 'body', path, pointer: `/${path}`, message, code: 'invalid' }] });

function dueFields(due: LocalDateTime | null, timezone: string): Pick<TaskCreate, 'dueDate' | 'dueAt'> {
  if (!due) return {};
  return due.time === null ? { dueDate: due.date, dueAt: null } : { dueAt: zonedToInstant(due.date, due.time, timezone), dueDate: null };
}

function remindersOf(p: ParsedQuickAdd, timezone: string): TaskCreate['reminders'] {
  return p.reminders.map((r) => ('before' in r ? { before: r.before } : { at: zonedToInstant(r.at.date, r.at.time ?? '09:00', timezone) }));
}

function createInput(p: ParsedQuickAdd, timezone: string): TaskCreate {
  return {
    title: p.title,
    timezone,
    ...dueFields(p.due, timezone),
    ...(p.recurrence ? { recurrence: p.recurrence.rrule, recurrenceFrom: p.recurrence.from } : {}),
    reminders: remindersOf(p, timezone),
    ...(p.priority ? { priority: p.priority } : {}),
    labels: p.labels,
  };
}

/** How long a confirmation token may be acted on. */
const CONFIRM_TTL_MS = 10 * 60_000;
/** Below this parser confidence a destructive intent never acts without confirmation. */
const ACT_CONFIDENCE = 0.8;
const MAX_CANDIDATES = 10;

const norm = (s: string) => s.toLowerCase().replace(/\s+/g, ' ').trim();

/**
 * The match rule for destructive intents (docs/tasks.md): candidates are open tasks whose title
 * contains the target (case- and space-insensitive; notes are not searched). It acts at once only on
 * exactly one task whose title equals the target, when the parser is confident; anything else is
 * answered with the candidates and a confirmation token.
 */
async function resolveTarget(ctx: ServiceCtx, title: string, confidence: number): Promise<{ act: Task } | { candidates: Task[] }> {
  if (!title) throw field('text', 'Say which task, e.g. "done with call Ana".');
  const target = norm(title);
  const page = await tasks.listTasks(ctx, { status: 'open', q: title, limit: 100 });
  const matches = page.data.filter((t) => norm(t.title).includes(target));
  if (matches.length === 0) throw new AppError('not_found', `No open task is titled like '${title}'.`);
  const exact = matches.filter((t) => norm(t.title) === target);
  if (exact.length === 1 && confidence >= ACT_CONFIDENCE) return { act: exact[0]! };
  return { candidates: [...exact, ...matches.filter((t) => !exact.includes(t))].slice(0, MAX_CANDIDATES) };
}

/** What a confirmation carries: the action, and each candidate at the version that was shown. */
const PendingSchema = z.strictObject({
  v: z.literal(1),
  tenantId: z.string(),
  actorId: z.string(),
  intent: z.enum(['complete', 'delete', 'reschedule']),
  patch: TaskPatchSchema.optional(),
  candidates: z.array(z.object({ id: z.string(), version: z.number().int() })).max(MAX_CANDIDATES),
  exp: z.number(),
});
type Pending = z.infer<typeof PendingSchema>;

/**
 * Not a credential: it names an action the caller could take anyway, so it is plain (base64url JSON),
 * bound to the caller and short-lived. Safety comes from the versions: acting sends each one as If-Match.
 */
function encodePending(p: Pending): string {
  return toB64Url(new TextEncoder().encode(JSON.stringify(p)));
}

function decodePending(ctx: ServiceCtx, token: string): Pending {
  let raw: unknown;
  try {
    raw = JSON.parse(new TextDecoder().decode(fromB64(token)));
  } catch {
    raw = null;
  }
  const p = PendingSchema.safeParse(raw);
  const bad = (message: string) =>
    new AppError('validation_failed', message, { errors: [{ in: 'body', path: 'token', pointer: '/token', message, code: 'invalid' }] });
  if (!p.success || p.data.tenantId !== ctx.tenantId || p.data.actorId !== ctx.actor.id)
    throw bad('Not a confirmation token issued to you.');
  if (p.data.exp < ctx.now.getTime()) throw bad('The confirmation expired; send the text again.');
  return p.data;
}

type Destructive = { intent: 'complete' | 'delete' | 'reschedule'; patch?: TaskPatch | undefined };

/** Applies the action to `target` at the version the caller saw (412 if it changed since). */
async function act(ctx: ServiceCtx, d: Destructive, target: { id: string; version: number }): Promise<Task> {
  const ref = { id: target.id, ifMatch: target.version };
  if (d.intent === 'complete') return tasks.completeTask(ctx, ref);
  if (d.intent === 'reschedule') return tasks.updateTask(ctx, { ...ref, patch: d.patch ?? {} });
  const gone = await tasks.getTask(ctx, { id: target.id });
  await tasks.deleteTask(ctx, ref);
  return gone;
}

async function destructive(ctx: ServiceCtx, d: Destructive, parsed: ParsedQuickAdd): Promise<QuickAddResult> {
  const resolved = await resolveTarget(ctx, parsed.title, parsed.confidence);
  if ('act' in resolved) return { intent: d.intent, task: await act(ctx, d, resolved.act), parsed };
  const exp = ctx.now.getTime() + CONFIRM_TTL_MS;
  const token = encodePending({
    v: 1,
    tenantId: ctx.tenantId,
    actorId: ctx.actor.id,
    intent: d.intent,
    ...(d.patch ? { patch: d.patch } : {}),
    candidates: resolved.candidates.map((t) => ({ id: t.id, version: t.version })),
    exp,
  });
  return {
    intent: d.intent,
    task: null,
    parsed,
    candidates: resolved.candidates,
    confirmation: { token, expiresAt: new Date(exp).toISOString() },
  };
}

/** POST /v1/tasks/quick-add/confirm: the action a quick add held back, on the candidate the caller picked, at the version shown. */
export async function confirmQuickAdd(ctx: ServiceCtx, { token, taskId }: { token: string; taskId: string }): Promise<QuickAddResult> {
  const p = decodePending(ctx, token);
  const target = p.candidates.find((c) => c.id === taskId);
  if (!target) {
    throw new AppError('validation_failed', `Task ${taskId} was not one of the candidates.`, {
      errors: [{ in: 'body', path: 'taskId', pointer: '/taskId', message: 'Not a candidate of this confirmation', code: 'invalid' }],
    });
  }
  return { intent: p.intent, task: await act(ctx, { intent: p.intent, patch: p.patch }, target), parsed: null };
}

export async function quickAdd(ctx: ServiceCtx, input: { text: string; timezone?: string | undefined }): Promise<QuickAddResult> {
  const zone = await resolveTimezone(ctx, { requested: input.timezone });
  return { ...(await quickAddIn(ctx, input.text, zone.timezone)), timezone: zone };
}

async function quickAddIn(ctx: ServiceCtx, text: string, timezone: string): Promise<QuickAddResult> {
  const now = ctx.now;
  const parsed = parseQuickAdd(text, { timezone, now });
  switch (parsed.intent) {
    case 'create':
    case 'remind': {
      if (!parsed.title) throw field('text', 'The text has no task title left after dates, labels and priority.');
      return { intent: parsed.intent, task: await tasks.createTask(ctx, createInput(parsed, timezone)), parsed };
    }
    case 'complete':
    case 'delete':
      return destructive(ctx, { intent: parsed.intent }, parsed);
    case 'reschedule': {
      if (!parsed.due) throw field('text', `Say when to move '${parsed.title}' to, e.g. "move dentist to friday".`);
      const patch: TaskPatch = {
        timezone,
        ...dueFields(parsed.due, timezone),
        ...(parsed.recurrence ? { recurrence: parsed.recurrence.rrule, recurrenceFrom: parsed.recurrence.from } : {}),
      };
      if (parsed.reminders.length) patch.reminders = remindersOf(parsed, timezone);
      return destructive(ctx, { intent: 'reschedule', patch }, parsed);
    }
    case 'list': {
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
      const page = await tasks.listTasks(ctx, { status: 'open', label: parsed.list?.label, limit: 100, ...window });
      return { intent: 'list', task: null, tasks: page.data, parsed };
    }
  }
}
