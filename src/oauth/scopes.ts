/**
 * OAuth scopes for /mcp (docs/mcp.md "OAuth"): the catalogue, what each role may be granted, and
 * what a consent grants. Pure. A token's scopes never widen what the member's role allows: the role
 * is checked again on every call (src/mcp/tools.ts), the scopes only narrow it further.
 */
import type { Role } from '../identity/roles';

export const MCP_SCOPES = ['tasks:read', 'tasks:write', 'flows:run', 'tools:invoke', 'offline_access'] as const;
export type McpScope = (typeof MCP_SCOPES)[number];

/** What the 401 challenge and the protected-resource metadata ask clients for (all but offline_access). */
export const REQUESTED_SCOPES: readonly McpScope[] = ['tasks:read', 'tasks:write', 'flows:run', 'tools:invoke'];

/** Scopes a role may be granted: a viewer reads tasks only (no write, run or invoke scope). */
const ROLE_SCOPES: Record<Role, ReadonlySet<McpScope>> = {
  admin: new Set(MCP_SCOPES),
  member: new Set(MCP_SCOPES),
  viewer: new Set<McpScope>(['tasks:read', 'offline_access']),
};

export function isMcpScope(value: string): value is McpScope {
  return (MCP_SCOPES as readonly string[]).includes(value);
}

/** The catalogue scopes `role` may be granted, in catalogue order. */
export function scopesForRole(role: Role): McpScope[] {
  return MCP_SCOPES.filter((s) => ROLE_SCOPES[role].has(s));
}

/**
 * What a consent grants: the scopes the user approved, intersected with what the role allows (unknown
 * strings dropped), in catalogue order. Null when nothing but `offline_access` would be left: a grant
 * must carry at least one scope that reaches a tool.
 */
export function grantedScopes(role: Role, approved: readonly string[]): McpScope[] | null {
  const wanted = new Set(approved);
  const granted = scopesForRole(role).filter((s) => wanted.has(s));
  return granted.some((s) => s !== 'offline_access') ? granted : null;
}

/** The scopes in `required` that `held` lacks (empty when `held` is undefined: not an OAuth token). */
export function missingScopes(held: readonly string[] | undefined, required: readonly McpScope[]): McpScope[] {
  if (held === undefined) return [];
  return required.filter((s) => !held.includes(s));
}
