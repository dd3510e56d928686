/** What routes put in front of a handler: the guard that authenticates and checks a permission. */
import type { Permission } from '../identity/roles';
import { authenticate, requirePermission } from '../middleware/auth';
import { idempotency } from '../middleware/idempotency';

/**
 * Route middleware: authenticate (sets `c.var.ctx`, applies rate limits), require `permission`, then
 * Idempotency-Key, so a replay passes every check the first request did.
 */
export function guarded(permission: Permission, options: { allowStreamTicket?: boolean } = {}) {
  return [authenticate(options), requirePermission(permission), idempotency()];
}
