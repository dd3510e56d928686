/** /v1/stream-tickets: trade a header credential for a single-use, 60 s ticket to open one stream from a browser. */
import { createRoute } from '@hono/zod-openapi';
import { StreamTicketBody, StreamTicketSchema } from '../identity/schemas';
import * as tickets from '../identity/stream-tickets';
import { BearerAuth, jsonBody, jsonContent, problemResponses } from '../lib/openapi';
import { newRouter } from '../lib/router';
import { guarded } from './deps';

export const streamTicketRoutes = newRouter().openapi(
  createRoute({
    method: 'post',
    path: '/v1/stream-tickets',
    operationId: 'streamTickets.create',
    tags: ['Sync'],
    summary:
      'A single-use ticket (valid 60 s) to open one stream (sync WebSocket, run SSE or WebSocket, chat stream or WebSocket) as `?ticket=`',
    description:
      'Credentials are refused in URLs. A browser that cannot set headers on the stream asks for a ticket with its header credential first.',
    middleware: guarded('data:read'),
    security: BearerAuth,
    request: { body: jsonBody(StreamTicketBody) },
    responses: { 201: jsonContent(StreamTicketSchema, 'The ticket (shown once)'), ...problemResponses() },
  }),
  async (c) => c.json(await tickets.createStreamTicket(c.var.ctx, c.req.valid('json')), 201),
);
