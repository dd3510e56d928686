/** Webhook endpoints of the caller's tenant: create (secret shown once), read, update, delete, rotate the secret. */
import { and, count, desc, eq, lt } from 'drizzle-orm';
import { isDeployed } from '../config';
import { webhookEndpoints } from '../db/schema';
import type { TenantCall } from '../identity/context';
import { newId } from '../lib/ids';
import { decodeCursor, toPage } from '../lib/pagination';
import { AppError } from '../lib/problem';
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
    disabledReason: e.disabledReason,
    disabledAt: e.disabledAt,
    failingSince: e.failingSince,
    previousSecretExpiresAt:
      e.previousSecretExpiresAt && Date.parse(e.previousSecretExpiresAt) > Date.now() ? e.previousSecretExpiresAt : null,
    createdAt: e.createdAt,
    updatedAt: e.updatedAt,
  };
}

function assertTarget(call: TenantCall, url: string): void {
  const check = checkTarget(url, isDeployed(call.config));
  if (!check.ok) {
    throw new AppError('validation_failed', `The webhook URL is not allowed: ${check.reason}.`, {
      errors: [{ in: 'body', path: 'url', pointer: '/url', message: check.reason, code: 'invalid_target' }],
    });
  }
}

export async function loadEndpoint(call: TenantCall, id: string): Promise<Endpoint> {
  const row = (await call.scope.select(webhookEndpoints, eq(webhookEndpoints.id, id)).get()) as Endpoint | undefined;
  if (!row) throw new AppError('not_found', `Webhook ${id} not found.`);
  return row;
}

export interface CreateWebhookInput {
  url: string;
  description?: string | undefined;
  eventTypes: string[];
  enabled: boolean;
}

export async function createWebhook(call: TenantCall, input: CreateWebhookInput) {
  const { scope, now } = call;
  assertTarget(call, input.url);
  const [{ n }] = (await call.db.select({ n: count() }).from(webhookEndpoints).where(scope.where(webhookEndpoints)).all()) as [
    { n: number },
  ];
  if (n >= MAX_ENDPOINTS_PER_TENANT)
    throw new AppError('conflict', `A tenant can have at most ${MAX_ENDPOINTS_PER_TENANT} webhook endpoints.`);
  const id = newId('whk');
  const secret = newSigningSecret();
  const stamp = now.toISOString();
  await scope
    .insert(webhookEndpoints, {
      id,
      url: input.url,
      description: input.description ?? null,
      eventTypes: [...new Set(input.eventTypes)],
      enabled: input.enabled,
      disabledReason: input.enabled ? null : 'manual',
      disabledAt: input.enabled ? null : stamp,
      secretEnc: await seal(call.config.WEBHOOK_SECRET_KEY, id, secret),
      createdBy: call.auth.actorId,
      createdAt: stamp,
      updatedAt: stamp,
    })
    .run();
  return { ...webhookView(await loadEndpoint(call, id)), secret };
}

export async function listWebhooks(call: TenantCall, limit: number, cursor: string | undefined) {
  const after = decodeCursor(cursor);
  const rows = (await call.scope
    .select(webhookEndpoints, after ? lt(webhookEndpoints.id, after) : undefined)
    .orderBy(desc(webhookEndpoints.id))
    .limit(limit + 1)
    .all()) as Endpoint[];
  const page = toPage(rows, limit, (r) => r.id);
  return { data: page.data.map(webhookView), nextCursor: page.nextCursor };
}

export async function getWebhook(call: TenantCall, id: string) {
  return webhookView(await loadEndpoint(call, id));
}

export interface UpdateWebhookInput {
  url?: string | undefined;
  description?: string | null | undefined;
  eventTypes?: string[] | undefined;
  enabled?: boolean | undefined;
}

export async function updateWebhook(call: TenantCall, id: string, input: UpdateWebhookInput) {
  const before = await loadEndpoint(call, id);
  if (input.url !== undefined) assertTarget(call, input.url);
  const stamp = call.now.toISOString();
  const set: Partial<typeof webhookEndpoints.$inferInsert> = { updatedAt: stamp };
  if (input.url !== undefined) set.url = input.url;
  if (input.description !== undefined) set.description = input.description;
  if (input.eventTypes !== undefined) set.eventTypes = [...new Set(input.eventTypes)];
  if (input.enabled === true && !before.enabled)
    Object.assign(set, { enabled: true, disabledReason: null, disabledAt: null, failingSince: null, exhaustedInRow: 0 });
  if (input.enabled === false && before.enabled) Object.assign(set, { enabled: false, disabledReason: 'manual', disabledAt: stamp });
  await call.scope.update(webhookEndpoints, set, eq(webhookEndpoints.id, id)).run();
  return getWebhook(call, id);
}

export async function deleteWebhook(call: TenantCall, id: string): Promise<void> {
  await loadEndpoint(call, id);
  // Deliveries and their attempt log go with it (foreign keys cascade).
  await call.scope.delete(webhookEndpoints, eq(webhookEndpoints.id, id)).run();
}

/** A new secret; the old one keeps signing (alongside) for `overlapSeconds`, so receivers can switch without losing a delivery. */
export async function rotateSecret(call: TenantCall, id: string, overlapSeconds: number) {
  const before = await loadEndpoint(call, id);
  const secret = newSigningSecret();
  const stamp = call.now.toISOString();
  const res = await call.scope
    .update(
      webhookEndpoints,
      {
        secretEnc: await seal(call.config.WEBHOOK_SECRET_KEY, id, secret),
        previousSecretEnc: overlapSeconds > 0 ? before.secretEnc : null,
        previousSecretExpiresAt: overlapSeconds > 0 ? new Date(call.now.getTime() + overlapSeconds * 1000).toISOString() : null,
        updatedAt: stamp,
      },
      // Compare-and-set: two concurrent rotations cannot both keep "the previous" secret.
      and(eq(webhookEndpoints.id, id), eq(webhookEndpoints.secretEnc, before.secretEnc)),
    )
    .run();
  if (res.meta.changes !== 1) throw new AppError('conflict', 'The secret was rotated concurrently; fetch the webhook and try again.');
  return { ...webhookView(await loadEndpoint(call, id)), secret };
}
