/**
 * The MCP tools: outcomes, not endpoints (find, add in batches, complete,
 * reschedule, delete; run a flow and answer its approval; invoke a tool;
 * search/fetch). Each one checks the permission the matching HTTP route
 * requires and calls the same service verb with the caller's ServiceCtx, so
 * tenant scope, audit and the run/tool machinery are the HTTP ones. Inputs are
 * zod schemas published as JSON Schema 2020-12 (src/mcp/server.ts).
 */
import { z } from 'zod';
import * as flowsService from '../flows/flows-service';
import { runState } from '../flows/run-lookup';
import type { RunView } from '../flows/run-model';
import * as runsApi from '../flows/runs-api';
import { can, type Permission } from '../identity/roles';
import * as knowledge from '../knowledge/knowledge-service';
import type { ServiceCtx } from '../lib/context';
import { decodeCursor, encodeCursor } from '../lib/pagination';
import { AppError } from '../lib/problem';
import type { McpScope } from '../oauth/scopes';
import type { Task } from '../tasks/model';
import { TaskCreateSchema, TaskPatchSchema } from '../tasks/schemas';
import * as tasks from '../tasks/service';
import { invoke } from '../tools/invoke';
import { onceFor } from './idempotency';

export interface ToolAnnotations {
  readOnlyHint: boolean;
  destructiveHint: boolean;
  idempotentHint: boolean;
  openWorldHint: boolean;
}

/** What a tool call sees besides its arguments. */
export interface ToolEnv {
  ctx: ServiceCtx;
  /** The public origin of this server (links in search/fetch results). */
  origin: string;
}

export interface McpTool<S extends z.ZodType = z.ZodType> {
  name: string;
  title: string;
  description: string;
  permission: Permission;
  /** The OAuth scope a token needs to call it (docs/mcp.md "OAuth"); API keys and access tokens hold every scope. */
  scope: McpScope;
  annotations: ToolAnnotations;
  /** MCP Tasks extension: whether a client may ask for a task instead of a result (src/mcp/run-tasks.ts). */
  taskSupport?: 'optional';
  input: S;
  run(env: ToolEnv, args: z.output<S>): Promise<unknown>;
}

const define = <S extends z.ZodType>(tool: McpTool<S>): McpTool => tool as unknown as McpTool;

const READ: ToolAnnotations = { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false };

/** Longest `run_flow` waits for a run to finish or stop at an approval before answering with its id. */
export const MAX_RUN_WAIT_SECONDS = 25;
const RUN_POLL_MS = 250;
const MAX_BATCH = 50;

const TaskId = z.string().min(1).max(64).describe('A task id (tsk_…)');
const TaskIds = z.array(TaskId).min(1).max(MAX_BATCH);

/** One item of a batch: its outcome, so one bad id does not hide what happened to the others. */
type ItemResult<T> =
  | { id: string; ok: true; task?: T }
  | { id: string; ok: false; error: { status: number; code: string; detail: string } };

async function each<T>(ids: string[], fn: (id: string) => Promise<T>): Promise<Array<ItemResult<T>>> {
  const out: Array<ItemResult<T>> = [];
  // In order, one at a time: the hub serializes writes anyway, and the results stay in the caller's order.
  for (const id of ids) {
    try {
      const task = await fn(id);
      out.push(task === undefined ? { id, ok: true } : { id, ok: true, task });
    } catch (err) {
      if (!(err instanceof AppError) || err.status >= 500 || err.code === 'rate_limited' || err.code === 'forbidden') throw err;
      out.push({ id, ok: false, error: { status: err.status, code: err.code, detail: err.message } });
    }
  }
  return out;
}

function summarize<T>(results: Array<ItemResult<T>>) {
  return { succeeded: results.filter((r) => r.ok).length, failed: results.filter((r) => !r.ok).length, results };
}

/** A compact task for listings (the model gets what it needs to act; fetch has the rest). */
function brief(t: Task) {
  return {
    id: t.id,
    title: t.title,
    status: t.status,
    priority: t.priority,
    labels: t.labels,
    dueDate: t.dueDate,
    dueAt: t.dueAt,
    recurrence: t.recurrence,
    assigneeId: t.assigneeId,
    version: t.version,
  };
}

