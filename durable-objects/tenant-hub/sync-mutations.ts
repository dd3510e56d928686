/**
 * Mutations sent over the sync socket: `{ type: 'mutate', clientMutationId, op, taskId?, input?, ifMatch? }`.
 * A frame is the same write as its HTTP request: the same zod schemas and field errors, the same
 * service verbs (src/tasks/service.ts: permission, assignee membership) and the same rate limit per
 * credential; only the hub step runs in place. A replay of the same clientMutationId (per actor)
 * returns the first answer and applies nothing.
 */
import { z } from 'zod';
import { chargeCaller } from '../../src/lib/caller-limit';
import type { ServiceCtx } from '../../src/lib/context';
import { AppError } from '../../src/lib/problem';
import { type Result, unwrap } from '../../src/lib/result';
import { validationError } from '../../src/lib/validation';
import type { Actor } from '../../src/tasks/model';
import { TaskCreateSchema, TaskPatchSchema } from '../../src/tasks/schemas';
import * as tasks from '../../src/tasks/service';
import type { OpContext } from './tasks';
import * as ops from './tasks';

const MessageSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('ping') }),
  z.object({
    type: z.literal('mutate'),
    clientMutationId: z.string().min(1).max(128),
    op: z.enum(['task.create', 'task.update', 'task.complete', 'task.reopen', 'task.delete']),
    taskId: z.string().min(1).max(64).optional(),
    input: z.unknown().optional(),
    ifMatch: z.number().int().optional(),
  }),
]);
type Mutate = Extract<z.infer<typeof MessageSchema>, { type: 'mutate' }>;

/** Runs `fn` as one hub transaction (then pushes its changes), as the hub's RPC methods do. */
export interface MutationRunner {
  run<T>(actor: Actor, fn: (ctx: OpContext) => Result<T>): Promise<Result<T>>;
}

type Reply = Record<string, unknown>;

export async function handleSocketMessage(
  raw: string | ArrayBuffer,
  ctx: ServiceCtx,
  storage: DurableObjectStorage,
  runner: MutationRunner,
): Promise<Reply | null> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(typeof raw === 'string' ? raw : new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(raw));
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

  const key = `${ctx.actor.id}:${m.clientMutationId}`;
  const seen = answered(storage.sql, key);
  if (seen) return { ...seen, replayed: true };

  try {
    await chargeCaller(ctx.env, ctx);
    const result = await apply(m, { ...ctx, taskWriter: writerFor(runner, key, m.clientMutationId) });
    return { type: 'ack', clientMutationId: m.clientMutationId, ok: true, result };
  } catch (err) {
    if (err instanceof Replayed) return { ...err.reply, replayed: true };
    if (err instanceof AppError) return failureAck(m.clientMutationId, err);
    throw err;
  }
}

function answered(sql: SqlStorage, key: string): Reply | null {
  const row = sql.exec<{ response: string }>(`SELECT response FROM client_mutations WHERE key = ?`, key).toArray()[0];
  return row ? (JSON.parse(row.response) as Reply) : null;
}

/**
 * A duplicate frame that passed the first check while its twin was still on the way (the verb awaits
 * D1 and the rate limiter): found again inside the transaction, it aborts it and answers the first reply.
 */
class Replayed extends Error {
  constructor(readonly reply: Reply) {
    super('replayed');
  }
}

/** The frame as the HTTP route would run it: validate like the route, then the same verb. */
async function apply(m: Mutate, ctx: tasks.TaskCtx): Promise<unknown> {
  if (m.op === 'task.create') return tasks.createTask(ctx, parse(TaskCreateSchema, m.input));
  if (!m.taskId) throw new AppError('validation_failed', 'taskId is required.', { errors: [field('taskId', 'Required', 'invalid_type')] });
  const ref = { id: m.taskId, ifMatch: m.ifMatch };
  switch (m.op) {
    case 'task.update':
      return tasks.updateTask(ctx, { ...ref, patch: parse(TaskPatchSchema, m.input ?? {}) });
    case 'task.complete':
      return tasks.completeTask(ctx, ref);
    case 'task.reopen':
      return tasks.reopenTask(ctx, ref);
    case 'task.delete':
      return tasks.deleteTask(ctx, ref);
  }
}

function parse<S extends z.ZodTypeAny>(schema: S, input: unknown): z.output<S> {
  const r = schema.safeParse(input);
  if (!r.success) throw validationError(r.error, 'json');
  return r.data;
}

function field(path: string, message: string, code: string) {
  return { in: 'body' as const, path, pointer: `/${path}`, message, code };
}

/** The failure as the HTTP problem has it: same code, status, detail and field errors. */
function failureAck(clientMutationId: string, err: AppError): Reply {
  return {
    type: 'ack',
    clientMutationId,
    ok: false,
    code: err.code,
    status: err.status,
    detail: err.message,
    ...(err.errors?.length ? { errors: err.errors } : {}),
  };
}

/** The hub's writes for this frame, each remembering its answer in the same transaction (a replay never applies twice). */
function writerFor(runner: MutationRunner, key: string, clientMutationId: string): tasks.TaskWriter {
  const run = <T>(actor: Actor, fn: (c: OpContext) => Result<T>) =>
    runner.run(actor, (c) => {
      const seen = answered(c.sql, key);
      if (seen) throw new Replayed(seen);
      return remember(c, key, clientMutationId, fn(c));
    });
  return {
    createTask: async (_t, actor, input) => run(actor, (c) => ops.createTask(c, input)),
    updateTask: async (_t, actor, id, patch, ifMatch) => run(actor, (c) => ops.updateTask(c, id, patch, ifMatch)),
    completeTask: async (_t, actor, id, ifMatch) => run(actor, (c) => ops.completeTask(c, id, ifMatch)),
    reopenTask: async (_t, actor, id, ifMatch) => run(actor, (c) => ops.reopenTask(c, id, ifMatch)),
    deleteTask: async (_t, actor, id, ifMatch) => run(actor, (c) => ops.deleteTask(c, id, ifMatch)),
  };
}

/** How long a replayed clientMutationId still gets its first answer (as long as an Idempotency-Key). */
export const CLIENT_MUTATION_TTL_MS = 24 * 3600_000;
/** Oldest rows looked at per write: pruning keeps pace with inserts (one per write) at a bounded cost. */
const PRUNE_BATCH = 20;

/** Stores the ack the client will get, in the mutation's transaction, and forgets a few expired ones. */
function remember<T>(ctx: OpContext, key: string, clientMutationId: string, r: Result<T>): Result<T> {
  let ack: Reply = { type: 'ack', clientMutationId, ok: true, result: r.ok ? r.value : null };
  try {
    unwrap(r);
  } catch (err) {
    ack = failureAck(clientMutationId, err as AppError);
  }
  ctx.sql.exec(
    `INSERT INTO client_mutations (key, response, created_at) VALUES (?, ?, ?)`,
    key,
    JSON.stringify(ack),
    new Date(ctx.now).toISOString(),
  );
  // Rowids grow with inserts, so the oldest rows are the first by rowid: no index on created_at needed.
  ctx.sql.exec(
    `DELETE FROM client_mutations WHERE rowid IN (SELECT rowid FROM client_mutations ORDER BY rowid LIMIT ?) AND created_at < ?`,
    PRUNE_BATCH,
    new Date(ctx.now - CLIENT_MUTATION_TTL_MS).toISOString(),
  );
  return r;
}
