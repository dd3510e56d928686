/** /v1/webhooks: endpoints (secret shown once, rotatable), delivery log, replay, recovery, test events. Admin only. */
import { createRoute } from '@hono/zod-openapi';
import * as deliveries from '../events/deliveries-service';
import {
  CreateWebhookBody,
  DeliveryQuery,
  DeliverySchema,
  RecoverBody,
  RecoverResultSchema,
  RotateSecretBody,
  UpdateWebhookBody,
  WebhookSchema,
  WebhookWithSecretSchema,
} from '../events/schemas';
import * as webhooks from '../events/webhooks-service';
import { IdParam } from '../identity/schemas';
import { BearerAuth, jsonBody, jsonContent, problemResponses } from '../lib/openapi';
import { PageQuerySchema, pageSchema } from '../lib/pagination';
import { newRouter } from '../lib/router';
import { guarded } from './deps';

const tags = ['Webhooks'];
const WebhookId = IdParam('webhookId', 'whk_01hzy0000000000000000000000');
const DeliveryIds = WebhookId.extend(IdParam('deliveryId', 'dlv_01hzy0000000000000000000000').shape);
const idOf = (p: { webhookId?: unknown }) => p.webhookId as string;

export const webhookRoutes = newRouter()
  .openapi(
    createRoute({
      method: 'post',
      path: '/v1/webhooks',
      operationId: 'webhooks.create',
      tags,
      summary: 'Create a webhook endpoint; its signing secret is returned only here',
      middleware: guarded('webhooks:write'),
      security: BearerAuth,
      request: { body: jsonBody(CreateWebhookBody) },
      responses: { 201: jsonContent(WebhookWithSecretSchema, 'Endpoint created'), ...problemResponses([409]) },
    }),
    async (c) => c.json(await webhooks.createWebhook(c.var.ctx, c.req.valid('json')), 201),
  )
  .openapi(
    createRoute({
      method: 'get',
      path: '/v1/webhooks',
      operationId: 'webhooks.list',
      tags,
      summary: 'List webhook endpoints',
      middleware: guarded('webhooks:read'),
      security: BearerAuth,
      request: { query: PageQuerySchema },
      responses: { 200: jsonContent(pageSchema(WebhookSchema, 'WebhookPage'), 'Endpoints'), ...problemResponses() },
    }),
    async (c) => c.json(await webhooks.listWebhooks(c.var.ctx, c.req.valid('query')), 200),
  )
  .openapi(
    createRoute({
      method: 'get',
      path: '/v1/webhooks/{webhookId}',
      operationId: 'webhooks.get',
      tags,
      summary: 'Get a webhook endpoint (never its secret)',
      middleware: guarded('webhooks:read'),
      security: BearerAuth,
      request: { params: WebhookId },
      responses: { 200: jsonContent(WebhookSchema, 'The endpoint'), ...problemResponses() },
    }),
    async (c) => c.json(await webhooks.getWebhook(c.var.ctx, { id: idOf(c.req.valid('param')) }), 200),
  )
  .openapi(
    createRoute({
      method: 'patch',
      path: '/v1/webhooks/{webhookId}',
      operationId: 'webhooks.update',
      tags,
      summary: 'Change the URL, event filter or description; enable or disable',
      middleware: guarded('webhooks:write'),
      security: BearerAuth,
      request: { params: WebhookId, body: jsonBody(UpdateWebhookBody) },
      responses: { 200: jsonContent(WebhookSchema, 'The endpoint'), ...problemResponses() },
    }),
    async (c) => c.json(await webhooks.updateWebhook(c.var.ctx, { ...c.req.valid('json'), id: idOf(c.req.valid('param')) }), 200),
  )
  .openapi(
    createRoute({
      method: 'delete',
      path: '/v1/webhooks/{webhookId}',
      operationId: 'webhooks.delete',
      tags,
      summary: 'Delete a webhook endpoint and its delivery log',
      middleware: guarded('webhooks:write'),
      security: BearerAuth,
      request: { params: WebhookId },
      responses: { 204: { description: 'Deleted' }, ...problemResponses() },
    }),
    async (c) => {
      await webhooks.deleteWebhook(c.var.ctx, { id: idOf(c.req.valid('param')) });
      return c.body(null, 204);
    },
  )
  .openapi(
    createRoute({
      method: 'post',
      path: '/v1/webhooks/{webhookId}/rotate-secret',
      operationId: 'webhooks.rotateSecret',
      tags,
      summary: 'Rotate the signing secret; the previous one keeps signing alongside during the overlap',
      middleware: guarded('webhooks:write'),
      security: BearerAuth,
      request: { params: WebhookId, body: { ...jsonBody(RotateSecretBody), required: false } },
      responses: { 200: jsonContent(WebhookWithSecretSchema, 'The endpoint with its new secret'), ...problemResponses([409]) },
    }),
    async (c) =>
      c.json(
        await webhooks.rotateSecret(c.var.ctx, {
          id: idOf(c.req.valid('param')),
          overlapSeconds: (c.req.valid('json') as { overlapSeconds?: number } | undefined)?.overlapSeconds ?? 24 * 3600,
        }),
        200,
      ),
  )
  .openapi(
    createRoute({
      method: 'post',
      path: '/v1/webhooks/{webhookId}/test',
      operationId: 'webhooks.test',
      tags,
      summary: 'Send a webhook.test event to this endpoint',
      middleware: guarded('webhooks:write'),
      security: BearerAuth,
      request: { params: WebhookId },
      responses: { 202: jsonContent(DeliverySchema, 'Test delivery queued'), ...problemResponses([409]) },
    }),
    async (c) => c.json(await deliveries.sendTestEvent(c.var.ctx, { endpointId: idOf(c.req.valid('param')) }), 202),
  )
  .openapi(
    createRoute({
      method: 'post',
      path: '/v1/webhooks/{webhookId}/recover',
      operationId: 'webhooks.recover',
      tags,
      summary: 'Resend every failed delivery created since a time',
      middleware: guarded('webhooks:write'),
      security: BearerAuth,
      request: { params: WebhookId, body: jsonBody(RecoverBody) },
      responses: { 202: jsonContent(RecoverResultSchema, 'Deliveries queued again'), ...problemResponses([409]) },
    }),
    async (c) =>
      c.json(
        await deliveries.recoverDeliveries(c.var.ctx, { endpointId: idOf(c.req.valid('param')), since: c.req.valid('json').since }),
        202,
      ),
  )
  .openapi(
    createRoute({
      method: 'get',
      path: '/v1/webhooks/{webhookId}/deliveries',
      operationId: 'webhooks.listDeliveries',
      tags,
      summary: 'Deliveries to this endpoint, newest first, each with its attempt log',
      middleware: guarded('webhooks:read'),
      security: BearerAuth,
      request: { params: WebhookId, query: PageQuerySchema.extend(DeliveryQuery.shape) },
      responses: { 200: jsonContent(pageSchema(DeliverySchema, 'WebhookDeliveryPage'), 'Deliveries'), ...problemResponses() },
    }),
    async (c) =>
      c.json(await deliveries.listDeliveries(c.var.ctx, { ...c.req.valid('query'), endpointId: idOf(c.req.valid('param')) }), 200),
  )
  .openapi(
    createRoute({
      method: 'get',
      path: '/v1/webhooks/{webhookId}/deliveries/{deliveryId}',
      operationId: 'webhooks.getDelivery',
      tags,
      summary: 'One delivery with its attempt log',
      middleware: guarded('webhooks:read'),
      security: BearerAuth,
      request: { params: DeliveryIds },
      responses: { 200: jsonContent(DeliverySchema, 'The delivery'), ...problemResponses() },
    }),
    async (c) => {
      const p = c.req.valid('param');
      return c.json(await deliveries.getDelivery(c.var.ctx, { endpointId: idOf(p), deliveryId: p.deliveryId as string }), 200);
    },
  )
  .openapi(
    createRoute({
      method: 'post',
      path: '/v1/webhooks/{webhookId}/deliveries/{deliveryId}/replay',
      operationId: 'webhooks.replayDelivery',
      tags,
      summary: 'Send a delivery again now (a new round of attempts)',
      middleware: guarded('webhooks:write'),
      security: BearerAuth,
      request: { params: DeliveryIds },
      responses: { 202: jsonContent(DeliverySchema, 'Replay queued'), ...problemResponses([409]) },
    }),
    async (c) => {
      const p = c.req.valid('param');
      return c.json(await deliveries.replayDelivery(c.var.ctx, { endpointId: idOf(p), deliveryId: p.deliveryId as string }), 202);
    },
  );