const TERMINAL = new Set(['succeeded', 'failed', 'cancelled']);

/** What a client needs to follow a run: its status, what it waits for, and its output once done. */
export function runSummary(view: RunView) {
  const waitingOn = view.nodes.filter((n) => n.status === 'waiting').map((n) => ({ node: n.id, type: n.type }));
  return {
    runId: view.id,
    flowId: view.flowId,
    status: view.status,
    ...(TERMINAL.has(view.status) ? { output: view.output, error: view.error } : {}),
    ...(waitingOn.length > 0 ? { waitingOn } : {}),
    next: TERMINAL.has(view.status)
      ? 'The run is finished.'
      : waitingOn.some((w) => w.type === 'approval')
        ? 'The run waits for an approval: call answer_approval with runId and the node, then get_run.'
        : 'The run is still going: call get_run with runId to follow it.',
  };
}

/**
 * Polls the run until it finished, or stops at a node waiting for input (other than `answered`, the node just
 * signalled, which may still read as waiting for a moment), or `seconds` passed.
 */
async function waitForRun(ctx: ServiceCtx, runId: string, seconds: number, answered?: string): Promise<RunView> {
  const deadline = Date.now() + seconds * 1000;
  for (;;) {
    const view = await runState(ctx.env, runId);
    if (!view) throw new AppError('not_found', `Run ${runId} not found.`);
    const stopped = view.status === 'waiting' && view.nodes.some((n) => n.status === 'waiting' && n.id !== answered);
    if (TERMINAL.has(view.status) || stopped || Date.now() >= deadline) return view;
    await new Promise((resolve) => setTimeout(resolve, RUN_POLL_MS));
  }
}

/** Starts a run as POST /v1/flows/{id}/runs does (run_flow, and a task-augmented run_flow). */
export function startFlowRun(
  ctx: ServiceCtx,
  { flowId, input, version }: { flowId: string; input?: unknown; version?: number | undefined },
) {
  return runsApi.createRun(ctx, { flowId, input: input ?? {}, version });
}

const taskUrl = (origin: string, id: string) => `${origin}/v1/tasks/${id}`;

const documentUrl = (origin: string, kbId: string, docId: string) => `${origin}/v1/knowledge-bases/${kbId}/documents/${docId}`;

/** Knowledge bases `search` queries (the newest first) and the documents it returns at most. */
const SEARCH_KBS = 10;
const SEARCH_DOCS = 10;

/** `kb:<knowledgeBaseId>:<documentId>` → its parts; null for any other id (a task id). */
function parseDocumentRef(id: string): { knowledgeBaseId: string; id: string } | null {
  const m = /^kb:([^:]+):([^:]+)$/.exec(id);
  return m ? { knowledgeBaseId: m[1]!, id: m[2]! } : null;
}

/**
 * The tenant's knowledge bases queried as POST /v1/knowledge-bases/{id}/query does (hybrid), best
 * passage per document, best documents first. A base whose query fails for a client reason (its
 * embedding provider refused or is down) is listed in `skipped` instead of failing the search.
 */
async function searchDocuments(ctx: ServiceCtx, origin: string, query: string) {
  const kbs = await knowledge.listKnowledgeBases(ctx, { limit: SEARCH_KBS, cursor: undefined });
  const skipped: Array<{ knowledgeBaseId: string; code: string; detail: string }> = [];
  const hits = await Promise.all(
    kbs.data.map(async (kb) => {
      try {
        const res = await knowledge.queryKnowledgeBase(ctx, { knowledgeBaseId: kb.id, query, topK: 5, mode: 'hybrid' });
        return res.results.map((r) => ({ kbId: kb.id, ...r }));
      } catch (err) {
        if (!(err instanceof AppError) || err.code === 'rate_limited' || err.code === 'forbidden') throw err;
        skipped.push({ knowledgeBaseId: kb.id, code: err.code, detail: err.message });
        return [];
      }
    }),
  );
  const best = new Map<string, (typeof hits)[number][number]>();
  for (const h of hits.flat()) {
    const key = `kb:${h.kbId}:${h.documentId}`;
    if ((best.get(key)?.score ?? -Infinity) < h.score) best.set(key, h);
  }
  const results = [...best.entries()]
    .sort((a, b) => b[1].score - a[1].score)
    .slice(0, SEARCH_DOCS)
    .map(([id, h]) => ({ id, title: h.title, url: documentUrl(origin, h.kbId, h.documentId), text: h.text }));
  return { results, skipped };
}

