/** Webhook endpoints of the caller's tenant: create (secret shown once), read, update, delete, rotate the secret. */
import { and, desc, eq, lt, sql } from 'drizzle-orm';
import { isDeployed } from '../config';
import { insertWhere } from '../db/insert-where';
import { webhookEndpoints } from '../db/schema';
import { auditInsert, auditInsertWhere } from '../identity/audit';
import type { ServiceCtx } from '../lib/context';
import { newId } from '../lib/ids';
import { decodeCursor, type PageInput, toPage } from '../lib/pagination';
import { AppError } from '../lib/problem';
import { tenantHubStub } from '../lib/stubs';
import { checkTarget } from '../lib/targets';
import { seal } from './secret-box';
import { newSigningSecret } from './signing';

export const MAX_ENDPOINTS_PER_TENANT = 20;

type Endpoint = typeof webhookEndpoints.$inferSelect;

export function webhookView(e: Endpoint) {
  return {
    id: e.id,
    url: e.url,
    description: e.description,
    eventTypes: e.eventTypes,
    enabled: e.enabled,
    ordering: e.ordering,
    disabledReason: e.disabledReason,
    disabledAt: e.disabledAt,
    failingSince: e.failingSince,
    previousSecretExpiresAt:
      e.previousSecretExpiresAt && Date.parse(e.previousSecretExpiresAt) > Date.now() ? e.previousSecretExpiresAt : null,
    createdAt: e.createdAt,
    updatedAt: e.updatedAt,
  };
}

function assertTarget(ctx: ServiceCtx, url: string): void {
  const check = checkTarget(url, isDeployed(ctx.config));
  if (!check.ok) {
    throw new AppError('validation_failed', `The webhook URL is not allowed: ${check.reason}.`, {
      errors: [{ in: 'body', path: 'url', pointer: '/url', message: check.reason, code: 'invalid_target' }],
    });
  }
}

export async function loadEndpoint(ctx: ServiceCtx, id: string): Promise<Endpoint> {
  const row = (await ctx.scope.select(webhookEndpoints, eq(webhookEndpoints.id, id)).get()) as Endpoint | undefined;
  if (!row) throw new AppError('not_found', `Webhook ${id} not found.`);
  return row;
}

export interface CreateWebhookInput {
  url: string;
  description?: string | undefined;
  eventTypes: string[];
  enabled: boolean;
  ordering?: 'sequence' | 'none' | undefined;
}

export async function createWebhook(ctx: ServiceCtx, input: CreateWebhookInput) {
  const { scope, now } = ctx;
  assertTarget(ctx, input.url);
  const id = newId('whk');
  const secret = newSigningSecret();
  const stamp = now.toISOString();
  const eventTypes = [...new Set(input.eventTypes)];
  // The cap is a compare-and-set: the row goes in only if the tenant is still under it when the batch runs,
  // so concurrent creates cannot overshoot; the audit entry commits only with the row.
  const underCap = sql`(SELECT COUNT(*) FROM ${webhookEndpoints} WHERE ${webhookEndpoints.tenantId} = ${scope.tenantId}) < ${MAX_ENDPOINTS_PER_TENANT}`;
  const created = sql`EXISTS (SELECT 1 FROM ${webhookEndpoints} WHERE ${webhookEndpoints.id} = ${id})`;
  const [inserted] = await ctx.db.batch([
    insertWhere(
      ctx.db,
      webhookEndpoints,
      {
        id,
        tenantId: scope.tenantId,
        url: input.url,
        description: input.description ?? null,
        eventTypes,
        enabled: input.enabled,
        ordering: input.ordering ?? 'sequence',
        disabledReason: input.enabled ? null : 'manual',
        disabledAt: input.enabled ? null : stamp,
        secretEnc: await seal(ctx.config.WEBHOOK_SECRET_KEY, id, secret),
        createdBy: ctx.actor.id,
        createdAt: stamp,
        updatedAt: stamp,
      },
      underCap,
    ),
    auditInsertWhere(scope, ctx.actor, 'webhook.created', { type: 'webhook', id }, ctx, { url: input.url, eventTypes }, created),
  ]);
  if (inserted.meta.changes !== 1)
    throw new AppError('conflict', `A tenant can have at most ${MAX_ENDPOINTS_PER_TENANT} webhook endpoints.`);
  if (input.enabled) await endpointsChanged(ctx);
  return { ...webhookView(await loadEndpoint(ctx, id)), secret };
}

/**
 * Tells the tenant's hub that its endpoints changed (created, updated, enabled or disabled, deleted,
 * secret rotated), so its direct first attempts (durable-objects/tenant-hub/direct-webhooks.ts) read
 * them again for the next event instead of using their copy for its remaining second or two. Best
 * effort: if the call is lost, the copy runs out by itself.
 */
