/** The caller's tenant and the caller themselves. */
import { and, eq, sql } from 'drizzle-orm';
import { preparedPer } from '../db/client';
import { apiKeys, memberships, type TenantSettings, tenants, users } from '../db/schema';
import { afterCommit, controlEvent, outboxInsertWhere } from '../events/outbox';
import { planCeilings } from '../flows/ceilings';
import { forgetTenantHeads } from '../flows/version-cache';
import type { ServiceCtx } from '../lib/context';
import { newId } from '../lib/ids';
import { AppError, fieldPath } from '../lib/problem';
import { auditInsertWhere } from './audit';
import { apiKeyView, tenantView, userView } from './views';

/** The tenant row by id, its SQL built once per binding per isolate (the caller's own tenant: `getTenant`). */
const tenantById = preparedPer((db) =>
  db
    .select()
    .from(tenants)
    .where(eq(tenants.id, sql.placeholder('id')))
    .prepare(),
);

export async function getTenant(ctx: ServiceCtx) {
  // Building this select's SQL was a tenth of an authenticated GET /v1/tenant's CPU (issue 20).
  const row = await tenantById(ctx.db.$client).get({ id: ctx.scope.tenantId });
  if (!row) throw new AppError('not_found', 'Tenant not found.');
  return tenantView(row);
}

const MERGE_ATTEMPTS = 5;

export async function updateTenant(ctx: ServiceCtx, input: { name?: string | undefined; settings?: TenantSettings | undefined }) {
  const { db, scope, now } = ctx;
  if (input.name === undefined && input.settings === undefined) return getTenant(ctx);
  // Settings merge key by key (sending { maxActiveRuns } keeps the allow-list), as a compare-and-set on the
  // settings read: two concurrent PATCHes of different keys both land instead of the later erasing the earlier.
  for (let attempt = 0; attempt < MERGE_ATTEMPTS; attempt++) {
    const current = await db
      .select({ settings: tenants.settings, plan: tenants.plan })
      .from(tenants)
      .where(eq(tenants.id, scope.tenantId))
      .get();
    if (!current) throw new AppError('not_found', 'Tenant not found.');
    if (attempt === 0) checkCeilings(current.plan, input.settings);
    const settings = input.settings ? { ...current.settings, ...input.settings } : undefined;
    const changes = { ...(input.name !== undefined ? { name: input.name.trim() } : {}), ...(settings ? { settings } : {}) };
    const event = controlEvent(scope.tenantId, 'tenant.updated', changes, now);
    const mark = newId('tmk');
    const ours = sql`EXISTS (SELECT 1 FROM tenants WHERE id = ${scope.tenantId} AND updated_at = ${mark})`;
    const [res] = await db.batch([
      db
        .update(tenants)
        // updated_at carries a unique mark for the statements below, then the real time.
        .set({ ...changes, updatedAt: mark })
        .where(and(eq(tenants.id, scope.tenantId), sql`${tenants.settings} IS ${JSON.stringify(current.settings)}`)),
      auditInsertWhere(scope, ctx.actor, 'tenant.updated', { type: 'tenant', id: scope.tenantId }, ctx, changes, ours),
      outboxInsertWhere(db, event, ours),
      db
        .update(tenants)
        .set({ updatedAt: now.toISOString() })
        .where(and(eq(tenants.id, scope.tenantId), eq(tenants.updatedAt, mark))),
    ]);
    if (res.meta.changes === 1) {
      forgetTenantHeads(scope.tenantId);
      await afterCommit(ctx, event);
      return getTenant(ctx);
    }
  }
  throw new AppError('conflict', 'The tenant changed concurrently; retry.');
}

/** A setting above the plan's ceiling is the caller's 422 naming it (docs/operations.md, "Ceilings"). */
function checkCeilings(plan: string, settings: TenantSettings | undefined): void {
  const ceiling = planCeilings(plan).maxActiveRuns;
  if (settings?.maxActiveRuns === undefined || settings.maxActiveRuns <= ceiling) return;
  throw new AppError('validation_failed', `settings.maxActiveRuns may be at most ${ceiling} on the ${plan} plan.`, {
    errors: [
      {
        in: 'body',
        ...fieldPath(['settings', 'maxActiveRuns']),
        message: `At most ${ceiling} on the ${plan} plan`,
        code: 'too_big',
      },
    ],
    extensions: { ceiling, plan },
  });
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

/** PATCH /v1/me: the caller's own profile (a person's; an API key has none). */
export async function updateMe(ctx: ServiceCtx, input: { timezone?: string | null | undefined }) {
  if (ctx.actor.type !== 'user') throw new AppError('forbidden', "An API key has no profile; set the tenant's settings.timezone instead.");
  if (input.timezone !== undefined)
    await ctx.db.update(users).set({ timezone: input.timezone, updatedAt: ctx.now.toISOString() }).where(eq(users.id, ctx.actor.id)).run();
  return me(ctx);
}