export const TOOLS: McpTool[] = [
  define({
    name: 'find_tasks',
    title: 'Find tasks',
    description:
      'Find tasks by text, status, label, assignee or due range. Returns compact tasks and a cursor for the next page (pass it back as cursor).',
    permission: 'data:read',
    scope: 'tasks:read',
    annotations: READ,
    input: z.strictObject({
      q: z.string().max(200).optional().describe('Text to search in title and notes'),
      status: z.enum(['open', 'done']).optional(),
      label: z.string().max(64).optional(),
      assigneeId: z.string().max(64).optional().describe('A member user id'),
      dueFrom: z.string().max(40).optional().describe('Date (YYYY-MM-DD) or instant; due on or after'),
      dueTo: z.string().max(40).optional().describe('Date (YYYY-MM-DD) or instant; due on or before'),
      limit: z.number().int().min(1).max(100).default(25),
      cursor: z.string().max(512).optional(),
    }),
    async run({ ctx }, { cursor, ...filter }) {
      const page = await tasks.listTasks(ctx, { ...filter, after: decodeCursor(cursor) });
      return { tasks: page.data.map(brief), nextCursor: page.nextCursor ? encodeCursor(page.nextCursor) : null };
    },
  }),
  define({
    name: 'add_tasks',
    title: 'Add tasks',
    description:
      'Create up to 50 tasks in one call. Pass an idempotencyKey (any unique string) so a retry of the same call returns the first result instead of creating duplicates.',
    permission: 'data:write',
    scope: 'tasks:write',
    annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: false },
    input: z.strictObject({
      tasks: z.array(TaskCreateSchema).min(1).max(MAX_BATCH),
      idempotencyKey: z
        .string()
        .regex(/^[\x21-\x7e]{1,255}$/, '1 to 255 visible ASCII characters')
        .optional()
        .describe('Same key and same tasks: the first result again, nothing created twice'),
    }),
    async run({ ctx }, { tasks: items, idempotencyKey }) {
      // Stops at the first task refused; once some were created the partial outcome is the answer (and what a
      // retry with the key replays), so a retry never creates the first ones twice.
      const create = async () => {
        const created: Task[] = [];
        for (const [index, item] of items.entries()) {
          try {
            created.push(await tasks.createTask(ctx, item));
          } catch (err) {
            if (created.length === 0 || !(err instanceof AppError)) throw err;
            return { created: created.map(brief), failed: { index, status: err.status, code: err.code, detail: err.message } };
          }
        }
        return { created: created.map(brief) };
      };
      if (idempotencyKey === undefined) return { ...(await create()), replayed: false };
      const { result, replayed } = await onceFor(ctx, 'add_tasks', idempotencyKey, items, create);
      return { ...result, replayed };
    },
  }),
  define({
    name: 'complete_tasks',
    title: 'Complete tasks',
    description:
      'Mark tasks done. A recurring task moves to its next occurrence. Each id gets its own outcome; an unknown id does not stop the others.',
    permission: 'data:write',
    scope: 'tasks:write',
    annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: false },
    input: z.strictObject({ ids: TaskIds }),
    async run({ ctx }, { ids }) {
      return summarize(await each(ids, async (id) => brief(await tasks.completeTask(ctx, { id }))));
    },
  }),
  define({
    name: 'reschedule_tasks',
    title: 'Reschedule tasks',
    description:
      'Move tasks to a new due date (all-day, YYYY-MM-DD) or due instant (ISO 8601 with offset), or clear the due with both null.',
    permission: 'data:write',
    scope: 'tasks:write',
    annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: true, openWorldHint: false },
    input: z.strictObject({
      items: z
        .array(
          z.strictObject({
            id: TaskId,
            dueDate: TaskPatchSchema.shape.dueDate,
            dueAt: TaskPatchSchema.shape.dueAt,
          }),
        )
        .min(1)
        .max(MAX_BATCH),
    }),
    async run({ ctx }, { items }) {
      const byId = new Map(items.map((i) => [i.id, i]));
      return summarize(
        await each(
          items.map((i) => i.id),
          async (id) => {
            const item = byId.get(id)!;
            const patch = TaskPatchSchema.parse({
              ...(item.dueDate !== undefined ? { dueDate: item.dueDate } : {}),
              ...(item.dueAt !== undefined ? { dueAt: item.dueAt } : {}),
              // Moving to one kind of due clears the other.
              ...(item.dueDate ? { dueAt: null } : {}),
              ...(item.dueAt ? { dueDate: null } : {}),
            });
            return brief(await tasks.updateTask(ctx, { id, patch }));
          },
        ),
      );
    },
  }),
  define({
    name: 'delete_tasks',
    title: 'Delete tasks',
    description: 'Delete tasks for good. Each id gets its own outcome.',
    permission: 'data:write',
    scope: 'tasks:write',
    annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: false },
    input: z.strictObject({ ids: TaskIds }),
    async run({ ctx }, { ids }) {
      return summarize(
        await each(ids, async (id) => {
          await tasks.deleteTask(ctx, { id });
          return undefined;
        }),
      );
    },
  }),
  define({
    name: 'list_flows',
    title: 'List flows',
    description: "The tenant's flows (id, name, latest version), newest first, to pick one for run_flow.",
    permission: 'data:read',
    scope: 'flows:run',
    annotations: READ,
    input: z.strictObject({ limit: z.number().int().min(1).max(100).default(25), cursor: z.string().max(512).optional() }),
    async run({ ctx }, { limit, cursor }) {
      const page = await flowsService.listFlows(ctx, { limit, cursor });
      return { flows: page.data, nextCursor: page.nextCursor };
    },
  }),
  define({
    name: 'run_flow',
    title: 'Run a flow',
    description: `Start a run of a flow with an input and wait up to waitSeconds (at most ${MAX_RUN_WAIT_SECONDS}) for it to finish or stop at an approval. Returns the runId and status: follow a run still going with get_run, answer an approval with answer_approval.`,
    permission: 'data:write',
    scope: 'flows:run',
    annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: true },
    taskSupport: 'optional',
    input: z.strictObject({
      flowId: z.string().min(1).max(64),
      input: z.unknown().optional().describe("The run's input (checked against the flow's input schema)"),
      version: z.number().int().min(1).optional().describe('A flow version; default the latest'),
      waitSeconds: z.number().int().min(0).max(MAX_RUN_WAIT_SECONDS).default(20),
    }),
    async run({ ctx }, { flowId, input, version, waitSeconds }) {
      const started = await startFlowRun(ctx, { flowId, input, version });
      return runSummary(await waitForRun(ctx, started.id, waitSeconds));
    },
  }),
  define({
    name: 'get_run',
    title: 'Get a run',
    description: "A run's status, what it waits for, its output once finished and each node's state.",
    permission: 'data:read',
    scope: 'flows:run',
    annotations: READ,
    input: z.strictObject({ runId: z.string().min(1).max(64) }),
    async run({ ctx }, { runId }) {
      const view = await runsApi.getRun(ctx, { id: runId });
      return {
        ...runSummary(view),
        nodes: view.nodes.map((n) => ({ id: n.id, type: n.type, status: n.status, error: n.error })),
      };
    },
  }),
  define({
    name: 'answer_approval',
    title: 'Answer an approval',
    description:
      'Answer a run waiting at an approval node: approve or reject, with an optional comment and extra fields for the flow. The approver recorded is you (your credential), never a value in the payload. Then waits briefly and returns the run status.',
    permission: 'data:write',
    scope: 'flows:run',
    annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: false },
    input: z.strictObject({
      runId: z.string().min(1).max(64),
      node: z.string().min(1).max(64).optional().describe('The approval node id; optional when only one node waits'),
      approved: z.boolean(),
      comment: z.string().max(2000).optional(),
      data: z.record(z.string(), z.unknown()).optional().describe('Extra fields the flow reads from the approval output'),
      waitSeconds: z.number().int().min(0).max(MAX_RUN_WAIT_SECONDS).default(5),
    }),
    async run({ ctx }, { runId, node, approved, comment, data, waitSeconds }) {
      const signalled = await runsApi.signalRun(ctx, {
        id: runId,
        node,
        payload: { ...data, approved, ...(comment !== undefined ? { comment } : {}) },
      });
      const answered = node ?? signalled.nodes.find((n) => n.type === 'approval' && n.status !== 'waiting')?.id;
      return runSummary(await waitForRun(ctx, runId, waitSeconds, answered));
    },
  }),
  define({
    name: 'invoke_tool',
    title: 'Invoke a tool',
    description:
      "Run one of the tenant's registered tools (POST /v1/tools/{id}/invoke) on an input. Returns ok with the output, or the tool's typed error.",
    permission: 'data:write',
    scope: 'tools:invoke',
    annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: true },
    input: z.strictObject({
      toolId: z.string().min(1).max(64),
      input: z.unknown().optional(),
      version: z.number().int().min(1).optional(),
    }),
    async run({ ctx }, { toolId, input, version }) {
      return invoke(ctx, { toolId, input, version });
    },
  }),
  define({
    name: 'search',
    title: 'Search',
    description:
      "Search the tenant's tasks and knowledge-base documents by text (documents by hybrid keyword and semantic retrieval). Returns ids, titles, URLs and, for documents, the best matching passage; read one in full with fetch.",
    permission: 'data:read',
    scope: 'tasks:read',
    annotations: READ,
    input: z.strictObject({ query: z.string().min(1).max(200) }),
    async run({ ctx, origin }, { query }) {
      const [page, documents] = await Promise.all([tasks.listTasks(ctx, { q: query, limit: 20 }), searchDocuments(ctx, origin, query)]);
      return {
        results: [...page.data.map((t) => ({ id: t.id, title: t.title, url: taskUrl(origin, t.id) })), ...documents.results],
        ...(documents.skipped.length > 0 ? { skipped: documents.skipped } : {}),
      };
    },
  }),
  define({
    name: 'fetch',
    title: 'Fetch',
    description:
      'Read one search result in full by its id: a task (tsk_…) or a knowledge-base document (kb:<knowledgeBaseId>:<documentId>).',
    permission: 'data:read',
    scope: 'tasks:read',
    annotations: READ,
    input: z.strictObject({ id: z.string().min(1).max(200).describe('An id from search: tsk_… or kb:<knowledgeBaseId>:<documentId>') }),
    async run({ ctx, origin }, { id }) {
      const docRef = parseDocumentRef(id);
      if (docRef) {
        const { document: d, text } = await knowledge.readDocumentText(ctx, docRef);
        return {
          id,
          title: d.title,
          text,
          url: documentUrl(origin, d.knowledgeBaseId, d.id),
          metadata: {
            ...d.metadata,
            knowledgeBaseId: d.knowledgeBaseId,
            documentId: d.id,
            source: d.source,
            contentType: d.contentType,
            status: d.status,
            version: d.version,
            indexedVersion: d.indexedVersion,
          },
        };
      }
      const t = await tasks.getTask(ctx, { id });
      const lines = [
        t.title,
        t.notes ?? '',
        `status: ${t.status}`,
        `due: ${t.dueAt ?? t.dueDate ?? 'none'}`,
        `labels: ${t.labels.join(', ') || 'none'}`,
      ];
      return {
        id: t.id,
        title: t.title,
        text: lines.filter(Boolean).join('\n'),
        url: taskUrl(origin, t.id),
        metadata: { status: t.status, priority: t.priority, labels: t.labels, dueDate: t.dueDate, dueAt: t.dueAt, version: t.version },
      };
    },
  }),
];

export const TOOLS_BY_NAME = new Map(TOOLS.map((t) => [t.name, t]));

/** 403 unless the caller's role grants the tool's permission (the HTTP route's guard, for a tool). */
export function assertToolAllowed(ctx: ServiceCtx, tool: McpTool): void {
  if (!can(ctx.role, tool.permission)) {
    throw new AppError('forbidden', `Your role '${ctx.role}' does not allow '${tool.permission}' (needed by ${tool.name}).`);
  }
}
