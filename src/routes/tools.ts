/** /v1/tools: the tool registry (CRUD, versions), invocation and its log. Read `data:read`; write and invoke `data:write`. */
import { createRoute, z } from '@hono/zod-openapi';
import { BearerAuth, jsonBody, jsonContent, problemResponses } from '../lib/openapi';
import { PageQuerySchema, pageSchema } from '../lib/pagination';
import { newRouter } from '../lib/router';
import { invoke } from '../tools/invoke';
import {
  CreateToolBody,
  InvocationRecordSchema,
  InvocationResultSchema,
  InvokeBody,
  ToolSchema,
  ToolSummarySchema,
  ToolVersionSchema,
  UpdateToolBody,
} from '../tools/model';
import * as registry from '../tools/registry';
import { guarded } from './deps';

const tags = ['Tools'];
const ToolIdParam = z.object({
  toolId: z
    .string()
    .min(1)
    .max(64)
    .openapi({ param: { name: 'toolId', in: 'path' }, example: 'tol_01hzy0000000000000000000000' }),
});

export const toolRoutes = newRouter()
  .openapi(
    createRoute({
      method: 'post',
      path: '/v1/tools',
      operationId: 'tools.create',
      tags,
      summary: 'Register a tool (version 1)',
      middleware: guarded('data:write'),
      security: BearerAuth,
      request: { body: jsonBody(CreateToolBody) },
      responses: { 201: jsonContent(ToolSchema, 'Tool created'), ...problemResponses([409]) },
    }),
    async (c) => c.json(await registry.createTool(c.var.ctx, c.req.valid('json')), 201),
  )
  .openapi(
    createRoute({
      method: 'get',
      path: '/v1/tools',
      operationId: 'tools.list',
      tags,
      summary: 'List tools (newest first, without code or schemas)',
      middleware: guarded('data:read'),
      security: BearerAuth,
      request: { query: PageQuerySchema },
      responses: { 200: jsonContent(pageSchema(ToolSummarySchema, 'ToolPage'), 'Tools'), ...problemResponses() },
    }),
    async (c) => c.json(await registry.listTools(c.var.ctx, c.req.valid('query')), 200),
  )
  .openapi(
    createRoute({
      method: 'get',
      path: '/v1/tools/{toolId}',
      operationId: 'tools.get',
      tags,
      summary: 'Get a tool with its latest version',
      middleware: guarded('data:read'),
      security: BearerAuth,
      request: { params: ToolIdParam },
      responses: { 200: jsonContent(ToolSchema, 'The tool'), ...problemResponses() },
    }),
    async (c) => c.json(await registry.getTool(c.var.ctx, { id: c.req.valid('param').toolId }), 200),
  )
  .openapi(
    createRoute({
      method: 'patch',
      path: '/v1/tools/{toolId}',
      operationId: 'tools.update',
      tags,
      summary: 'Change a tool; changing code, schemas, runtime or limits adds a version',
      middleware: guarded('data:write'),
      security: BearerAuth,
      request: { params: ToolIdParam, body: jsonBody(UpdateToolBody) },
      responses: { 200: jsonContent(ToolSchema, 'The tool after the change'), ...problemResponses([409]) },
    }),
    async (c) => c.json(await registry.updateTool(c.var.ctx, { id: c.req.valid('param').toolId, patch: c.req.valid('json') }), 200),
  )
  .openapi(
    createRoute({
      method: 'delete',
      path: '/v1/tools/{toolId}',
      operationId: 'tools.delete',
      tags,
      summary: 'Delete a tool and its versions (its invocation log stays)',
      middleware: guarded('data:write'),
      security: BearerAuth,
      request: { params: ToolIdParam },
      responses: { 204: { description: 'Deleted' }, ...problemResponses() },
    }),
    async (c) => {
      await registry.deleteTool(c.var.ctx, { id: c.req.valid('param').toolId });
      return c.body(null, 204);
    },
  )
  .openapi(
    createRoute({
      method: 'get',
      path: '/v1/tools/{toolId}/versions',
      operationId: 'tools.listVersions',
      tags,
      summary: "List a tool's immutable versions (newest first)",
      middleware: guarded('data:read'),
      security: BearerAuth,
      request: { params: ToolIdParam, query: PageQuerySchema },
      responses: { 200: jsonContent(pageSchema(ToolVersionSchema, 'ToolVersionPage'), 'Versions'), ...problemResponses() },
    }),
    async (c) => c.json(await registry.listVersions(c.var.ctx, { ...c.req.valid('query'), id: c.req.valid('param').toolId }), 200),
  )
  .openapi(
    createRoute({
      method: 'post',
      path: '/v1/tools/{toolId}/invoke',
      operationId: 'tools.invoke',
      tags,
      summary: 'Run a tool in the sandbox on one input',
      description:
        'Validates `input` against the inputSchema (422 with field paths), runs the tool, validates its output against the outputSchema. ' +
        'The tool ran: 200 with `ok: true` and `output`, or `ok: false` and a typed `error` (`timeout`, `memory_limit`, `exit_nonzero`, `invalid_output`, `sandbox_error`). ' +
        'The runner could not run it (busy or unreachable): 503 with Retry-After.',
      middleware: guarded('data:write'),
      security: BearerAuth,
      request: { params: ToolIdParam, body: jsonBody(InvokeBody) },
      responses: { 200: jsonContent(InvocationResultSchema, 'The invocation result'), ...problemResponses([503]) },
    }),
    async (c) => c.json(await invoke(c.var.ctx, { ...c.req.valid('json'), toolId: c.req.valid('param').toolId }), 200),
  )
  .openapi(
    createRoute({
      method: 'get',
      path: '/v1/tools/{toolId}/invocations',
      operationId: 'tools.listInvocations',
      tags,
      summary: "A tool's invocation log (newest first): outcome, duration, bytes",
      middleware: guarded('data:read'),
      security: BearerAuth,
      request: { params: ToolIdParam, query: PageQuerySchema },
      responses: { 200: jsonContent(pageSchema(InvocationRecordSchema, 'ToolInvocationPage'), 'Invocations'), ...problemResponses() },
    }),
    async (c) => c.json(await registry.listInvocations(c.var.ctx, { ...c.req.valid('query'), id: c.req.valid('param').toolId }), 200),
  );
