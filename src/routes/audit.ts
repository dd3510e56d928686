/** /v1/audit-log (admin, newest first). */
import { createRoute } from '@hono/zod-openapi';
import { listAudit } from '../identity/audit';
import { AuditEntrySchema } from '../identity/schemas';
import { BearerAuth, jsonContent, problemResponses } from '../lib/openapi';
import { PageQuerySchema, pageSchema } from '../lib/pagination';
import { newRouter } from '../lib/router';
import { guarded } from './deps';

export const auditRoutes = newRouter().openapi(
  createRoute({
    method: 'get',
    path: '/v1/audit-log',
    operationId: 'auditLog.list',
    tags: ['Tenant'],
    summary: 'Audit log of the tenant, newest first (admin)',
    middleware: guarded('audit:read'),
    security: BearerAuth,
    request: { query: PageQuerySchema },
    responses: { 200: jsonContent(pageSchema(AuditEntrySchema, 'AuditPage'), 'Entries'), ...problemResponses() },
  }),
  async (c) => c.json(await listAudit(c.var.ctx, c.req.valid('query')), 200),
);
