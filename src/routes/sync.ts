/** Real-time sync: the change log over HTTP (`GET /v1/sync?since=`) and over a WebSocket (`GET /v1/sync/ws`). */

import { createRoute, z } from '@hono/zod-openapi';
import { BearerAuth, jsonContent, problemResponses } from '../lib/openapi';
import { AppError } from '../lib/problem';
import { newRouter } from '../lib/router';
import { SyncResponseSchema } from '../tasks/schemas';
import * as sync from '../tasks/sync-service';
import { guarded } from './deps';

const tags = ['Sync'];
const SinceQuery = z.object({
  since: z.coerce
    .number()
    .int()
    .min(0)
    .default(0)
    .openapi({ param: { name: 'since', in: 'query' }, description: 'The last version the client has seen (0 = everything)' }),
  limit: z.coerce
    .number()
    .int()
    .min(1)
    .max(1000)
    .default(500)
    .openapi({ param: { name: 'limit', in: 'query' } }),
});

export const syncRoutes = newRouter()
  .openapi(
    createRoute({
      method: 'get',
      path: '/v1/sync',
      operationId: 'sync.changes',
      tags,
      summary: 'Changes after `since`, in order, with no gap; repeat with the returned version while hasMore',
      middleware: guarded('data:read'),
      security: BearerAuth,
      request: { query: SinceQuery },
      responses: { 200: jsonContent(SyncResponseSchema, 'A page of changes'), ...problemResponses() },
    }),
    async (c) => {
      const { since, limit } = c.req.valid('query');
      return c.json(await sync.changesSince(c.var.ctx, { since, limit }), 200);
    },
  )
  .openapi(
    createRoute({
      method: 'get',
      path: '/v1/sync/ws',
      operationId: 'sync.websocket',
      tags,
      summary: 'WebSocket: missed changes since `since`, then every change live',
      description:
        'Upgrade with `Upgrade: websocket`. Authenticate with the Authorization header, or `?ticket=` (POST /v1/stream-tickets) where headers cannot be set. ' +
        'Server frames: `{type:"change", version, entity, entityId, op, data, occurredAt}`, `{type:"synced", version}` after catch-up, ' +
        '`{type:"ack", clientMutationId, ok, result|code}`. Client frames: `{type:"ping"}`, `{type:"mutate", clientMutationId, op, taskId?, input?, ifMatch?}`.',
      middleware: guarded('data:read', { allowStreamTicket: true }),
      security: BearerAuth,
      request: {
        query: z.object({
          since: SinceQuery.shape.since,
          ticket: z
            .string()
            .optional()
            .openapi({
              param: { name: 'ticket', in: 'query' },
              description: 'A stream ticket (POST /v1/stream-tickets), where headers cannot be set',
            }),
        }),
      },
      responses: { 101: { description: 'Switching protocols' }, ...problemResponses() },
    }),
    async (c) => {
      if (c.req.header('upgrade')?.toLowerCase() !== 'websocket') {
        throw new AppError('bad_request', 'This endpoint needs a WebSocket upgrade (Upgrade: websocket).', {
          headers: { upgrade: 'websocket' },
        });
      }
      return sync.openSyncSocket(c.var.ctx, { url: c.req.url });
    },
  );
