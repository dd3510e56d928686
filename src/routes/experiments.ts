/** /v1/experiments: run a dataset over a flow version on the engine, grade it, compare two runs of it. */
import { createRoute } from '@hono/zod-openapi';
import * as experiments from '../evals/experiments-service';
import {
  CompareQuery,
  ComparisonSchema,
  ExperimentCreateBody,
  ExperimentIdParam,
  ExperimentSchema,
  ExperimentWithResultsSchema,
} from '../evals/schemas';
import { BearerAuth, jsonBody, jsonContent, problemResponses, sseContent } from '../lib/openapi';
import { PageQuerySchema, pageSchema } from '../lib/pagination';
import { newRouter } from '../lib/router';
import { guarded } from './deps';
import { RUN_EVENTS } from './run-event-schemas';

const tags = ['Experiments'];

export const experimentRoutes = newRouter()
  .openapi(
    createRoute({
      method: 'post',
      path: '/v1/experiments',
      operationId: 'experiments.create',
      tags,
      summary: 'Run every example of a dataset version on a flow version (child runs) and grade the answers',
      middleware: guarded('data:write'),
      security: BearerAuth,
      request: { body: jsonBody(ExperimentCreateBody) },
      responses: { 201: jsonContent(ExperimentSchema, 'The experiment, running'), ...problemResponses() },
    }),
    async (c) => {
      const e = await experiments.createExperiment(c.var.ctx, c.req.valid('json'));
      c.header('location', `/v1/experiments/${e.id}`);
      return c.json(e, 201);
    },
  )
  .openapi(
    createRoute({
      method: 'get',
      path: '/v1/experiments',
      operationId: 'experiments.list',
      tags,
      summary: 'List experiments, newest first (without per-example results)',
      middleware: guarded('data:read'),
      security: BearerAuth,
      request: { query: PageQuerySchema },
      responses: { 200: jsonContent(pageSchema(ExperimentSchema, 'ExperimentPage'), 'Experiments'), ...problemResponses() },
    }),
    async (c) => c.json(await experiments.listExperiments(c.var.ctx, c.req.valid('query')), 200),
  )
  .openapi(
    createRoute({
      method: 'get',
      path: '/v1/experiments/compare',
      operationId: 'experiments.compare',
      tags,
      summary: 'Head against base: per-evaluator deltas, regressions and improvements per example',
      middleware: guarded('data:read'),
      security: BearerAuth,
      request: { query: CompareQuery },
      responses: { 200: jsonContent(ComparisonSchema, 'The comparison'), ...problemResponses([409]) },
    }),
    async (c) => c.json(await experiments.compareExperiments(c.var.ctx, c.req.valid('query')), 200),
  )
  .openapi(
    createRoute({
      method: 'get',
      path: '/v1/experiments/{experimentId}',
      operationId: 'experiments.get',
      tags,
      summary: 'An experiment: status, summary per evaluator, and per example its run, answer and scores',
      middleware: guarded('data:read'),
      security: BearerAuth,
      request: { params: ExperimentIdParam },
      responses: { 200: jsonContent(ExperimentWithResultsSchema, 'The experiment'), ...problemResponses() },
    }),
    async (c) => c.json(await experiments.getExperiment(c.var.ctx, { id: c.req.valid('param').experimentId }), 200),
  )
  .openapi(
    createRoute({
      method: 'post',
      path: '/v1/experiments/{experimentId}/cancel',
      operationId: 'experiments.cancel',
      tags,
      summary: 'Cancel a running experiment (its run and every running example)',
      middleware: guarded('data:write'),
      security: BearerAuth,
      request: { params: ExperimentIdParam },
      responses: {
        200: jsonContent(ExperimentSchema, 'The experiment; it ends `cancelled` once its run reports'),
        ...problemResponses([409]),
      },
    }),
    async (c) => c.json(await experiments.cancelExperiment(c.var.ctx, { id: c.req.valid('param').experimentId }), 200),
  )
  .openapi(
    createRoute({
      method: 'get',
      path: '/v1/experiments/{experimentId}/events',
      operationId: 'experiments.events',
      tags,
      summary: "Server-Sent Events: progress, as the experiment run's events (node.child per example, then the evaluation)",
      middleware: guarded('data:read'),
      security: BearerAuth,
      request: { params: ExperimentIdParam },
      responses: {
        200: sseContent(
          'The experiment run’s events (`id` = sequence, `event` = type, `data` = the event as JSON)',
          'ExperimentEventFrame',
          RUN_EVENTS,
        ),
        ...problemResponses([410]),
      },
    }),
    async (c) => experiments.streamExperiment(c.var.ctx, { id: c.req.valid('param').experimentId, request: c.req.raw }) as never,
  );
