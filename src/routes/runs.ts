/** /v1/runs: list, state, live events (SSE, WebSocket), cancel, signal, resume, rerun. */
import { createRoute, z } from '@hono/zod-openapi';
import * as runsApi from '../flows/runs-api';
import { CancelBody, RerunBody, RunListQuery, RunSchema, RunSummarySchema, SignalBody } from '../flows/schemas';
import { BearerAuth, jsonBody, jsonContent, problemResponses } from '../lib/openapi';
import { pageSchema } from '../lib/pagination';
import { AppError } from '../lib/problem';
import { newRouter } from '../lib/router';
import { guarded } from './deps';
import { RUN_EVENT_STREAM } from './run-event-schemas';

const tags = ['Runs'];
const RunIdParam = z.object({
  runId: z
    .string()
    .min(1)
    .max(160)
    .openapi({ param: { name: 'runId', in: 'path' } }),
});
const TicketQuery = z.object({
  ticket: z
    .string()
    .optional()
    .openapi({
      param: { name: 'ticket', in: 'query' },
      description: 'A stream ticket (POST /v1/stream-tickets), where headers cannot be set',
    }),
});
const optionalBody = <T extends z.ZodType>(schema: T) => ({ required: false, content: { 'application/json': { schema } } });

export const runRoutes = newRouter()
  .openapi(
    createRoute({
      method: 'get',
      path: '/v1/runs',
      operationId: 'runs.list',
      tags,
      summary: 'List runs (filters: status, flowId)',
      middleware: guarded('data:read'),
      security: BearerAuth,
      request: { query: RunListQuery },
      responses: { 200: jsonContent(pageSchema(RunSummarySchema, 'RunPage'), 'Runs, newest first'), ...problemResponses() },
    }),
    async (c) => c.json(await runsApi.listRuns(c.var.ctx, c.req.valid('query')), 200),
  )
  .openapi(
    createRoute({
      method: 'get',
      path: '/v1/runs/{runId}',
      operationId: 'runs.get',
      tags,
      summary: 'Full run state: per-node status, attempts, timings, output, error, usage',
      middleware: guarded('data:read'),
      security: BearerAuth,
      request: { params: RunIdParam },
      responses: { 200: jsonContent(RunSchema, 'The run'), ...problemResponses([410]) },
    }),
    async (c) => c.json(await runsApi.getRun(c.var.ctx, { id: c.req.valid('param').runId }), 200),
  )
  .openapi(
    createRoute({
      method: 'get',
      path: '/v1/runs/{runId}/events',
      operationId: 'runs.events',
      tags,
      summary: 'Server-Sent Events: the run event log, then live; resume with Last-Event-ID',
      middleware: guarded('data:read', { allowStreamTicket: true }),
      security: BearerAuth,
      request: { params: RunIdParam, query: TicketQuery },
      responses: {
        200: RUN_EVENT_STREAM,
        ...problemResponses([410]),
      },
    }),
    async (c) => runsApi.streamRun(c.var.ctx, { id: c.req.valid('param').runId, request: c.req.raw, kind: 'events' }) as never,
  )
  .openapi(
    createRoute({
      method: 'get',
      path: '/v1/runs/{runId}/ws',
      operationId: 'runs.websocket',
      tags,
      summary: 'WebSocket: the run event log from ?after=<seq>, then live',
      middleware: guarded('data:read', { allowStreamTicket: true }),
      security: BearerAuth,
      request: { params: RunIdParam, query: TicketQuery },
      responses: { 101: { description: 'Switching protocols' }, ...problemResponses([410]) },
    }),
    async (c) => {
      // Without the upgrade the run's object cannot answer a socket: a client error, as on /v1/sync/ws.
      if (c.req.header('upgrade')?.toLowerCase() !== 'websocket') {
        throw new AppError('bad_request', 'This endpoint needs a WebSocket upgrade (Upgrade: websocket).', {
          headers: { upgrade: 'websocket' },
        });
      }
      return runsApi.streamRun(c.var.ctx, { id: c.req.valid('param').runId, request: c.req.raw, kind: 'ws' }) as never;
    },
  )
  .openapi(
    createRoute({
      method: 'post',
      path: '/v1/runs/{runId}/cancel',
      operationId: 'runs.cancel',
      tags,
      summary: 'Cancel a run (running nodes are aborted)',
      middleware: guarded('data:write'),
      security: BearerAuth,
      request: { params: RunIdParam, body: optionalBody(CancelBody) },
      responses: { 200: jsonContent(RunSchema, 'The cancelled run'), ...problemResponses([409]) },
    }),
    async (c) =>
      c.json(
        await runsApi.cancelRun(c.var.ctx, {
          id: c.req.valid('param').runId,
          reason: (c.req.valid('json') as { reason?: string } | undefined)?.reason,
        }),
        200,
      ),
  )
  .openapi(
    createRoute({
      method: 'post',
      path: '/v1/runs/{runId}/signal',
      operationId: 'runs.signal',
      tags,
      summary: 'Signal a waiting approval node with a payload',
      middleware: guarded('data:write'),
      security: BearerAuth,
      request: { params: RunIdParam, body: optionalBody(SignalBody) },
      responses: { 200: jsonContent(RunSchema, 'The run after the signal'), ...problemResponses([409]) },
    }),
    async (c) => {
      const body = (c.req.valid('json') ?? {}) as { node?: string; payload?: unknown };
      return c.json(
        await runsApi.signalRun(c.var.ctx, { id: c.req.valid('param').runId, node: body.node, payload: body.payload ?? null }),
        200,
      );
    },
  )
  .openapi(
    createRoute({
      method: 'post',
      path: '/v1/runs/{runId}/resume',
      operationId: 'runs.resume',
      tags,
      summary: 'Resume a failed or cancelled run: only failed/cancelled nodes run again',
      middleware: guarded('data:write'),
      security: BearerAuth,
      request: { params: RunIdParam },
      responses: { 200: jsonContent(RunSchema, 'The resumed run'), ...problemResponses([409]) },
    }),
    async (c) => c.json(await runsApi.resumeRun(c.var.ctx, { id: c.req.valid('param').runId }), 200),
  )
  .openapi(
    createRoute({
      method: 'post',
      path: '/v1/runs/{runId}/rerun',
      operationId: 'runs.rerun',
      tags,
      summary: 'New run from a node, reusing outputs upstream of it (optionally with new input)',
      middleware: guarded('data:write'),
      security: BearerAuth,
      request: { params: RunIdParam, body: jsonBody(RerunBody) },
      responses: { 201: jsonContent(RunSchema, 'The new run'), ...problemResponses() },
    }),
    async (c) => {
      const body = c.req.valid('json');
      const run = await runsApi.rerunFrom(c.var.ctx, { id: c.req.valid('param').runId, fromNode: body.fromNode, input: body.input });
      c.header('location', `/v1/runs/${run.id}`);
      return c.json(run, 201);
    },
  );
