/** /v1/tasks: CRUD, complete/reopen, history. The hub (TenantHub) does the work. */
import { createRoute, z } from '@hono/zod-openapi';
import { BearerAuth, jsonBody, jsonContent, jsonText, problemResponses } from '../lib/openapi';
import { decodeCursor, encodeCursor, PageQuerySchema, pageSchema } from '../lib/pagination';
import { newRouter } from '../lib/router';
import { confirmQuickAdd, quickAdd } from '../tasks/quick-add';
import { HistoryEntrySchema, TaskCreateSchema, TaskListQuery, TaskPatchSchema, TaskSchema } from '../tasks/schemas';
import * as tasks from '../tasks/service';
import { guarded } from './deps';

const tags = ['Tasks'];
const TaskPageSchema = pageSchema(TaskSchema, 'TaskPage');
const TaskIdParam = z.object({
  taskId: z
    .string()
    .min(1)
    .max(64)
    .openapi({ param: { name: 'taskId', in: 'path' }, example: 'tsk_01m80cq2cyrgkmxygsr14g3x78' }),
});
const IfMatch = z.object({
  'if-match': z.string().optional().openapi({ description: 'ETag from a previous read (e.g. "v12"); a stale one answers 412' }),
});
const withEtag = (description: string) => ({
  ...jsonContent(TaskSchema, description),
  headers: { ETag: { schema: { type: 'string' as const }, description: 'The task version' } },
});

const QuickAddBody = z
  .strictObject({
    text: z.string().trim().min(1).max(500).openapi({ example: 'pay rent every 1st at 9am remind me 1 day before #home p1' }),
    timezone: z.string().min(1).max(64).optional().openapi({
      example: 'Europe/Berlin',
      description: "IANA time zone to read the text in; default: your profile's, else the tenant's, else UTC",
    }),
  })
  .openapi('QuickAddRequest');

const LocalDateTimeSchema = z.object({ date: z.string(), time: z.string().nullable() });
const ParsedSchema = z
  .object({
    intent: z.enum(['create', 'complete', 'reschedule', 'delete', 'list', 'remind']),
    title: z.string(),
    due: LocalDateTimeSchema.nullable(),
    recurrence: z.object({ rrule: z.string(), from: z.enum(['due', 'completion']) }).nullable(),
    reminders: z.array(z.union([z.object({ before: z.string() }), z.object({ at: LocalDateTimeSchema })])),
    priority: z.number().int().nullable(),
    labels: z.array(z.string()),
    list: z.object({ range: z.string().optional(), label: z.string().optional() }).optional(),
    confidence: z.number(),
  })
  .openapi('QuickAddParsed');

const QuickAddResultSchema = z
  .object({
    intent: ParsedSchema.shape.intent,
    task: z.union([TaskSchema, z.null()]),
    tasks: z.array(TaskSchema).optional(),
    parsed: z.union([ParsedSchema, z.null()]).openapi({ description: 'What the text was understood as (null on a confirmation)' }),
    candidates: z
      .array(TaskSchema)
      .optional()
      .openapi({ description: 'A destructive intent held back: the open tasks it may mean (act on one with confirmation.token)' }),
    confirmation: z
      .object({ token: z.string(), expiresAt: z.string().openapi({ format: 'date-time' }) })
      .optional()
      .openapi({ description: 'POST it to /v1/tasks/quick-add/confirm with the chosen taskId' }),
    timezone: z
      .object({ timezone: z.string(), source: z.enum(['request', 'member', 'tenant', 'utc']) })
      .optional()
      .openapi({ description: "The zone the text was read in and whose it is: the request's, your profile's, the tenant's or UTC" }),
  })
  .openapi('QuickAddResult');

const QuickAddConfirmBody = z
  .strictObject({
    token: z.string().min(1).max(8000),
    taskId: z.string().min(1).max(64),
  })
  .openapi('QuickAddConfirmRequest');