async function endpointsChanged(ctx: ServiceCtx): Promise<void> {
  await tenantHubStub(ctx.env, ctx.scope.tenantId)
    .webhooksChanged(ctx.scope.tenantId)
    .catch(() => undefined);
}

export async function listWebhooks(ctx: ServiceCtx, { limit, cursor }: PageInput) {
  const after = decodeCursor(cursor);
  const rows = (await ctx.scope
    .select(webhookEndpoints, after ? lt(webhookEndpoints.id, after) : undefined)
    .orderBy(desc(webhookEndpoints.id))
    .limit(limit + 1)
    .all()) as Endpoint[];
  const page = toPage(rows, limit, (r) => r.id);
  return { data: page.data.map(webhookView), nextCursor: page.nextCursor };
}

export async function getWebhook(ctx: ServiceCtx, { id }: { id: string }) {
  return webhookView(await loadEndpoint(ctx, id));
}

export interface UpdateWebhookInput {
  url?: string | undefined;
  description?: string | null | undefined;
  eventTypes?: string[] | undefined;
  enabled?: boolean | undefined;
  ordering?: 'sequence' | 'none' | undefined;
}

export async function updateWebhook(ctx: ServiceCtx, input: UpdateWebhookInput & { id: string }) {
  const { id } = input;
  const before = await loadEndpoint(ctx, id);
  if (input.url !== undefined) assertTarget(ctx, input.url);
  const stamp = ctx.now.toISOString();
  const set: Partial<typeof webhookEndpoints.$inferInsert> = { updatedAt: stamp };
  if (input.url !== undefined) set.url = input.url;
  if (input.description !== undefined) set.description = input.description;
  if (input.eventTypes !== undefined) set.eventTypes = [...new Set(input.eventTypes)];
  if (input.ordering !== undefined) set.ordering = input.ordering;
  if (input.enabled === true && !before.enabled)
    Object.assign(set, { enabled: true, disabledReason: null, disabledAt: null, failingSince: null, exhaustedInRow: 0 });
  if (input.enabled === false && before.enabled) Object.assign(set, { enabled: false, disabledReason: 'manual', disabledAt: stamp });
  const { updatedAt: _, ...changed } = set;
  await ctx.db.batch([
    ctx.scope.update(webhookEndpoints, set, eq(webhookEndpoints.id, id)),
    auditInsert(ctx.scope, ctx.actor, 'webhook.updated', { type: 'webhook', id }, ctx, { fields: Object.keys(changed) }),
  ]);
  await endpointsChanged(ctx);
  return getWebhook(ctx, { id });
}

export async function deleteWebhook(ctx: ServiceCtx, { id }: { id: string }): Promise<void> {
  await loadEndpoint(ctx, id);
  // Deliveries and their attempt log go with it (foreign keys cascade).
  await ctx.db.batch([
    ctx.scope.delete(webhookEndpoints, eq(webhookEndpoints.id, id)),
    auditInsert(ctx.scope, ctx.actor, 'webhook.deleted', { type: 'webhook', id }, ctx),
  ]);
  await endpointsChanged(ctx);
}

/** A new secret; the old one keeps signing (alongside) for `overlapSeconds`, so receivers can switch without losing a delivery. */
export async function rotateSecret(ctx: ServiceCtx, { id, overlapSeconds }: { id: string; overlapSeconds: number }) {
  const before = await loadEndpoint(ctx, id);
  const secret = newSigningSecret();
  const stamp = ctx.now.toISOString();
  const sealed = await seal(ctx.config.WEBHOOK_SECRET_KEY, id, secret);
  const [res] = await ctx.db.batch([
    ctx.scope.update(
      webhookEndpoints,
      {
        secretEnc: sealed,
        previousSecretEnc: overlapSeconds > 0 ? before.secretEnc : null,
        previousSecretExpiresAt: overlapSeconds > 0 ? new Date(ctx.now.getTime() + overlapSeconds * 1000).toISOString() : null,
        updatedAt: stamp,
      },
      // Compare-and-set: two concurrent rotations cannot both keep "the previous" secret.
      and(eq(webhookEndpoints.id, id), eq(webhookEndpoints.secretEnc, before.secretEnc)),
    ),
    // Only with the rotation that stuck (its sealed secret is unique).
    auditInsertWhere(
      ctx.scope,
      ctx.actor,
      'webhook.secret_rotated',
      { type: 'webhook', id },
      ctx,
      { overlapSeconds },
      sql`EXISTS (SELECT 1 FROM ${webhookEndpoints} WHERE ${webhookEndpoints.id} = ${id} AND ${webhookEndpoints.secretEnc} = ${sealed})`,
    ),
  ]);
  if (res.meta.changes !== 1) throw new AppError('conflict', 'The secret was rotated concurrently; fetch the webhook and try again.');
  await endpointsChanged(ctx);
  return { ...webhookView(await loadEndpoint(ctx, id)), secret };
}
