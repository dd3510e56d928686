/** Audit log entries, written in the same D1 batch as the change they record. */
import { desc, lt, type SQL, sql } from 'drizzle-orm';
import { insertWhere } from '../db/insert-where';
import { auditLog } from '../db/schema';
import type { TenantScope } from '../db/tenant-scope';
import type { ServiceCtx } from '../lib/context';
import { newId } from '../lib/ids';
import { decodeCursor, type PageInput, toPage } from '../lib/pagination';

export type AuditAction =
  | 'auth.signup'
  | 'auth.login'
  | 'auth.login_failed'
  | 'auth.refresh_reuse_detected'
  | 'auth.logout'
  | 'oauth.authorized'
  | 'tenant.updated'
  | 'member.role_changed'
  | 'member.removed'
  | 'member.joined'
  | 'invitation.created'
  | 'invitation.revoked'
  | 'invitation.accepted'
  | 'invitation.accept_refused'
  | 'api_key.created'
  | 'api_key.revoked'
  | 'webhook.created'
  | 'webhook.updated'
  | 'webhook.deleted'
  | 'webhook.secret_rotated'
  | 'llm_provider.created'
  | 'llm_provider.deleted'
  | 'tool.created'
  | 'tool.updated'
  | 'tool.deleted'
  | 'flow.created'
  | 'flow.updated'
  | 'flow.deleted'
  | 'agent.created'
  | 'agent.updated'
  | 'agent.deleted';

export interface AuditActor {
  type: 'user' | 'api_key' | 'system' | 'anonymous';
  id: string | null;
}

export interface AuditMeta {
  requestId?: string | undefined;
  ip?: string | null | undefined;
}

export function auditInsert(
  scope: TenantScope,
  actor: AuditActor,
  action: AuditAction,
  target: { type: string; id: string } | null,
  meta: AuditMeta,
  metadata: Record<string, unknown> = {},
) {
  return scope.insert(auditLog, {
    id: newId('aud'),
    actorType: actor.type,
    actorId: actor.id,
    action,
    targetType: target?.type ?? null,
    targetId: target?.id ?? null,
    ip: meta.ip ?? null,
    requestId: meta.requestId ?? null,
    metadata,
  });
}

/** Like `auditInsert`, but the entry commits only if `condition` holds after the batch's earlier statements (a compare-and-set's mark). */
export function auditInsertWhere(
  scope: TenantScope,
  actor: AuditActor,
  action: AuditAction,
  target: { type: string; id: string } | null,
  meta: AuditMeta,
  metadata: Record<string, unknown>,
  condition: SQL,
  id: string = newId('aud'),
) {
  return insertWhere(
    scope.db,
    auditLog,
    {
      id,
      tenantId: scope.tenantId,
      actorType: actor.type,
      actorId: actor.id,
      action,
      targetType: target?.type ?? null,
      targetId: target?.id ?? null,
      ip: meta.ip ?? null,
      requestId: meta.requestId ?? null,
      metadata,
    },
    condition,
  );
}

/**
 * Condition for `auditInsertWhere` right after an UPDATE/DELETE in the same batch: it changed a row.
 * A D1 batch runs its statements in order on one connection, so SQLite's changes() is the previous statement's.
 */
export const previousStatementChanged = sql`changes() > 0`;

/** Condition for a later statement of the batch: the audit entry `id` was written (its change applied). */
export function auditWritten(id: string): SQL {
  return sql`EXISTS (SELECT 1 FROM audit_log WHERE id = ${id})`;
}

export async function listAudit(ctx: ServiceCtx, { limit, cursor }: PageInput) {
  const after = decodeCursor(cursor);
  const rows = await ctx.scope
    .select(auditLog, after ? lt(auditLog.id, after) : undefined)
    .orderBy(desc(auditLog.id))
    .limit(limit + 1)
    .all();
  return toPage(rows as (typeof auditLog.$inferSelect)[], limit, (r) => r.id);
}
