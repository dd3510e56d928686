/** The caller's tenant and the caller themselves. */
import { eq } from 'drizzle-orm';
import { apiKeys, memberships, type TenantSettings, tenants, users } from '../db/schema';
import { afterCommit, controlEvent, outboxInsert } from '../events/outbox';
import { AppError } from '../lib/problem';
import { auditInsert } from './audit';
import { actorOf, type TenantCall } from './context';
import { apiKeyView, tenantView, userView } from './views';

export async function getTenant(call: TenantCall) {
  const row = await call.db.select().from(tenants).where(eq(tenants.id, call.scope.tenantId)).get();
  if (!row) throw new AppError('not_found', 'Tenant not found.');
  return tenantView(row);
}

export async function updateTenant(call: TenantCall, input: { name?: string | undefined; settings?: TenantSettings | undefined }) {
  const { db, scope, now } = call;
  if (input.name !== undefined || input.settings !== undefined) {
    const current = await getTenant(call);
    // Settings merge key by key: sending { maxActiveRuns } keeps the allow-list.
    const settings = input.settings ? { ...current.settings, ...input.settings } : undefined;
    const changes = { ...(input.name !== undefined ? { name: input.name.trim() } : {}), ...(settings ? { settings } : {}) };
    const event = controlEvent(scope.tenantId, 'tenant.updated', changes, now);
    await db.batch([
      db
        .update(tenants)
        .set({ ...changes, updatedAt: now.toISOString() })
        .where(eq(tenants.id, scope.tenantId)),
      auditInsert(scope, actorOf(call.auth), 'tenant.updated', { type: 'tenant', id: scope.tenantId }, call.meta, changes),
      outboxInsert(db, event),
    ]);
    await afterCommit(call, event);
  }
  return getTenant(call);
}

export async function me(call: TenantCall) {
  const tenant = await getTenant(call);
  const { auth, db, scope } = call;
  if (auth.actorType === 'api_key') {
    const key = await scope.select(apiKeys, eq(apiKeys.id, auth.actorId)).get();
    return {
      actor: { type: 'api_key' as const, id: auth.actorId },
      apiKey: key ? apiKeyView(key as typeof apiKeys.$inferSelect) : null,
      user: null,
      tenant,
      role: auth.role,
      tenants: [],
    };
  }
  const user = await db.select().from(users).where(eq(users.id, auth.actorId)).get();
  if (!user) throw new AppError('unauthorized', 'The account no longer exists.');
  const all = await db
    .select({ id: tenants.id, name: tenants.name, role: memberships.role })
    .from(memberships)
    .innerJoin(tenants, eq(tenants.id, memberships.tenantId))
    .where(eq(memberships.userId, user.id))
    .all();
  return { actor: { type: 'user' as const, id: user.id }, apiKey: null, user: userView(user), tenant, role: auth.role, tenants: all };
}
