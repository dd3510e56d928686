/** /v1/agents: agent definitions, versioned by PUT (docs/agents.md). */
import { createRoute } from '@hono/zod-openapi';
import * as agentsService from '../agents/agents-service';
import { AgentBody, AgentSchema, AgentVersionSchema } from '../agents/schemas';
import { BearerAuth, idParam, jsonBody, jsonContent, problemResponses, VersionQuery } from '../lib/openapi';
import { PageQuerySchema, pageSchema } from '../lib/pagination';
import { newRouter } from '../lib/router';
import { guarded } from './deps';

const tags = ['Agents'];
const AgentIdParam = idParam('agentId');

export const agentRoutes = newRouter()
  .openapi(
    createRoute({
      method: 'post',
      path: '/v1/agents',
      operationId: 'agents.create',
      tags,
      summary: 'Create an agent (version 1)',
      middleware: guarded('data:write'),
      security: BearerAuth,
      request: { body: jsonBody(AgentBody) },
      responses: { 201: jsonContent(AgentSchema, 'Created'), ...problemResponses() },
    }),
    async (c) => {
      const agent = await agentsService.createAgent(c.var.ctx, c.req.valid('json'));
      c.header('location', `/v1/agents/${agent.id}`);
      return c.json(agent, 201);
    },
  )
  .openapi(
    createRoute({
      method: 'get',
      path: '/v1/agents',
      operationId: 'agents.list',
      tags,
      summary: 'List agents',
      middleware: guarded('data:read'),
      security: BearerAuth,
      request: { query: PageQuerySchema },
      responses: { 200: jsonContent(pageSchema(AgentSchema, 'AgentPage'), 'Agents, newest first'), ...problemResponses() },
    }),
    async (c) => c.json(await agentsService.listAgents(c.var.ctx, c.req.valid('query')), 200),
  )
  .openapi(
    createRoute({
      method: 'get',
      path: '/v1/agents/{agentId}',
      operationId: 'agents.get',
      tags,
      summary: 'Get an agent at its latest (or a given) version',
      middleware: guarded('data:read'),
      security: BearerAuth,
      request: {
        params: AgentIdParam,
        query: VersionQuery,
      },
      responses: { 200: jsonContent(AgentSchema, 'The agent'), ...problemResponses() },
    }),
    async (c) =>
      c.json(await agentsService.getAgent(c.var.ctx, { id: c.req.valid('param').agentId, version: c.req.valid('query').version }), 200),
  )
  .openapi(
    createRoute({
      method: 'put',
      path: '/v1/agents/{agentId}',
      operationId: 'agents.update',
      tags,
      summary: 'Save a new immutable version',
      middleware: guarded('data:write'),
      security: BearerAuth,
      request: { params: AgentIdParam, body: jsonBody(AgentBody) },
      responses: { 200: jsonContent(AgentSchema, 'The agent at its new version'), ...problemResponses([409]) },
    }),
    async (c) => c.json(await agentsService.putAgent(c.var.ctx, { ...c.req.valid('json'), id: c.req.valid('param').agentId }), 200),
  )
  .openapi(
    createRoute({
      method: 'delete',
      path: '/v1/agents/{agentId}',
      operationId: 'agents.delete',
      tags,
      summary: 'Delete an agent (running nodes keep the version they loaded)',
      middleware: guarded('data:write'),
      security: BearerAuth,
      request: { params: AgentIdParam },
      responses: { 204: { description: 'Deleted' }, ...problemResponses() },
    }),
    async (c) => {
      await agentsService.deleteAgent(c.var.ctx, { id: c.req.valid('param').agentId });
      return c.body(null, 204);
    },
  )
  .openapi(
    createRoute({
      method: 'get',
      path: '/v1/agents/{agentId}/versions',
      operationId: 'agents.listVersions',
      tags,
      summary: "An agent's versions, newest first (paged: `?limit=&cursor=`)",
      middleware: guarded('data:read'),
      security: BearerAuth,
      request: { params: AgentIdParam, query: PageQuerySchema },
      responses: { 200: jsonContent(pageSchema(AgentVersionSchema, 'AgentVersionPage'), 'Versions'), ...problemResponses() },
    }),
    async (c) =>
      c.json(await agentsService.listAgentVersions(c.var.ctx, { ...c.req.valid('query'), id: c.req.valid('param').agentId }), 200),
  );
