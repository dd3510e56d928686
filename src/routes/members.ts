/** /v1/members: list, change role, remove. */
import { createRoute } from '@hono/zod-openapi';
import * as members from '../identity/members-service';
import { IdParam, MemberSchema, UpdateMemberBody } from '../identity/schemas';
import { BearerAuth, jsonBody, jsonContent, problemResponses } from '../lib/openapi';
import { PageQuerySchema, pageSchema } from '../lib/pagination';
import { newRouter } from '../lib/router';
import { guarded } from './deps';

const tags = ['Members'];
const UserIdParam = IdParam('userId', 'usr_01hzy0000000000000000000000');

export const memberRoutes = newRouter()
  .openapi(
    createRoute({
      method: 'get',
      path: '/v1/members',
      operationId: 'members.list',
      tags,
      summary: 'List members of the tenant',
      middleware: guarded('members:read'),
      security: BearerAuth,
      request: { query: PageQuerySchema },
      responses: { 200: jsonContent(pageSchema(MemberSchema, 'MemberPage'), 'Members'), ...problemResponses() },
    }),
    async (c) => c.json(await members.listMembers(c.var.ctx, c.req.valid('query')), 200),
  )
  .openapi(
    createRoute({
      method: 'get',
      path: '/v1/members/{userId}',
      operationId: 'members.get',
      tags,
      summary: 'Get one member',
      middleware: guarded('members:read'),
      security: BearerAuth,
      request: { params: UserIdParam },
      responses: { 200: jsonContent(MemberSchema, 'The member'), ...problemResponses() },
    }),
    async (c) => c.json(await members.getMember(c.var.ctx, { userId: c.req.valid('param').userId as string }), 200),
  )
  .openapi(
    createRoute({
      method: 'patch',
      path: '/v1/members/{userId}',
      operationId: 'members.update',
      tags,
      summary: "Change a member's role (admin)",
      middleware: guarded('members:write'),
      security: BearerAuth,
      request: { params: UserIdParam, body: jsonBody(UpdateMemberBody) },
      responses: { 200: jsonContent(MemberSchema, 'The updated member'), ...problemResponses([409]) },
    }),
    async (c) =>
      c.json(await members.changeRole(c.var.ctx, { userId: c.req.valid('param').userId as string, role: c.req.valid('json').role }), 200),
  )
  .openapi(
    createRoute({
      method: 'delete',
      path: '/v1/members/{userId}',
      operationId: 'members.remove',
      tags,
      summary: 'Remove a member from the tenant (admin)',
      middleware: guarded('members:write'),
      security: BearerAuth,
      request: { params: UserIdParam },
      responses: { 204: { description: 'Removed' }, ...problemResponses([409]) },
    }),
    async (c) => {
      await members.removeMember(c.var.ctx, { userId: c.req.valid('param').userId as string });
      return c.body(null, 204);
    },
  );
