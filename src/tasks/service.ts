/**
 * Worker-side task service: checks what needs the control plane (assignee is a
 * member), then calls the tenant's hub, which does the work. Knows nothing of Hono.
 */

import { and, eq } from 'drizzle-orm';
import { memberships } from '../db/schema';
import type { TenantCall } from '../identity/context';
import { AppError } from '../lib/problem';
import { unwrap } from '../lib/result';
import { tenantHubStub } from '../lib/stubs';
import type { Actor, TaskCreate, TaskFilter, TaskPatch } from './model';

export function actorOf(call: TenantCall): Actor {
  return { id: call.auth.actorId, role: call.auth.role };
}

async function assertAssignee(call: TenantCall, assigneeId: string | null | undefined): Promise<void> {
  if (!assigneeId) return;
  const row = await call.db
    .select({ u: memberships.userId })
    .from(memberships)
    .where(call.scope.where(memberships, and(eq(memberships.userId, assigneeId))))
    .get();
  if (!row) {
    throw new AppError('validation_failed', `assigneeId ${assigneeId} is not a member of this tenant.`, {
      errors: [{ in: 'body', path: 'assigneeId', pointer: '/assigneeId', message: 'Not a member of this tenant', code: 'not_a_member' }],
    });
  }
}

/** `If-Match: "v12"` (or W/"v12", or 12) → 12; absent → undefined; anything else is a 412. */
export function parseIfMatch(header: string | undefined): number | undefined {
  if (header === undefined || header.trim() === '*') return undefined;
  const m = /^(?:W\/)?"?v?(\d+)"?$/.exec(header.trim());
  if (!m) throw new AppError('precondition_failed', `If-Match '${header}' does not match the current version.`);
  return Number(m[1]);
}

export function etagOf(version: number): string {
  return `"v${version}"`;
}

export async function createTask(call: TenantCall, env: Env, input: TaskCreate) {
  await assertAssignee(call, input.assigneeId);
  return unwrap(await tenantHubStub(env, call.auth.tenantId).createTask(call.auth.tenantId, actorOf(call), input));
}

export async function getTask(call: TenantCall, env: Env, id: string) {
  return unwrap(await tenantHubStub(env, call.auth.tenantId).getTask(call.auth.tenantId, id));
}

export async function listTasks(call: TenantCall, env: Env, filter: TaskFilter) {
  return tenantHubStub(env, call.auth.tenantId).listTasks(call.auth.tenantId, filter);
}

export async function updateTask(call: TenantCall, env: Env, id: string, patch: TaskPatch, ifMatch?: number) {
  await assertAssignee(call, patch.assigneeId);
  return unwrap(await tenantHubStub(env, call.auth.tenantId).updateTask(call.auth.tenantId, actorOf(call), id, patch, ifMatch));
}

export async function completeTask(call: TenantCall, env: Env, id: string, ifMatch?: number) {
  return unwrap(await tenantHubStub(env, call.auth.tenantId).completeTask(call.auth.tenantId, actorOf(call), id, ifMatch));
}

export async function reopenTask(call: TenantCall, env: Env, id: string, ifMatch?: number) {
  return unwrap(await tenantHubStub(env, call.auth.tenantId).reopenTask(call.auth.tenantId, actorOf(call), id, ifMatch));
}

export async function deleteTask(call: TenantCall, env: Env, id: string, ifMatch?: number) {
  unwrap(await tenantHubStub(env, call.auth.tenantId).deleteTask(call.auth.tenantId, actorOf(call), id, ifMatch));
}

export async function taskHistory(call: TenantCall, env: Env, id: string, limit: number, after?: string) {
  return unwrap(await tenantHubStub(env, call.auth.tenantId).taskHistory(call.auth.tenantId, id, limit, after));
}
