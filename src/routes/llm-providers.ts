/** /v1/llm/providers: the tenant's LLM providers for `llm` nodes. Admins write; any member reads. Keys are never returned. */
import { createRoute } from '@hono/zod-openapi';
import * as providers from '../flows/llm/providers-service';
import { CreateLlmProviderBody, LlmProviderSchema, ProviderIdParam } from '../flows/llm/schemas';
import { BearerAuth, jsonBody, jsonContent, problemResponses } from '../lib/openapi';
import { PageQuerySchema, pageSchema } from '../lib/pagination';
import { newRouter } from '../lib/router';
import { guarded } from './deps';

const tags = ['LLM providers'];

export const llmProviderRoutes = newRouter()
  .openapi(
    createRoute({
      method: 'post',
      path: '/v1/llm/providers',
      operationId: 'llmProviders.create',
      tags,
      summary: 'Register an LLM provider (OpenAI-compatible HTTP or Workers AI); its API key is stored encrypted',
      middleware: guarded('tenant:write'),
      security: BearerAuth,
      request: { body: jsonBody(CreateLlmProviderBody) },
      responses: { 201: jsonContent(LlmProviderSchema, 'Provider created'), ...problemResponses([409]) },
    }),
    async (c) => c.json(await providers.createProvider(c.var.ctx, c.req.valid('json')), 201),
  )
  .openapi(
    createRoute({
      method: 'get',
      path: '/v1/llm/providers',
      operationId: 'llmProviders.list',
      tags,
      summary: 'List LLM providers',
      middleware: guarded('data:read'),
      security: BearerAuth,
      request: { query: PageQuerySchema },
      responses: { 200: jsonContent(pageSchema(LlmProviderSchema, 'LlmProviderPage'), 'Providers'), ...problemResponses() },
    }),
    async (c) => c.json(await providers.listProviders(c.var.ctx, c.req.valid('query')), 200),
  )
  .openapi(
    createRoute({
      method: 'get',
      path: '/v1/llm/providers/{providerId}',
      operationId: 'llmProviders.get',
      tags,
      summary: 'Get one LLM provider (never its key)',
      middleware: guarded('data:read'),
      security: BearerAuth,
      request: { params: ProviderIdParam },
      responses: { 200: jsonContent(LlmProviderSchema, 'The provider'), ...problemResponses() },
    }),
    async (c) => c.json(await providers.getProvider(c.var.ctx, { id: c.req.valid('param').providerId }), 200),
  )
  .openapi(
    createRoute({
      method: 'delete',
      path: '/v1/llm/providers/{providerId}',
      operationId: 'llmProviders.delete',
      tags,
      summary: 'Delete an LLM provider; `llm` nodes naming it fail (not found) until one with that name exists again',
      middleware: guarded('tenant:write'),
      security: BearerAuth,
      request: { params: ProviderIdParam },
      responses: { 204: { description: 'Deleted' }, ...problemResponses() },
    }),
    async (c) => {
      await providers.deleteProvider(c.var.ctx, { id: c.req.valid('param').providerId });
      return c.body(null, 204);
    },
  );
