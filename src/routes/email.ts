/** Email notifications: preferences, deliveries, one-click unsubscribe (docs/notifications.md). */
import { createRoute, z } from '@hono/zod-openapi';
import { listDeliveries } from '../email/deliveries-service';
import { getPreferences, putPreferences } from '../email/preferences-service';
import { EmailDeliverySchema, NotificationPreferencesSchema } from '../email/schemas';
import { checkUnsubscribe, unsubscribe } from '../email/unsubscribe-service';
import { checkVerification, resendVerification, verifyEmail } from '../email/verification-service';
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
const VerifyParam = z.object({
  token: z
    .string()
    .min(1)
    .max(200)
    .openapi({ param: { name: 'token', in: 'path' }, description: 'The token from the verification email' }),
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
  )
  .openapi(
    createRoute({
      method: 'post',
      path: '/v1/me/verify-email',
      operationId: 'me.resendVerification',
      tags: ['Auth'],
      summary: 'Email a new verification link (at most once a minute, 5 a day: 429 with Retry-After)',
      middleware: guarded('tenant:read'),
      security: BearerAuth,
      responses: {
        202: jsonContent(z.object({ sent: z.literal(true), expiresAt: z.string() }).openapi('VerificationSent'), 'Sent'),
        ...problemResponses([409]),
      },
    }),
    async (c) => c.json(await resendVerification(c.var.ctx), 202),
  )
  .openapi(
    createRoute({
      method: 'get',
      path: '/v1/auth/verify-email/{token}',
      operationId: 'emailVerification.show',
      tags: ['Auth'],
      summary: 'The page a verification link opens (uses nothing; its button POSTs)',
      security: [],
      request: { params: VerifyParam },
      responses: {
        200: { description: 'A page with a confirm button', content: { 'text/html': { schema: z.string() } } },
        ...problemResponses([404, 409, 410], { authenticated: false }),
      },
    }),
    async (c) => {
      const row = await checkVerification(c.var.requestCtx, { token: c.req.valid('param').token });
      return c.html(
        `<!doctype html><html><head><meta charset="utf-8"><title>Confirm your email</title></head><body>` +
          `<p>Confirm ${escapeHtml(row.address)} for your Edgecrew account?</p>` +
          `<form method="post"><button type="submit">Confirm</button></form></body></html>`,
        200,
      );
    },
  )
  .openapi(
    createRoute({
      method: 'post',
      path: '/v1/auth/verify-email/{token}',
      operationId: 'emailVerification.confirm',
      tags: ['Auth'],
      summary: 'Use a verification link (once; it expires after 24 h): unknown 404, used 409, expired 410',
      security: [],
      request: { params: VerifyParam },
      responses: {
        200: jsonContent(z.object({ verified: z.literal(true), email: z.string() }).openapi('EmailVerified'), 'Verified'),
        ...problemResponses([404, 409, 410], { authenticated: false }),
      },
    }),
    async (c) => c.json(await verifyEmail(c.var.requestCtx, { token: c.req.valid('param').token }), 200),
  );
