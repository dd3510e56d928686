/**
 * The one permission matrix. docs/security.md shows it as a table and
 * test/workers/identity/permissions-doc.test.ts checks the two agree.
 */

export const ROLES = ['admin', 'member', 'viewer'] as const;
export type Role = (typeof ROLES)[number];

export const PERMISSIONS = [
  'tenant:read',
  'tenant:write',
  'members:read',
  'members:write',
  'invitations:read',
  'invitations:write',
  'api_keys:read',
  'api_keys:write',
  'audit:read',
  'webhooks:read',
  'webhooks:write',
  'data:read',
  'data:write',
] as const;
export type Permission = (typeof PERMISSIONS)[number];

/** admin: everything; member: read and write domain data, no member/key/webhook administration; viewer: read only. */
export const MATRIX: Record<Role, ReadonlySet<Permission>> = {
  admin: new Set(PERMISSIONS),
  member: new Set<Permission>(['tenant:read', 'members:read', 'data:read', 'data:write']),
  viewer: new Set<Permission>(['tenant:read', 'members:read', 'data:read']),
};

export function can(role: Role, permission: Permission): boolean {
  return MATRIX[role].has(permission);
}

const RANK: Record<Role, number> = { viewer: 0, member: 1, admin: 2 };

/** The lesser of two roles (a token never grants more than the membership now allows). */
export function minRole(a: Role, b: Role): Role {
  return RANK[a] <= RANK[b] ? a : b;
}
