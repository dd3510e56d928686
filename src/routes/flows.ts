/** /v1/flows: definitions (versioned by PUT), validation, starting runs. */
import { createRoute } from '@hono/zod-openapi';
import * as flowsService from '../flows/flows-service';
import { createRun, createRunStreaming, streamRun } from '../flows/runs-api';
import { FlowBody, FlowSchema, FlowVersionSchema, RunSchema, StartRunBody, ValidateBody, ValidateResult } from '../flows/schemas';
import { prefersEventStream } from '../lib/accept';
import { BearerAuth, idParam, jsonBody, jsonContent, problemResponses, VersionQuery } from '../lib/openapi';
import { PageQuerySchema, pageSchema } from '../lib/pagination';
import { newRouter } from '../lib/router';
import { errorFields } from '../observability/log';
import { guarded } from './deps';
import { RUN_EVENT_STREAM } from './run-event-schemas';

const tags = ['Flows'];
const FlowIdParam = idParam('flowId');

export const flowRoutes = newRouter()
  .openapi(
    createRoute({
      method: 'post',
      path: '/v1/flows/validate',
      operationId: 'flows.validate',
      tags,
      summary: 'Check a flow definition without saving it',
      middleware: guarded('data:read'),
      security: BearerAuth,
      request: { body: jsonBody(ValidateBody) },
      responses: { 200: jsonContent(ValidateResult, 'Every problem with its path (empty when valid)'), ...problemResponses() },
    }),
    async (c) => {
      const problems = flowsService.problemsOf(c.req.valid('json').definition);
      return c.json({ valid: problems.length === 0, problems }, 200);
    },
  )
  .openapi(
    createRoute({
      method: 'post',
      path: '/v1/flows',
      operationId: 'flows.create',
      tags,
      summary: 'Create a flow (version 1)',
      middleware: guarded('data:write'),
      security: BearerAuth,
      request: { body: jsonBody(FlowBody) },
      responses: { 201: jsonContent(FlowSchema, 'Created'), ...problemResponses() },
    }),
    async (c) => {
      const flow = await flowsService.createFlow(c.var.ctx, c.req.valid('json'));
      c.header('location', `/v1/flows/${flow.id}`);
      return c.json(flow, 201);
    },
  )
  .openapi(
    createRoute({
      method: 'get',
      path: '/v1/flows',
      operationId: 'flows.list',
      tags,
      summary: 'List flows',
      middleware: guarded('data:read'),
      security: BearerAuth,
      request: { query: PageQuerySchema },
      responses: { 200: jsonContent(pageSchema(FlowSchema, 'FlowPage'), 'Flows, newest first'), ...problemResponses() },
    }),
    async (c) => {
      const page = await flowsService.listFlows(c.var.ctx, c.req.valid('query'));
      return c.json({ data: page.data, nextCursor: page.nextCursor }, 200);
    },
  )
  .openapi(
    createRoute({
      method: 'get',
      path: '/v1/flows/{flowId}',
      operationId: 'flows.get',
      tags,
      summary: 'Get a flow with its latest (or a given) version',
      middleware: guarded('data:read'),
      security: BearerAuth,
      request: {
        params: FlowIdParam,
        query: VersionQuery,
      },
      responses: { 200: jsonContent(FlowSchema, 'The flow'), ...problemResponses() },
    }),
    async (c) =>
      c.json(await flowsService.getFlow(c.var.ctx, { id: c.req.valid('param').flowId, version: c.req.valid('query').version }), 200),
  )
  .openapi(
    createRoute({
      method: 'put',
      path: '/v1/flows/{flowId}',
      operationId: 'flows.update',
      tags,
      summary: 'Save a new immutable version',
      middleware: guarded('data:write'),
      security: BearerAuth,
      request: { params: FlowIdParam, body: jsonBody(FlowBody) },
      responses: { 200: jsonContent(FlowSchema, 'The flow at its new version'), ...problemResponses([409]) },
    }),
    async (c) => c.json(await flowsService.putFlow(c.var.ctx, { ...c.req.valid('json'), id: c.req.valid('param').flowId }), 200),
  )
  .openapi(
    createRoute({
      method: 'delete',
      path: '/v1/flows/{flowId}',
      operationId: 'flows.delete',
      tags,
      summary: 'Delete a flow (runs keep their pinned version)',
      middleware: guarded('data:write'),
      security: BearerAuth,
      request: { params: FlowIdParam },
      responses: { 204: { description: 'Deleted' }, ...problemResponses() },
    }),
    async (c) => {
      await flowsService.deleteFlow(c.var.ctx, { id: c.req.valid('param').flowId });
      return c.body(null, 204);
    },
  )
  .openapi(
    createRoute({
      method: 'get',
      path: '/v1/flows/{flowId}/versions',
      operationId: 'flows.listVersions',
      tags,
      summary: "A flow's versions, newest first (paged: `?limit=&cursor=`)",
      middleware: guarded('data:read'),
      security: BearerAuth,
      request: { params: FlowIdParam, query: PageQuerySchema },
      responses: { 200: jsonContent(pageSchema(FlowVersionSchema, 'FlowVersionPage'), 'Versions'), ...problemResponses() },
    }),
    async (c) => c.json(await flowsService.listVersions(c.var.ctx, { ...c.req.valid('query'), id: c.req.valid('param').flowId }), 200),
  )
  .openapi(
    createRoute({
      method: 'post',
      path: '/v1/flows/{flowId}/runs',
      operationId: 'flows.startRun',
      tags,
      summary:
        'Start a run (input validated against the flow input schema); with Accept: text/event-stream, start it and stream its events',
      description:
        "Answers the run as JSON, or, when the caller ranks `text/event-stream` above JSON in `Accept`, the run's events as " +
        'Server-Sent Events from `run.created` to its terminal event, the same frames as `GET /v1/runs/{runId}/events` ' +
        '(one request instead of two). Either way `Location` names the run. A replay of an `Idempotency-Key` answers the ' +
        'run as JSON (the stream is not stored); follow it with `GET /v1/runs/{runId}/events`.',
      middleware: guarded('data:write'),
      security: BearerAuth,
      request: { params: FlowIdParam, body: jsonBody(StartRunBody) },
      responses: {
        201: {
          description: 'The run (status running, or queued when the tenant is at its limit), or its events',
          content: {
            'application/json': { schema: RunSchema },
            ...RUN_EVENT_STREAM.content,
          },
        },
        ...problemResponses(),
      },
    }),
    async (c) => {
      const body = c.req.valid('json');
      const args = { flowId: c.req.valid('param').flowId, input: body.input ?? {}, version: body.version };
      if (!prefersEventStream(c.req.header('accept'))) {
        const run = await createRun(c.var.ctx, args);
        c.header('location', `/v1/runs/${run.id}`);
        return c.json(run, 201);
      }
      // The run's own stream from its first event (run.created), as GET …/events answers it, opened by the
      // start itself: a POST's Last-Event-ID or ?after= (a generic SSE client retrying) names nothing in a
      // run this new.
      const started = await createRunStreaming(c.var.ctx, args);
      const run = started.view;
      const location = `/v1/runs/${run.id}`;
      c.header('location', location);
      c.set('replayAnswer', { status: 201, headers: { 'content-type': 'application/json', location }, body: JSON.stringify(run) });
      const stream =
        started.stream ??
        (await streamRun(c.var.ctx, { id: run.id, request: new Request(new URL(location, c.req.url)), kind: 'events' }).catch(
          (err: unknown) => {
            c.get('log').warn('run started; its stream could not be opened, answering the run', { runId: run.id, ...errorFields(err) });
            return null;
          },
        ));
      // The run has started either way: if its stream could not be opened, the answer is the run itself.
      if (stream === null) return c.json(run, 201);
      const headers = new Headers(stream.headers);
      headers.set('location', location);
      return new Response(stream.body, { status: 201, headers }) as never;
    },
  );
