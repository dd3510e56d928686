/**
 * Mutations sent over the sync socket: `{ type: 'mutate', clientMutationId, op, taskId?, input?, ifMatch? }`.
 * A replay of the same clientMutationId (per actor) returns the first answer and applies nothing.
 */
import { z } from 'zod';
import type { Result } from '../../src/lib/result';
import type { Actor } from '../../src/tasks/model';
import { TaskCreateSchema, TaskPatchSchema } from '../../src/tasks/schemas';
import type { SocketAttachment } from './sync-sockets';
import type { OpContext } from './tasks';
import * as ops from './tasks';

const MessageSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('ping') }),
  z.object({
    type: z.literal('mutate'),
    clientMutationId: z.string().min(1).max(128),
    op: z.enum(['task.create', 'task.update', 'task.complete', 'task.reopen', 'task.delete']),
    taskId: z.string().max(64).optional(),
    input: z.unknown().optional(),
    ifMatch: z.number().int().optional(),
  }),
]);

export interface MutationRunner {
  run<T>(actor: Actor, fn: (ctx: OpContext) => Result<T>): Promise<Result<T>>;
}

type Reply = Record<string, unknown>;

export async function handleSocketMessage(
  raw: string | ArrayBuffer,
  who: SocketAttachment,
  storage: DurableObjectStorage,
  runner: MutationRunner,
): Promise<Reply | null> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(typeof raw === 'string' ? raw : new TextDecoder().decode(raw));
  } catch {
    return { type: 'error', code: 'malformed_json', detail: 'Messages are JSON.' };
  }
  const msg = MessageSchema.safeParse(parsed);
  if (!msg.success)
    return {
      type: 'error',
      code: 'validation_failed',
      detail: 'Unknown or invalid message.',
      errors: msg.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message })),
    };
  if (msg.data.type === 'ping') return { type: 'pong' };
  const m = msg.data;
  if (who.role === 'viewer')
    return { type: 'ack', clientMutationId: m.clientMutationId, ok: false, code: 'forbidden', detail: "Your role 'viewer' is read-only." };

  const key = `${who.actorId}:${m.clientMutationId}`;
  const seen = storage.sql.exec<{ response: string }>(`SELECT response FROM client_mutations WHERE key = ?`, key).toArray()[0];
  if (seen) return { ...(JSON.parse(seen.response) as Reply), replayed: true };

  const actor: Actor = { id: who.actorId, role: who.role };
  let result: Result<unknown>;
  if (m.op === 'task.create') {
    const input = TaskCreateSchema.safeParse(m.input);
    if (!input.success) return invalidInput(m.clientMutationId, input.error);
    result = await runner.run(actor, (ctx) => remember(ctx, key, m.clientMutationId, ops.createTask(ctx, input.data)));
  } else {
    if (!m.taskId)
      return { type: 'ack', clientMutationId: m.clientMutationId, ok: false, code: 'validation_failed', detail: 'taskId is required.' };
    const id = m.taskId;
    if (m.op === 'task.update') {
      const input = TaskPatchSchema.safeParse(m.input ?? {});
      if (!input.success) return invalidInput(m.clientMutationId, input.error);
      result = await runner.run(actor, (ctx) => remember(ctx, key, m.clientMutationId, ops.updateTask(ctx, id, input.data, m.ifMatch)));
    } else if (m.op === 'task.complete')
      result = await runner.run(actor, (ctx) => remember(ctx, key, m.clientMutationId, ops.completeTask(ctx, id, m.ifMatch)));
    else if (m.op === 'task.reopen')
      result = await runner.run(actor, (ctx) => remember(ctx, key, m.clientMutationId, ops.reopenTask(ctx, id, m.ifMatch)));
    else result = await runner.run(actor, (ctx) => remember(ctx, key, m.clientMutationId, ops.deleteTask(ctx, id, m.ifMatch)));
  }
  return ackOf(m.clientMutationId, result);
}

function ackOf(clientMutationId: string, r: Result<unknown>): Reply {
  return r.ok
    ? { type: 'ack', clientMutationId, ok: true, result: r.value }
    : { type: 'ack', clientMutationId, ok: false, code: r.code, detail: r.detail, errors: r.errors };
}

/** Stores the answer in the same transaction as the mutation, so a replay can never apply twice. */
function remember<T>(ctx: OpContext, key: string, clientMutationId: string, r: Result<T>): Result<T> {
  ctx.sql.exec(
    `INSERT INTO client_mutations (key, response, created_at) VALUES (?, ?, ?)`,
    key,
    JSON.stringify(ackOf(clientMutationId, r)),
    new Date(ctx.now).toISOString(),
  );
  return r;
}

function invalidInput(clientMutationId: string, error: z.ZodError): Reply {
  return {
    type: 'ack',
    clientMutationId,
    ok: false,
    code: 'validation_failed',
    detail: 'Invalid input.',
    errors: error.issues.map((i) => ({ path: i.path.join('.'), message: i.message, code: i.code })),
  };
}
