/** The caller's tenant and the caller themselves. */
import { eq } from 'drizzle-orm';
import { apiKeys, memberships, tenants, users } from '../db/schema';
import { AppError } from '../lib/problem';
import { auditInsert } from './audit';
import { actorOf, type TenantCall } from './context';
import { apiKeyView, tenantView, userView } from './views';

export async function getTenant(call: TenantCall) {
  const row = await call.db.select().from(tenants).where(eq(tenants.id, call.scope.tenantId)).get();
  if (!row) throw new AppError('not_found', 'Tenant not found.');
  return tenantView(row);
}

export async function updateTenant(call: TenantCall, input: { name?: string | undefined }) {
  const { db, scope, now } = call;
  if (input.name !== undefined) {
    await db.batch([
      db.update(tenants).set({ name: input.name.trim(), updatedAt: now.toISOString() }).where(eq(tenants.id, scope.tenantId)),
      auditInsert(scope, actorOf(call.auth), 'tenant.updated', { type: 'tenant', id: scope.tenantId }, call.meta, { name: input.name.trim() }),
    ]);
  }
  return getTenant(call);
}

export async function me(call: TenantCall) {
  const tenant = await getTenant(call);
  const { auth, db, scope } = call;
  if (auth.actorType === 'api_key') {
    const key = await scope.select(apiKeys, eq(apiKeys.id, auth.actorId)).get();
    return { actor: { type: 'api_key' as const, id: auth.actorId }, apiKey: key ? apiKeyView(key as typeof apiKeys.$inferSelect) : null, user: null, tenant, role: auth.role, tenants: [] };
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
