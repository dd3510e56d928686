/**
 * The built-in task tools an agent may call: the same service verbs as HTTP
 * (src/tasks/service.ts) with the same permission checks, run as the run's
 * initiator (its role travels with the run), so a viewer's run gets an error
 * result and changes nothing. `askUser` is client-side and never runs here.
 */
import type { RunInitiator } from '../flows/run-model';
import { type ServiceCtx, serviceCtx } from '../lib/context';
import { AppError } from '../lib/problem';
import { requestCtxFor } from '../lib/request-ctx';
import { TaskCreateSchema, TaskPatchSchema } from '../tasks/schemas';
import * as tasks from '../tasks/service';
import { BUILTIN_INPUTS, type BuiltinToolName } from './contract';

/** A tool's outcome as the model gets it back. */
export type ToolOutcome = { ok: true; output: unknown } | { ok: false; error: { kind: string; message: string } };

/** The run's initiator as a service caller, the way an HTTP request with its credential would be. */
export function initiatorCtx(env: Env, tenantId: string, who: RunInitiator, pending: Array<Promise<unknown>>): ServiceCtx {
  return serviceCtx(requestCtxFor(env, { waitUntil: (p) => void pending.push(p.catch(() => undefined)) }), {
    tenantId,
    actor: { type: who.actorType, id: who.actorId },
    role: who.role,
    credential: { id: who.credentialId ?? who.actorId, plan: 'free', expiresAt: null },
  });
}

/** Runs a built-in task tool with an already validated `input` (BUILTIN_INPUTS[name]). */
export async function runBuiltin(
  name: Exclude<BuiltinToolName, 'askUser'>,
  input: unknown,
  o: { env: Env; tenantId: string; initiator: RunInitiator | null },
): Promise<ToolOutcome> {
  if (!o.initiator)
    return { ok: false, error: { kind: 'forbidden', message: 'This run has no initiating caller, so it may not act on tasks.' } };
  const pending: Array<Promise<unknown>> = [];
  const ctx = initiatorCtx(o.env, o.tenantId, o.initiator, pending);
  try {
    return { ok: true, output: await verb(name, input, ctx) };
  } catch (err) {
    if (err instanceof AppError) {
      const fields = err.errors?.length ? ` (${err.errors.map((e) => `${e.path}: ${e.message}`).join('; ')})` : '';
      return { ok: false, error: { kind: err.code, message: `${err.message}${fields}` } };
    }
    throw err;
  } finally {
    await Promise.all(pending);
  }
}

async function verb(name: Exclude<BuiltinToolName, 'askUser'>, raw: unknown, ctx: ServiceCtx): Promise<unknown> {
  switch (name) {
    case 'createTask': {
      const input = BUILTIN_INPUTS.createTask.parse(raw);
      return tasks.createTask(ctx, parsed(TaskCreateSchema, input));
    }
    case 'completeTask': {
      const { taskId } = BUILTIN_INPUTS.completeTask.parse(raw);
      return tasks.completeTask(ctx, { id: taskId });
    }
    case 'rescheduleTask': {
      const { taskId, ...due } = BUILTIN_INPUTS.rescheduleTask.parse(raw);
      // One due at a time: setting one clears the other.
      const patch = {
        ...(due.dueDate !== undefined ? { dueDate: due.dueDate, ...(due.dueDate !== null ? { dueAt: null } : {}) } : {}),
        ...(due.dueAt !== undefined ? { dueAt: due.dueAt, ...(due.dueAt !== null ? { dueDate: null } : {}) } : {}),
        ...(due.timezone !== undefined ? { timezone: due.timezone } : {}),
      };
      return tasks.updateTask(ctx, { id: taskId, patch: parsed(TaskPatchSchema, patch) });
    }
    case 'deleteTask': {
      const { taskId } = BUILTIN_INPUTS.deleteTask.parse(raw);
      await tasks.deleteTask(ctx, { id: taskId });
      return { deleted: true, taskId };
    }
    case 'listTasks': {
      const { limit, ...filter } = BUILTIN_INPUTS.listTasks.parse(raw);
      const page = await tasks.listTasks(ctx, { ...filter, limit: limit ?? 20 });
      return page;
    }
    case 'setReminder': {
      const { taskId, at, before } = BUILTIN_INPUTS.setReminder.parse(raw);
      if ((at === undefined) === (before === undefined))
        throw new AppError('validation_failed', 'Give exactly one of at or before.', {
          errors: [{ in: 'body', path: 'at', pointer: '/at', message: 'Give exactly one of at or before', code: 'invalid' }],
        });
      const task = await tasks.getTask(ctx, { id: taskId });
      const reminders = [...task.reminders, at !== undefined ? { at } : { before: before! }];
      return tasks.updateTask(ctx, { id: taskId, patch: parsed(TaskPatchSchema, { reminders }), ifMatch: task.version });
    }
  }
}

/** Validates like the HTTP route does; failures become the 422 an HTTP client would get. */
function parsed<T>(
  schema: {
    safeParse(
      v: unknown,
    ): { success: true; data: T } | { success: false; error: { issues: Array<{ path: PropertyKey[]; message: string; code: string }> } };
  },
  value: unknown,
): T {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  throw new AppError('validation_failed', 'The tool input is not valid.', {
    errors: r.error.issues.map((i) => {
      const path = i.path.map(String).join('.');
      return { in: 'body' as const, path, pointer: `/${i.path.map(String).join('/')}`, message: i.message, code: i.code };
    }),
  });
}
