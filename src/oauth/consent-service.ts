/**
 * The consent page's last step as a service verb: what a signed-in user grants a client for one of
 * their tenants. The role is read now (not from the page), the approved scopes are intersected with
 * what it allows (src/oauth/scopes.ts), and the grant is audited in that tenant.
 */
import { eq } from 'drizzle-orm';
import type { Db } from '../db/client';
import { memberships } from '../db/schema';
import { TenantScope } from '../db/tenant-scope';
import { auditInsert } from '../identity/audit';
import type { Role } from '../identity/roles';
import type { RequestCtx } from '../lib/context';
import { AppError } from '../lib/problem';
import { grantedScopes, type McpScope } from './scopes';
import type { GrantProps } from './server';

export interface GrantInput {
  userId: string;
  tenantId: string;
  clientId: string;
  /** The scopes the user left ticked. */
  approved: string[];
}

/** The user's current role in the tenant, or null when they are not (or no longer) a member. */
export async function memberRole(db: Db, tenantId: string, userId: string): Promise<Role | null> {
  const scope = new TenantScope(db, tenantId);
  const row = await db
    .select({ role: memberships.role })
    .from(memberships)
    .where(scope.where(memberships, eq(memberships.userId, userId)))
    .get();
  return row?.role ?? null;
}

export async function authorizeGrant(ctx: RequestCtx, input: GrantInput): Promise<{ props: GrantProps; scope: McpScope[] }> {
  const scope = new TenantScope(ctx.db, input.tenantId);
  const role = await memberRole(ctx.db, input.tenantId, input.userId);
  const member = role ? { role } : null;
  // Not (or no longer) a member: the same answer as an unknown tenant.
  if (!member) throw new AppError('not_found', 'Tenant not found.');
  const granted = grantedScopes(member.role, input.approved);
  if (!granted) {
    throw new AppError('validation_failed', 'Choose at least one permission your role allows.', {
      errors: [{ in: 'body', path: 'scope', pointer: '/scope', message: 'No grantable scope was selected.', code: 'too_small' }],
    });
  }
  await auditInsert(scope, { type: 'user', id: input.userId }, 'oauth.authorized', { type: 'oauth_client', id: input.clientId }, ctx, {
    scopes: granted,
    role: member.role,
  }).run();
  return { props: { tenantId: input.tenantId, userId: input.userId, role: member.role }, scope: granted };
}
