/** The caller's tenant and the caller themselves. */
import { eq } from 'drizzle-orm';
import { apiKeys, memberships, type TenantSettings, tenants, users } from '../db/schema';
import { afterCommit, controlEvent, outboxInsert } from '../events/outbox';
import type { ServiceCtx } from '../lib/context';
import { AppError } from '../lib/problem';
import { auditInsert } from './audit';
import { apiKeyView, tenantView, userView } from './views';

export async function getTenant(ctx: ServiceCtx) {
  const row = await ctx.db.select().from(tenants).where(eq(tenants.id, ctx.scope.tenantId)).get();
  if (!row) throw new AppError('not_found', 'Tenant not found.');
  return tenantView(row);
}

export async function updateTenant(ctx: ServiceCtx, input: { name?: string | undefined; settings?: TenantSettings | undefined }) {
  const { db, scope, now } = ctx;
  if (input.name !== undefined || input.settings !== undefined) {
    const current = await getTenant(ctx);
    // Settings merge key by key: sending { maxActiveRuns } keeps the allow-list.
    const settings = input.settings ? { ...current.settings, ...input.settings } : undefined;
    const changes = { ...(input.name !== undefined ? { name: input.name.trim() } : {}), ...(settings ? { settings } : {}) };
    const event = controlEvent(scope.tenantId, 'tenant.updated', changes, now);
    await db.batch([
      db
        .update(tenants)
        .set({ ...changes, updatedAt: now.toISOString() })
        .where(eq(tenants.id, scope.tenantId)),
      auditInsert(scope, ctx.actor, 'tenant.updated', { type: 'tenant', id: scope.tenantId }, ctx, changes),
      outboxInsert(db, event),
    ]);
    await afterCommit(ctx, event);
  }
  return getTenant(ctx);
}

export async function me(ctx: ServiceCtx) {
  const tenant = await getTenant(ctx);
  const { actor, db, scope } = ctx;
  if (actor.type === 'api_key') {
    const key = await scope.select(apiKeys, eq(apiKeys.id, actor.id)).get();
    return {
      actor: { type: 'api_key' as const, id: actor.id },
      apiKey: key ? apiKeyView(key as typeof apiKeys.$inferSelect) : null,
      user: null,
      tenant,
      role: ctx.role,
      tenants: [],
    };
  }
  const user = await db.select().from(users).where(eq(users.id, actor.id)).get();
  if (!user) throw new AppError('unauthorized', 'The account no longer exists.');
  const all = await db
    .select({ id: tenants.id, name: tenants.name, role: memberships.role })
    .from(memberships)
    .innerJoin(tenants, eq(tenants.id, memberships.tenantId))
    .where(eq(memberships.userId, user.id))
    .all();
  return { actor: { type: 'user' as const, id: user.id }, apiKey: null, user: userView(user), tenant, role: ctx.role, tenants: all };
}
