/** Public shapes of identity rows (never a hash, never a secret). */
import type { apiKeys, invitations, tenants, users } from '../db/schema';

export function userView(u: typeof users.$inferSelect) {
  return {
    id: u.id,
    email: u.email,
    emailVerified: u.emailVerifiedAt != null,
    name: u.name,
    timezone: u.timezone ?? null,
    createdAt: u.createdAt,
  };
}

export function tenantView(t: typeof tenants.$inferSelect) {
  return { id: t.id, name: t.name, plan: t.plan, settings: t.settings ?? {}, createdAt: t.createdAt, updatedAt: t.updatedAt };
}

export function apiKeyView(k: typeof apiKeys.$inferSelect) {
  return {
    id: k.id,
    name: k.name,
    role: k.role,
    prefix: k.prefix,
    createdBy: k.createdBy,
    createdAt: k.createdAt,
    expiresAt: k.expiresAt,
    lastUsedAt: k.lastUsedAt,
  };
}

export function invitationView(i: typeof invitations.$inferSelect) {
  const status: 'accepted' | 'revoked' | 'expired' | 'pending' = i.acceptedAt
    ? 'accepted'
    : i.revokedAt
      ? 'revoked'
      : Date.parse(i.expiresAt) <= Date.now()
        ? 'expired'
        : 'pending';
  return {
    id: i.id,
    email: i.email,
    role: i.role,
    invitedBy: i.invitedBy,
    status,
    expiresAt: i.expiresAt,
    createdAt: i.createdAt,
    acceptedAt: i.acceptedAt,
  };
}
