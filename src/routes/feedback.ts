/** /v1/feedback-keys (admin) and /v1/feedback: ratings of AI outputs, stats, presigned rating by token. */
import { createRoute } from '@hono/zod-openapi';
import * as fb from '../feedback/feedback-service';
import * as keys from '../feedback/keys-service';
import {
  ByTokenBody,
  FeedbackCreateBody,
  FeedbackIdParam,
  FeedbackKeyCreateBody,
  FeedbackKeyPatchBody,
  FeedbackKeySchema,
  FeedbackListQuery,
  FeedbackPatchBody,
  FeedbackSchema,
  FeedbackTokenSchema,
  KeyParam,
  StatsQuerySchema,
  StatsSchema,
  TokenCreateBody,
  TokenParam,
} from '../feedback/schemas';
import { BearerAuth, jsonBody, jsonContent, problemResponses } from '../lib/openapi';
import { PageQuerySchema, pageSchema } from '../lib/pagination';
import { newRouter } from '../lib/router';
import { clientIp, throttle } from '../middleware/rate-limit';
import { guarded } from './deps';

const keyTags = ['Feedback keys'];
const tags = ['Feedback'];

export const feedbackRoutes = newRouter()
  .openapi(
    createRoute({
      method: 'post',
      path: '/v1/feedback-keys',
      operationId: 'feedbackKeys.create',
      tags: keyTags,
      summary: 'Define what ratings measure: boolean, numeric {min,max}, categorical {categories} or text',
      middleware: guarded('tenant:write'),
      security: BearerAuth,
      request: { body: jsonBody(FeedbackKeyCreateBody) },
      responses: { 201: jsonContent(FeedbackKeySchema, 'The key'), ...problemResponses([409]) },
    }),
    async (c) => {
      const k = await keys.createKey(c.var.ctx, c.req.valid('json'));
      c.header('location', `/v1/feedback-keys/${k.key}`);
      return c.json(k, 201);
    },
  )
  .openapi(
    createRoute({
      method: 'get',
      path: '/v1/feedback-keys',
      operationId: 'feedbackKeys.list',
      tags: keyTags,
      summary: 'List feedback keys (by name)',
      middleware: guarded('data:read'),
      security: BearerAuth,
      request: { query: PageQuerySchema },
      responses: { 200: jsonContent(pageSchema(FeedbackKeySchema, 'FeedbackKeyPage'), 'Keys'), ...problemResponses() },
    }),
    async (c) => c.json(await keys.listKeys(c.var.ctx, c.req.valid('query')), 200),
  )
  .openapi(
    createRoute({
      method: 'get',
      path: '/v1/feedback-keys/{key}',
      operationId: 'feedbackKeys.get',
      tags: keyTags,
      summary: 'One feedback key',
      middleware: guarded('data:read'),
      security: BearerAuth,
      request: { params: KeyParam },
      responses: { 200: jsonContent(FeedbackKeySchema, 'The key'), ...problemResponses() },
    }),
    async (c) => c.json(await keys.getKey(c.var.ctx, c.req.valid('param')), 200),
  )
  .openapi(
    createRoute({
      method: 'patch',
      path: '/v1/feedback-keys/{key}',
      operationId: 'feedbackKeys.update',
      tags: keyTags,
      summary: 'Change a key: description, direction and drift always; type, range and categories only while it has no ratings',
      middleware: guarded('tenant:write'),
      security: BearerAuth,
      request: { params: KeyParam, body: jsonBody(FeedbackKeyPatchBody) },
      responses: { 200: jsonContent(FeedbackKeySchema, 'The key'), ...problemResponses([409]) },
    }),
    async (c) => c.json(await keys.updateKey(c.var.ctx, { key: c.req.valid('param').key, patch: c.req.valid('json') }), 200),
  )
  .openapi(
    createRoute({
      method: 'delete',
      path: '/v1/feedback-keys/{key}',
      operationId: 'feedbackKeys.delete',
      tags: keyTags,
      summary: 'Delete a key that has no ratings (409 otherwise)',
      middleware: guarded('tenant:write'),
      security: BearerAuth,
      request: { params: KeyParam },
      responses: { 204: { description: 'Deleted' }, ...problemResponses([409]) },
    }),
    async (c) => {
      await keys.deleteKey(c.var.ctx, c.req.valid('param'));
      return c.body(null, 204);
    },
  )
  .openapi(
    createRoute({
      method: 'post',
      path: '/v1/feedback',
      operationId: 'feedback.create',
      tags,
      summary: 'Rate an output (run, node, tool invocation); a second rating by the same caller for the same key updates it',
      middleware: guarded('data:write'),
      security: BearerAuth,
      request: { body: jsonBody(FeedbackCreateBody) },
      responses: {
        201: jsonContent(FeedbackSchema, 'Created'),
        200: jsonContent(FeedbackSchema, "Updated: the caller's earlier rating of this target for this key"),
        ...problemResponses([410]),
      },
    }),
    async (c) => {
      const { feedback, created } = await fb.rate(c.var.ctx, c.req.valid('json'));
      if (created) c.header('location', `/v1/feedback/${feedback.id}`);
      return c.json(feedback, created ? 201 : 200);
    },
  )
  .openapi(
    createRoute({
      method: 'get',
      path: '/v1/feedback',
      operationId: 'feedback.list',
      tags,
      summary: 'Ratings, newest first (filters: target, key, source, from/to on when the score was given)',
      middleware: guarded('data:read'),
      security: BearerAuth,
      request: { query: FeedbackListQuery },
      responses: { 200: jsonContent(pageSchema(FeedbackSchema, 'FeedbackPage'), 'Ratings'), ...problemResponses() },
    }),
    async (c) => c.json(await fb.listFeedback(c.var.ctx, c.req.valid('query')), 200),
  )
  .openapi(
    createRoute({
      method: 'get',
      path: '/v1/feedback/stats',
      operationId: 'feedback.stats',
      tags,
      summary: 'count, mean, positiveRate, p50 and distribution of a key, per day|week|flowId|flowVersion|agentId|provider|model|nodeId',
      middleware: guarded('data:read'),
      security: BearerAuth,
      request: { query: StatsQuerySchema },
      responses: { 200: jsonContent(StatsSchema, 'Buckets'), ...problemResponses() },
    }),
    async (c) => c.json(await fb.feedbackStats(c.var.ctx, c.req.valid('query')), 200),
  )
  .openapi(
    createRoute({
      method: 'post',
      path: '/v1/feedback/tokens',
      operationId: 'feedback.createToken',
      tags,
      summary: 'A presigned token an end user rates one output with, from the browser, for 7 days',
      middleware: guarded('data:write'),
      security: BearerAuth,
      request: { body: jsonBody(TokenCreateBody) },
      responses: { 201: jsonContent(FeedbackTokenSchema, 'The token'), ...problemResponses([410]) },
    }),
    async (c) => c.json(await fb.createToken(c.var.ctx, c.req.valid('json')), 201),
  )
  .openapi(
    createRoute({
      method: 'post',
      path: '/v1/feedback/by-token/{token}',
      operationId: 'feedback.rateByToken',
      tags,
      summary: 'Rate with a feedback token, no credential: only its target, with the tenant’s keys',
      description:
        'For end users in a browser. Unknown or altered tokens answer 404, expired ones 410, a `target` other than the ' +
        "token's 403. A second rating with the same token (and subject) updates the first. Throttled per IP.",
      security: [],
      request: { params: TokenParam, body: jsonBody(ByTokenBody) },
      responses: {
        201: jsonContent(FeedbackSchema, 'Created'),
        200: jsonContent(FeedbackSchema, 'Updated'),
        ...problemResponses([403, 404, 410, 429], { authenticated: false }),
      },
    }),
    async (c) => {
      await throttle(c.env.RL_FREE, [`feedback-token:ip:${clientIp(c.req.raw.headers)}`]);
      const { feedback, created } = await fb.rateByToken(c.var.requestCtx, { token: c.req.valid('param').token, ...c.req.valid('json') });
      return c.json(feedback, created ? 201 : 200);
    },
  )
  .openapi(
    createRoute({
      method: 'get',
      path: '/v1/feedback/{feedbackId}',
      operationId: 'feedback.get',
      tags,
      summary: 'One rating',
      middleware: guarded('data:read'),
      security: BearerAuth,
      request: { params: FeedbackIdParam },
      responses: { 200: jsonContent(FeedbackSchema, 'The rating'), ...problemResponses() },
    }),
    async (c) => c.json(await fb.getFeedback(c.var.ctx, { id: c.req.valid('param').feedbackId }), 200),
  )
  .openapi(
    createRoute({
      method: 'patch',
      path: '/v1/feedback/{feedbackId}',
      operationId: 'feedback.update',
      tags,
      summary: 'Change a rating (score/value checked against its key), its comment or correction',
      middleware: guarded('data:write'),
      security: BearerAuth,
      request: { params: FeedbackIdParam, body: jsonBody(FeedbackPatchBody) },
      responses: { 200: jsonContent(FeedbackSchema, 'The rating'), ...problemResponses([409]) },
    }),
    async (c) => c.json(await fb.updateFeedback(c.var.ctx, { id: c.req.valid('param').feedbackId, patch: c.req.valid('json') }), 200),
  )
  .openapi(
    createRoute({
      method: 'delete',
      path: '/v1/feedback/{feedbackId}',
      operationId: 'feedback.delete',
      tags,
      summary: 'Delete a rating',
      middleware: guarded('data:write'),
      security: BearerAuth,
      request: { params: FeedbackIdParam },
      responses: { 204: { description: 'Deleted' }, ...problemResponses() },
    }),
    async (c) => {
      await fb.deleteFeedback(c.var.ctx, { id: c.req.valid('param').feedbackId });
      return c.body(null, 204);
    },
  );
