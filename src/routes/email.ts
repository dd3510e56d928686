/** Email notifications: preferences, deliveries, one-click unsubscribe (docs/notifications.md). */
import { createRoute, z } from '@hono/zod-openapi';
import { listDeliveries } from '../email/deliveries-service';
import { getPreferences, putPreferences } from '../email/preferences-service';
import { EmailDeliverySchema, NotificationPreferencesSchema } from '../email/schemas';
import { checkUnsubscribe, unsubscribe } from '../email/unsubscribe-service';
import { BearerAuth, jsonBody, jsonContent, problemResponses } from '../lib/openapi';
import { newRouter } from '../lib/router';
import { guarded } from './deps';

const tags = ['Notifications'];
const TokenParam = z.object({
  token: z
    .string()
    .min(1)
    .max(1200)
    .openapi({ param: { name: 'token', in: 'path' }, description: 'The signed token from the List-Unsubscribe header' }),
});
const OneClickForm = z.object({ 'List-Unsubscribe': z.string().max(32).optional() }).openapi('OneClickUnsubscribe');

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

export const emailRoutes = newRouter()
  .openapi(
    createRoute({
      method: 'get',
      path: '/v1/me/notification-preferences',
      operationId: 'notificationPreferences.get',
      tags,
      summary: 'Your notification preferences in this tenant (defaults when never set: in-app only)',
      middleware: guarded('tenant:read'),
      security: BearerAuth,
      responses: { 200: jsonContent(NotificationPreferencesSchema, 'The preferences'), ...problemResponses() },
    }),
    async (c) => c.json(await getPreferences(c.var.ctx), 200),
  )
  .openapi(
    createRoute({
      method: 'put',
      path: '/v1/me/notification-preferences',
      operationId: 'notificationPreferences.put',
      tags,
      summary: 'Replace your notification preferences in this tenant; any role, people only',
      middleware: guarded('tenant:read'),
      security: BearerAuth,
      request: { body: jsonBody(NotificationPreferencesSchema) },
      responses: { 200: jsonContent(NotificationPreferencesSchema, 'The preferences, stored'), ...problemResponses() },
    }),
    async (c) => c.json(await putPreferences(c.var.ctx, c.req.valid('json')), 200),
  )
  .openapi(
    createRoute({
      method: 'get',
      path: '/v1/notifications/{notificationId}/deliveries',
      operationId: 'notifications.deliveries',
      tags,
      summary: "Where a notification went by email (admins: every member's; others: their own)",
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
      responses: {
        200: jsonContent(z.object({ data: z.array(EmailDeliverySchema) }).openapi('EmailDeliveryList'), 'The deliveries'),
        ...problemResponses(),
      },
    }),
    async (c) => c.json(await listDeliveries(c.var.ctx, { notificationId: c.req.valid('param').notificationId }), 200),
  )
  .openapi(
    createRoute({
      method: 'get',
      path: '/v1/email/unsubscribe/{token}',
      operationId: 'emailUnsubscribe.show',
      tags,
      summary: 'The unsubscribe page a person opens from an email (changes nothing; its button POSTs)',
      security: [],
      request: { params: TokenParam },
      responses: {
        200: { description: 'A page with an unsubscribe button', content: { 'text/html': { schema: z.string() } } },
        ...problemResponses([404], { authenticated: false }),
      },
    }),
    async (c) => {
      const { token } = c.req.valid('param');
      const { address } = await checkUnsubscribe(c.var.requestCtx, { token });
      return c.html(
        `<!doctype html><html><head><meta charset="utf-8"><title>Unsubscribe</title></head><body>` +
          `<p>Stop notification emails to ${escapeHtml(address)}?</p>` +
          `<form method="post"><input type="hidden" name="List-Unsubscribe" value="One-Click"><button type="submit">Unsubscribe</button></form>` +
          `</body></html>`,
        200,
      );
    },
  )
  .openapi(
    createRoute({
      method: 'post',
      path: '/v1/email/unsubscribe/{token}',
      operationId: 'emailUnsubscribe.oneClick',
      tags,
      summary: 'RFC 8058 one-click unsubscribe: no login; a link that is not genuine is 404',
      security: [],
      request: {
        params: TokenParam,
        body: {
          required: false,
          content: {
            'application/x-www-form-urlencoded': { schema: OneClickForm },
            'multipart/form-data': { schema: OneClickForm },
          },
        },
      },
      responses: {
        200: jsonContent(z.object({ unsubscribed: z.literal(true), address: z.string() }).openapi('Unsubscribed'), 'Unsubscribed'),
        ...problemResponses([404], { authenticated: false }),
      },
    }),
    async (c) => c.json(await unsubscribe(c.var.requestCtx, { token: c.req.valid('param').token }), 200),
  );
