/** API keys: `ek_live_…`, shown once, stored as a peppered hash, bound to the tenant with a role. */
import { and, desc, eq, isNull, lt, sql } from 'drizzle-orm';
import { apiKeys } from '../db/schema';
import { afterCommit, controlEvent, outboxInsert, outboxInsertWhere } from '../events/outbox';
import type { ServiceCtx } from '../lib/context';
import { newId } from '../lib/ids';
import { decodeCursor, type PageInput, toPage } from '../lib/pagination';
import { AppError } from '../lib/problem';
import { auditInsert } from './audit';
import { pepperOf } from './context';
import { API_KEY_PREFIX, forgetApiKey } from './credentials';
import type { Role } from './roles';
import { hashSecret, newSecret } from './secrets';
import { apiKeyView } from './views';

export interface CreateApiKeyInput {
  name: string;
  role: Role;
  expiresAt?: string | undefined;
}

export async function createApiKey(ctx: ServiceCtx, input: CreateApiKeyInput) {
  const { db, scope, now } = ctx;
  if (input.expiresAt && Date.parse(input.expiresAt) <= now.getTime()) {
    throw new AppError('validation_failed', 'expiresAt must be in the future.', {
      errors: [{ in: 'body', path: 'expiresAt', pointer: '/expiresAt', message: 'Must be in the future', code: 'too_small' }],
    });
  }
  const key = newSecret(API_KEY_PREFIX);
  const id = newId('key');
  const event = controlEvent(scope.tenantId, 'api_key.created', { apiKeyId: id, name: input.name.trim(), role: input.role }, now);
  await db.batch([
    scope.insert(apiKeys, {
      id,
      name: input.name.trim(),
      role: input.role,
      prefix: key.slice(0, API_KEY_PREFIX.length + 6),
      keyHash: await hashSecret(key, pepperOf(ctx.config)),
      createdBy: ctx.actor.id,
      expiresAt: input.expiresAt ? new Date(input.expiresAt).toISOString() : null,
      createdAt: now.toISOString(),
    }),
    auditInsert(scope, ctx.actor, 'api_key.created', { type: 'api_key', id }, ctx, { role: input.role, name: input.name }),
    outboxInsert(db, event),
  ]);
  await afterCommit(ctx, event);
  const row = await scope.select(apiKeys, eq(apiKeys.id, id)).get();
  return { ...apiKeyView(row as typeof apiKeys.$inferSelect), key };
}

export async function listApiKeys(ctx: ServiceCtx, { limit, cursor }: PageInput) {
  const after = decodeCursor(cursor);
  const rows = (await ctx.scope
    .select(apiKeys, and(isNull(apiKeys.revokedAt), after ? lt(apiKeys.id, after) : undefined))
    .orderBy(desc(apiKeys.id))
    .limit(limit + 1)
    .all()) as (typeof apiKeys.$inferSelect)[];
  const page = toPage(rows, limit, (r) => r.id);
  return { data: page.data.map(apiKeyView), nextCursor: page.nextCursor };
}

export async function getApiKey(ctx: ServiceCtx, { id }: { id: string }) {
  const row = (await ctx.scope.select(apiKeys, and(eq(apiKeys.id, id), isNull(apiKeys.revokedAt))).get()) as
    | typeof apiKeys.$inferSelect
    | undefined;
  if (!row) throw new AppError('not_found', `API key ${id} not found.`);
  return apiKeyView(row);
}

export async function revokeApiKey(ctx: ServiceCtx, { id }: { id: string }): Promise<void> {
  const { db, scope, now } = ctx;
  await getApiKey(ctx, { id });
  const stamp = now.toISOString();
  const event = controlEvent(scope.tenantId, 'api_key.revoked', { apiKeyId: id }, now);
  const [res] = await db.batch([
    scope.update(apiKeys, { revokedAt: stamp }, and(eq(apiKeys.id, id), isNull(apiKeys.revokedAt))),
    auditInsert(scope, ctx.actor, 'api_key.revoked', { type: 'api_key', id }, ctx),
    // Only if the revocation above was this request's (its mark stuck).
    outboxInsertWhere(
      db,
      event,
      sql`EXISTS (SELECT 1 FROM api_keys WHERE id = ${id} AND tenant_id = ${scope.tenantId} AND revoked_at = ${stamp})`,
    ),
  ]);
  if (res.meta.changes !== 1) {
    // Revoked concurrently by another request between the read and the write.
    throw new AppError('not_found', `API key ${id} not found.`);
  }
  forgetApiKey(id);
  await ctx.sessions?.revoke(scope.tenantId, id);
  await afterCommit(ctx, event);
}
