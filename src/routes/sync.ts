/** Real-time sync: the change log over HTTP (`GET /v1/sync?since=`) and over a WebSocket (`GET /v1/sync/ws`). */

import { createRoute, z } from '@hono/zod-openapi';
import { BearerAuth, jsonContent, problemResponses } from '../lib/openapi';
import { PageQuerySchema } from '../lib/pagination';
import { AppError } from '../lib/problem';
import { newRouter } from '../lib/router';
import { SnapshotPageSchema, SyncResponseSchema } from '../tasks/schemas';
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
      description:
        'The log is compacted (latest change per entity; deletes kept for the tombstone horizon, docs/tasks.md). ' +
        'A `since` older than the horizon answers 410 `resync_required` with `version` and `snapshot`: reload from GET /v1/sync/snapshot.',
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
      path: '/v1/sync/snapshot',
      operationId: 'sync.snapshot',
      tags,
      summary: 'The current tasks and notifications, paged, with the version to continue the change log from',
      description:
        "For a client told to resync. Page with `cursor` to the end (every page carries the first page's `version`), then apply changes " +
        'after `version` (GET /v1/sync?since=version, or the live frames of a socket that sent `resync`). Runs are not in the snapshot: list them with GET /v1/runs.',
      middleware: guarded('data:read'),
      security: BearerAuth,
      request: { query: PageQuerySchema },
      responses: { 200: jsonContent(SnapshotPageSchema, 'A page of the current state'), ...problemResponses() },
    }),
    async (c) => c.json(await sync.snapshot(c.var.ctx, c.req.valid('query')), 200),
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
        '`{type:"ack", clientMutationId, ok, result|code}`, and instead of the catch-up, when it would exceed 1,000 changes or 1 MiB or `since` is older than ' +
        'the tombstone horizon: `{type:"resync", reason:"too_far_behind"|"since_too_old", version, snapshot:"/v1/sync/snapshot"}` ' +
        '(reload from the snapshot; live changes after `version` follow on the socket). Client frames: `{type:"ping"}`, `{type:"mutate", clientMutationId, op, taskId?, input?, ifMatch?}`.',
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
