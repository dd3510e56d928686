/**
 * Whose clock a request means: the zone the request names, else the member's
 * (their profile, PATCH /v1/me), else the tenant's default (settings.timezone),
 * else UTC. Quick add and the assistant both use it and say which one applied.
 */
import { eq } from 'drizzle-orm';
import { type TenantSettings, tenants, users } from '../db/schema';
import type { ServiceCtx } from '../lib/context';
import { AppError } from '../lib/problem';
import { isValidTimezone } from './schedule/zone';

export type TimezoneSource = 'request' | 'member' | 'tenant' | 'utc';

export interface ResolvedTimezone {
  timezone: string;
  source: TimezoneSource;
}

/**
 * The first of: the requested zone (validated; `field` names it in the 422), the member's, the tenant's, UTC.
 * A caller that already read the tenant's settings passes them (one query fewer).
 */
export async function resolveTimezone(
  ctx: ServiceCtx,
  { requested, field = 'timezone', settings }: { requested: string | undefined; field?: string; settings?: TenantSettings | undefined },
): Promise<ResolvedTimezone> {
  if (requested !== undefined) {
    if (!isValidTimezone(requested)) {
      const message = `Unknown IANA time zone '${requested}'.`;
      throw new AppError('validation_failed', message, {
        errors: [{ in: 'body', path: field, pointer: `/${field}`, message, code: 'invalid' }],
      });
    }
    return { timezone: requested, source: 'request' };
  }
  const [member, tenant] = await Promise.all([
    ctx.actor.type === 'user'
      ? ctx.db.select({ timezone: users.timezone }).from(users).where(eq(users.id, ctx.actor.id)).get()
      : Promise.resolve(undefined),
    settings
      ? Promise.resolve({ settings })
      : ctx.db.select({ settings: tenants.settings }).from(tenants).where(eq(tenants.id, ctx.tenantId)).get(),
  ]);
  // A zone stored before the runtime dropped it (tz database renames) falls through rather than failing every request.
  if (member?.timezone && isValidTimezone(member.timezone)) return { timezone: member.timezone, source: 'member' };
  const fallback = tenant?.settings?.timezone;
  if (fallback && isValidTimezone(fallback)) return { timezone: fallback, source: 'tenant' };
  return { timezone: 'UTC', source: 'utc' };
}
