/** /v1/datasets: versioned example sets for experiments. */
import { createRoute } from '@hono/zod-openapi';
import * as datasets from '../evals/datasets-service';
import {
  AddExamplesBody,
  AddExamplesResultSchema,
  DatasetCreateBody,
  DatasetIdParam,
  DatasetSchema,
  ExamplesPageSchema,
  ExamplesQuery,
} from '../evals/schemas';
import { BearerAuth, jsonBody, jsonContent, problemResponses } from '../lib/openapi';
import { PageQuerySchema, pageSchema } from '../lib/pagination';
import { newRouter } from '../lib/router';
import { guarded } from './deps';

const tags = ['Datasets'];

export const datasetRoutes = newRouter()
  .openapi(
    createRoute({
      method: 'post',
      path: '/v1/datasets',
      operationId: 'datasets.create',
      tags,
      summary: 'Create a dataset (examples are added with POST /v1/datasets/{datasetId}/examples)',
      middleware: guarded('data:write'),
      security: BearerAuth,
      request: { body: jsonBody(DatasetCreateBody) },
      responses: { 201: jsonContent(DatasetSchema, 'The dataset (version 0, no examples)'), ...problemResponses() },
    }),
    async (c) => {
      const d = await datasets.createDataset(c.var.ctx, c.req.valid('json'));
      c.header('location', `/v1/datasets/${d.id}`);
      return c.json(d, 201);
    },
  )
  .openapi(
    createRoute({
      method: 'get',
      path: '/v1/datasets',
      operationId: 'datasets.list',
      tags,
      summary: 'List datasets, newest first',
      middleware: guarded('data:read'),
      security: BearerAuth,
      request: { query: PageQuerySchema },
      responses: { 200: jsonContent(pageSchema(DatasetSchema, 'DatasetPage'), 'Datasets'), ...problemResponses() },
    }),
    async (c) => c.json(await datasets.listDatasets(c.var.ctx, c.req.valid('query')), 200),
  )
  .openapi(
    createRoute({
      method: 'get',
      path: '/v1/datasets/{datasetId}',
      operationId: 'datasets.get',
      tags,
      summary: 'One dataset: its current version and size',
      middleware: guarded('data:read'),
      security: BearerAuth,
      request: { params: DatasetIdParam },
      responses: { 200: jsonContent(DatasetSchema, 'The dataset'), ...problemResponses() },
    }),
    async (c) => c.json(await datasets.getDataset(c.var.ctx, { id: c.req.valid('param').datasetId }), 200),
  )
  .openapi(
    createRoute({
      method: 'delete',
      path: '/v1/datasets/{datasetId}',
      operationId: 'datasets.delete',
      tags,
      summary: 'Delete a dataset and its examples (experiments keep their results)',
      middleware: guarded('data:write'),
      security: BearerAuth,
      request: { params: DatasetIdParam },
      responses: { 204: { description: 'Deleted' }, ...problemResponses() },
    }),
    async (c) => {
      await datasets.deleteDataset(c.var.ctx, { id: c.req.valid('param').datasetId });
      return c.body(null, 204);
    },
  )
  .openapi(
    createRoute({
      method: 'post',
      path: '/v1/datasets/{datasetId}/examples',
      operationId: 'datasets.addExamples',
      tags,
      summary: 'Add examples (given, fromRunId, or fromFeedbackId turning a correction into the expected output): one new version',
      middleware: guarded('data:write'),
      security: BearerAuth,
      request: { params: DatasetIdParam, body: jsonBody(AddExamplesBody) },
      responses: {
        201: jsonContent(AddExamplesResultSchema, 'The dataset at its new version and the examples added'),
        ...problemResponses([410]),
      },
    }),
    async (c) => c.json(await datasets.addExamples(c.var.ctx, { id: c.req.valid('param').datasetId, body: c.req.valid('json') }), 201),
  )
  .openapi(
    createRoute({
      method: 'get',
      path: '/v1/datasets/{datasetId}/examples',
      operationId: 'datasets.listExamples',
      tags,
      summary: 'The examples of a version (default the current one), oldest first',
      middleware: guarded('data:read'),
      security: BearerAuth,
      request: { params: DatasetIdParam, query: ExamplesQuery },
      responses: { 200: jsonContent(ExamplesPageSchema, 'Examples'), ...problemResponses() },
    }),
    async (c) => c.json(await datasets.listExamples(c.var.ctx, { id: c.req.valid('param').datasetId, ...c.req.valid('query') }), 200),
  );
