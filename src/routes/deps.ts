/** What routes put in front of a handler: the guard that authenticates and checks a permission. */
import type { Permission } from '../identity/roles';
import { authenticate, requirePermission } from '../middleware/auth';

/** Route middleware: authenticate (sets `c.var.ctx`), then require `permission`. */
export function guarded(permission: Permission, options: { allowQueryToken?: boolean } = {}) {
  return [authenticate(options), requirePermission(permission)];
}
