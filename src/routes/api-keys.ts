/** /v1/api-keys: create (shown once), list, get, revoke. Admin only. */
import { createRoute } from '@hono/zod-openapi';
import * as keys from '../identity/api-keys-service';
import { ApiKeySchema, CreateApiKeyBody, CreatedApiKeySchema, IdParam } from '../identity/schemas';
import { BearerAuth, jsonBody, jsonContent, problemResponses } from '../lib/openapi';
import { PageQuerySchema, pageSchema } from '../lib/pagination';
import { newRouter } from '../lib/router';
import { guarded } from './deps';

const tags = ['API keys'];
const KeyIdParam = IdParam('keyId', 'key_01hzy0000000000000000000000');

export const apiKeyRoutes = newRouter()
  .openapi(
    createRoute({
      method: 'post',
      path: '/v1/api-keys',
      operationId: 'apiKeys.create',
      tags,
      summary: 'Create an API key; the secret is returned only here',
      middleware: guarded('api_keys:write'),
      security: BearerAuth,
      request: { body: jsonBody(CreateApiKeyBody) },
      responses: { 201: jsonContent(CreatedApiKeySchema, 'Key created'), ...problemResponses() },
    }),
    async (c) => c.json(await keys.createApiKey(c.var.ctx, c.req.valid('json')), 201),
  )
  .openapi(
    createRoute({
      method: 'get',
      path: '/v1/api-keys',
      operationId: 'apiKeys.list',
      tags,
      summary: 'List active API keys',
      middleware: guarded('api_keys:read'),
      security: BearerAuth,
      request: { query: PageQuerySchema },
      responses: { 200: jsonContent(pageSchema(ApiKeySchema, 'ApiKeyPage'), 'Keys'), ...problemResponses() },
    }),
    async (c) => c.json(await keys.listApiKeys(c.var.ctx, c.req.valid('query')), 200),
  )
  .openapi(
    createRoute({
      method: 'get',
      path: '/v1/api-keys/{keyId}',
      operationId: 'apiKeys.get',
      tags,
      summary: 'Get one API key (never its secret)',
      middleware: guarded('api_keys:read'),
      security: BearerAuth,
      request: { params: KeyIdParam },
      responses: { 200: jsonContent(ApiKeySchema, 'The key'), ...problemResponses() },
    }),
    async (c) => c.json(await keys.getApiKey(c.var.ctx, { id: c.req.valid('param').keyId as string }), 200),
  )
  .openapi(
    createRoute({
      method: 'delete',
      path: '/v1/api-keys/{keyId}',
      operationId: 'apiKeys.revoke',
      tags,
      summary: 'Revoke an API key',
      middleware: guarded('api_keys:write'),
      security: BearerAuth,
      request: { params: KeyIdParam },
      responses: { 204: { description: 'Revoked' }, ...problemResponses() },
    }),
    async (c) => {
      await keys.revokeApiKey(c.var.ctx, { id: c.req.valid('param').keyId as string });
      return c.body(null, 204);
    },
  );
