/** /v1/me and /v1/tenant. */
import { createRoute } from '@hono/zod-openapi';
import { MeSchema, TenantSchema, UpdateMeBody, UpdateTenantBody } from '../identity/schemas';
import * as tenantService from '../identity/tenant-service';
import { BearerAuth, jsonBody, jsonContent, problemResponses } from '../lib/openapi';
import { newRouter } from '../lib/router';
import { guarded } from './deps';

const tags = ['Tenant'];

export const accountRoutes = newRouter()
  .openapi(
    createRoute({
      method: 'get',
      path: '/v1/me',
      operationId: 'me.get',
      tags,
      summary: 'Who am I: the caller, its tenant and role',
      middleware: guarded('tenant:read'),
      security: BearerAuth,
      responses: { 200: jsonContent(MeSchema, 'The caller'), ...problemResponses() },
    }),
    async (c) => c.json(await tenantService.me(c.var.ctx), 200),
  )
  .openapi(
    createRoute({
      method: 'patch',
      path: '/v1/me',
      operationId: 'me.update',
      tags,
      summary: 'Update your own profile (time zone); any role, people only',
      middleware: guarded('tenant:read'),
      security: BearerAuth,
      request: { body: jsonBody(UpdateMeBody) },
      responses: { 200: jsonContent(MeSchema, 'The caller, updated'), ...problemResponses() },
    }),
    async (c) => c.json(await tenantService.updateMe(c.var.ctx, c.req.valid('json')), 200),
  )
  .openapi(
    createRoute({
      method: 'get',
      path: '/v1/tenant',
      operationId: 'tenant.get',
      tags,
      summary: "The caller's tenant",
      middleware: guarded('tenant:read'),
      security: BearerAuth,
      responses: { 200: jsonContent(TenantSchema, 'The tenant'), ...problemResponses() },
    }),
    async (c) => c.json(await tenantService.getTenant(c.var.ctx), 200),
  )
  .openapi(
    createRoute({
      method: 'patch',
      path: '/v1/tenant',
      operationId: 'tenant.update',
      tags,
      summary: "Update the caller's tenant (admin)",
      middleware: guarded('tenant:write'),
      security: BearerAuth,
      request: { body: jsonBody(UpdateTenantBody) },
      responses: { 200: jsonContent(TenantSchema, 'The updated tenant'), ...problemResponses() },
    }),
    async (c) => c.json(await tenantService.updateTenant(c.var.ctx, c.req.valid('json')), 200),
  );