export const taskRoutes = newRouter()
  .openapi(
    createRoute({
      method: 'post',
      path: '/v1/tasks/quick-add',
      operationId: 'tasks.quickAdd',
      tags,
      summary: 'Natural-language entry: create, complete, reschedule, delete, list or remind from one line of text',
      middleware: guarded('data:write'),
      security: BearerAuth,
      request: { body: jsonBody(QuickAddBody) },
      responses: {
        201: jsonContent(QuickAddResultSchema, 'A task was created (intent create or remind)'),
        200: jsonContent(
          QuickAddResultSchema,
          'The action was applied (complete, reschedule, delete, list), or held back with candidates and a confirmation token',
        ),
        ...problemResponses(),
      },
    }),
    async (c) => {
      const { text, timezone } = c.req.valid('json');
      const result = await quickAdd(c.var.ctx, { text, timezone });
      if (result.task && result.intent !== 'delete' && result.intent !== 'list') c.header('etag', tasks.etagOf(result.task.version));
      return c.json(result, result.intent === 'create' || result.intent === 'remind' ? 201 : 200);
    },
  )
  .openapi(
    createRoute({
      method: 'post',
      path: '/v1/tasks/quick-add/confirm',
      operationId: 'tasks.quickAddConfirm',
      tags,
      summary: 'Act on a held-back quick add (complete, reschedule, delete) for the candidate chosen, at the version shown',
      middleware: guarded('data:write'),
      security: BearerAuth,
      request: { body: jsonBody(QuickAddConfirmBody) },
      responses: { 200: jsonContent(QuickAddResultSchema, 'The action was applied'), ...problemResponses([412]) },
    }),
    async (c) => {
      const result = await confirmQuickAdd(c.var.ctx, c.req.valid('json'));
      if (result.task && result.intent !== 'delete') c.header('etag', tasks.etagOf(result.task.version));
      return c.json(result, 200);
    },
  )
  .openapi(
    createRoute({
      method: 'post',
      path: '/v1/tasks',
      operationId: 'tasks.create',
      tags,
      summary: 'Create a task',
      middleware: guarded('data:write'),
      security: BearerAuth,
      request: { body: jsonBody(TaskCreateSchema) },
      responses: { 201: withEtag('Created'), ...problemResponses() },
    }),
    async (c) => {
      const task = await tasks.createTask(c.var.ctx, c.req.valid('json'));
      c.header('etag', tasks.etagOf(task.version));
      c.header('location', `/v1/tasks/${task.id}`);
      return c.json(task, 201);
    },
  )
  .openapi(
    createRoute({
      method: 'get',
      path: '/v1/tasks',
      operationId: 'tasks.list',
      tags,
      summary: 'List tasks (filters: status, due range, label, assignee, text)',
      middleware: guarded('data:read'),
      security: BearerAuth,
      request: { query: TaskListQuery },
      responses: { 200: jsonContent(TaskPageSchema, 'Tasks in creation order'), ...problemResponses() },
    }),
    async (c) => {
      const { cursor, ...q } = c.req.valid('query');
      const page = await tasks.listTasksJson(c.var.ctx, { ...q, after: decodeCursor(cursor) });
      // The tasks' stored JSON as it is (the TaskPage schema): nothing parsed or serialized again per task.
      const nextCursor = page.nextCursor ? encodeCursor(page.nextCursor) : null;
      return jsonText<z.infer<typeof TaskPageSchema>>(c, `{"data":${page.json},"nextCursor":${JSON.stringify(nextCursor)}}`);
    },
  )
  .openapi(
    createRoute({
      method: 'get',
      path: '/v1/tasks/{taskId}',
      operationId: 'tasks.get',
      tags,
      summary: 'Get a task (ETag carries its version)',
      middleware: guarded('data:read'),
      security: BearerAuth,
      request: { params: TaskIdParam },
      responses: { 200: withEtag('The task'), ...problemResponses() },
    }),
    async (c) => {
      const task = await tasks.getTask(c.var.ctx, { id: c.req.valid('param').taskId });
      c.header('etag', tasks.etagOf(task.version));
      return c.json(task, 200);
    },
  )
  .openapi(
    createRoute({
      method: 'patch',
      path: '/v1/tasks/{taskId}',
      operationId: 'tasks.update',
      tags,
      summary: 'Update a task (send If-Match for optimistic concurrency)',
      middleware: guarded('data:write'),
      security: BearerAuth,
      request: { params: TaskIdParam, headers: IfMatch, body: jsonBody(TaskPatchSchema) },
      responses: { 200: withEtag('Updated'), ...problemResponses([412]) },
    }),
    async (c) => {
      const task = await tasks.updateTask(c.var.ctx, {
        id: c.req.valid('param').taskId,
        patch: c.req.valid('json'),
        ifMatch: tasks.parseIfMatch(c.req.header('if-match')),
      });
      c.header('etag', tasks.etagOf(task.version));
      return c.json(task, 200);
    },
  )
  .openapi(
    createRoute({
      method: 'delete',
      path: '/v1/tasks/{taskId}',
      operationId: 'tasks.delete',
      tags,
      summary: 'Delete a task',
      middleware: guarded('data:write'),
      security: BearerAuth,
      request: { params: TaskIdParam, headers: IfMatch },
      responses: { 204: { description: 'Deleted' }, ...problemResponses([412]) },
    }),
    async (c) => {
      await tasks.deleteTask(c.var.ctx, { id: c.req.valid('param').taskId, ifMatch: tasks.parseIfMatch(c.req.header('if-match')) });
      return c.body(null, 204);
    },
  )
  .openapi(
    createRoute({
      method: 'post',
      path: '/v1/tasks/{taskId}/complete',
      operationId: 'tasks.complete',
      tags,
      summary: 'Complete a task; a recurring one moves to its next occurrence and records this one in its history',
      middleware: guarded('data:write'),
      security: BearerAuth,
      request: { params: TaskIdParam, headers: IfMatch },
      responses: { 200: withEtag('The task after completion'), ...problemResponses([412]) },
    }),
    async (c) => {
      const task = await tasks.completeTask(c.var.ctx, {
        id: c.req.valid('param').taskId,
        ifMatch: tasks.parseIfMatch(c.req.header('if-match')),
      });
      c.header('etag', tasks.etagOf(task.version));
      return c.json(task, 200);
    },
  )
  .openapi(
    createRoute({
      method: 'post',
      path: '/v1/tasks/{taskId}/reopen',
      operationId: 'tasks.reopen',
      tags,
      summary: 'Reopen a completed task',
      middleware: guarded('data:write'),
      security: BearerAuth,
      request: { params: TaskIdParam, headers: IfMatch },
      responses: { 200: withEtag('The reopened task'), ...problemResponses([412]) },
    }),
    async (c) => {
      const task = await tasks.reopenTask(c.var.ctx, {
        id: c.req.valid('param').taskId,
        ifMatch: tasks.parseIfMatch(c.req.header('if-match')),
      });
      c.header('etag', tasks.etagOf(task.version));
      return c.json(task, 200);
    },
  )
  .openapi(
    createRoute({
      method: 'get',
      path: '/v1/tasks/{taskId}/history',
      operationId: 'tasks.history',
      tags,
      summary: 'Completed occurrences of a task, newest first',
      middleware: guarded('data:read'),
      security: BearerAuth,
      request: { params: TaskIdParam, query: PageQuerySchema },
      responses: { 200: jsonContent(pageSchema(HistoryEntrySchema, 'TaskHistoryPage'), 'History'), ...problemResponses() },
    }),
    async (c) => {
      const q = c.req.valid('query');
      const page = await tasks.taskHistory(c.var.ctx, { id: c.req.valid('param').taskId, limit: q.limit, after: decodeCursor(q.cursor) });
      return c.json({ data: page.data, nextCursor: page.nextCursor ? encodeCursor(page.nextCursor) : null }, 200);
    },
  );
