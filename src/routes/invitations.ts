/** /v1/invitations: create, list, get, revoke (admin) and accept (anonymous, with the token). */
import { createRoute } from '@hono/zod-openapi';
import * as invitations from '../identity/invitations-service';
import {
  AcceptInvitationBody,
  AuthResultSchema,
  CreatedInvitationSchema,
  CreateInvitationBody,
  IdParam,
  InvitationSchema,
} from '../identity/schemas';
import { BearerAuth, jsonBody, jsonContent, problemResponses } from '../lib/openapi';
import { PageQuerySchema, pageSchema } from '../lib/pagination';
import { newRouter } from '../lib/router';
import { headerCredential } from '../middleware/auth';
import { clientIp, throttle } from '../middleware/rate-limit';
import { guarded } from './deps';

const tags = ['Members'];
const InvitationIdParam = IdParam('invitationId', 'inv_01hzy0000000000000000000000');

export const invitationRoutes = newRouter()
  .openapi(
    createRoute({
      method: 'post',
      path: '/v1/invitations/accept',
      operationId: 'invitations.accept',
      // Anonymous for a new account; an existing account accepts with its own access token.
      security: [{}, { bearerAuth: [] }] as Array<Record<string, string[]>>,
      tags,
      summary: 'Accept an invitation (creates the account if new) and sign in',
      description:
        'A new person sends `name` and `password`. An existing account accepts with its own session ' +
        '(`Authorization: Bearer <access token>` of the invited account), or with its password under the same per-account ' +
        'throttle as login (send `name` too: without that session both are required, whether or not the email has an account).',
      request: { body: jsonBody(AcceptInvitationBody) },
      responses: {
        200: jsonContent(AuthResultSchema, 'Joined and signed in'),
        ...problemResponses([401, 404, 409, 410, 429], { authenticated: false }),
      },
    }),
    async (c) => {
      const body = c.req.valid('json');
      await throttle(c.env.RL_AUTH, [`accept:ip:${clientIp(c.req.raw.headers)}`]);
      // An existing account proves itself with its own session, or its password as at login (issue 13).
      const resolved = headerCredential(c.get('credential'));
      const sessionUserId = resolved?.ok && resolved.auth.actorType === 'user' ? resolved.auth.actorId : undefined;
      return c.json(await invitations.acceptInvitation(c.var.requestCtx, { ...body, sessionUserId }), 200);
    },
  )
  .openapi(
    createRoute({
      method: 'post',
      path: '/v1/invitations',
      operationId: 'invitations.create',
      tags,
      summary: 'Invite someone by email with a role (admin); returns the single-use token once',
      middleware: guarded('invitations:write'),
      security: BearerAuth,
      request: { body: jsonBody(CreateInvitationBody) },
      responses: { 201: jsonContent(CreatedInvitationSchema, 'Invitation created'), ...problemResponses([409]) },
    }),
    async (c) => c.json(await invitations.createInvitation(c.var.ctx, c.req.valid('json')), 201),
  )
  .openapi(
    createRoute({
      method: 'get',
      path: '/v1/invitations',
      operationId: 'invitations.list',
      tags,
      summary: 'List invitations (admin)',
      middleware: guarded('invitations:read'),
      security: BearerAuth,
      request: { query: PageQuerySchema },
      responses: { 200: jsonContent(pageSchema(InvitationSchema, 'InvitationPage'), 'Invitations'), ...problemResponses() },
    }),
    async (c) => c.json(await invitations.listInvitations(c.var.ctx, c.req.valid('query')), 200),
  )
  .openapi(
    createRoute({
      method: 'get',
      path: '/v1/invitations/{invitationId}',
      operationId: 'invitations.get',
      tags,
      summary: 'Get one invitation (admin)',
      middleware: guarded('invitations:read'),
      security: BearerAuth,
      request: { params: InvitationIdParam },
      responses: { 200: jsonContent(InvitationSchema, 'The invitation'), ...problemResponses() },
    }),
    async (c) => c.json(await invitations.getInvitation(c.var.ctx, { id: c.req.valid('param').invitationId as string }), 200),
  )
  .openapi(
    createRoute({
      method: 'delete',
      path: '/v1/invitations/{invitationId}',
      operationId: 'invitations.revoke',
      tags,
      summary: 'Revoke a pending invitation (admin)',
      middleware: guarded('invitations:write'),
      security: BearerAuth,
      request: { params: InvitationIdParam },
      responses: { 204: { description: 'Revoked' }, ...problemResponses([409]) },
    }),
    async (c) => {
      await invitations.revokeInvitation(c.var.ctx, { id: c.req.valid('param').invitationId as string });
      return c.body(null, 204);
    },
  );
