/** /v1/notifications: reminders delivered by the hub. */

import { createRoute, z } from '@hono/zod-openapi';
import { BearerAuth, jsonContent, problemResponses } from '../lib/openapi';
import { decodeCursor, encodeCursor, PageQuerySchema, pageSchema } from '../lib/pagination';
import { newRouter } from '../lib/router';
import { NotificationSchema } from '../tasks/schemas';
import * as tasks from '../tasks/service';
import { guarded } from './deps';

const tags = ['Tasks'];

export const notificationRoutes = newRouter()
  .openapi(
    createRoute({
      method: 'get',
      path: '/v1/notifications',
      operationId: 'notifications.list',
      tags,
      summary: 'Notifications, newest first',
      middleware: guarded('data:read'),
      security: BearerAuth,
      request: {
        query: PageQuerySchema.extend({
          unread: z
            .enum(['true', 'false'])
            .optional()
            .openapi({ param: { name: 'unread', in: 'query' } }),
        }),
      },
      responses: { 200: jsonContent(pageSchema(NotificationSchema, 'NotificationPage'), 'Notifications'), ...problemResponses() },
    }),
    async (c) => {
      const q = c.req.valid('query');
      const page = await tasks.listNotifications(c.var.ctx, { unread: q.unread === 'true', limit: q.limit, after: decodeCursor(q.cursor) });
      return c.json({ data: page.data, nextCursor: page.nextCursor ? encodeCursor(page.nextCursor) : null }, 200);
    },
  )
  .openapi(
    createRoute({
      method: 'post',
      path: '/v1/notifications/{notificationId}/read',
      operationId: 'notifications.markRead',
      tags,
      summary: 'Mark a notification read',
      middleware: guarded('data:read'),
      security: BearerAuth,
      request: {
        params: z.object({
          notificationId: z
            .string()
            .min(1)
            .max(64)
            .openapi({ param: { name: 'notificationId', in: 'path' } }),
        }),
      },
      responses: { 200: jsonContent(NotificationSchema, 'The notification'), ...problemResponses() },
    }),
    async (c) => c.json(await tasks.markNotificationRead(c.var.ctx, { id: c.req.valid('param').notificationId }), 200),
  );
