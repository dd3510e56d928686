/**
 * Worker-side task service: checks what needs the control plane (assignee is a
 * member), then calls the tenant's hub, which does the work. Knows nothing of Hono.
 */

import { and, eq } from 'drizzle-orm';
import { memberships } from '../db/schema';
import type { ServiceCtx } from '../lib/context';
import { AppError } from '../lib/problem';
import { unwrap } from '../lib/result';
import { tenantHubStub } from '../lib/stubs';
import type { Actor, TaskCreate, TaskFilter, TaskPatch } from './model';

/** The caller as the hub records it on a change. */
export function actorOf(ctx: ServiceCtx): Actor {
  return { id: ctx.actor.id, role: ctx.role };
}

function hub(ctx: ServiceCtx) {
  return tenantHubStub(ctx.env, ctx.tenantId);
}

async function assertAssignee(ctx: ServiceCtx, assigneeId: string | null | undefined): Promise<void> {
  if (!assigneeId) return;
  const row = await ctx.db
    .select({ u: memberships.userId })
    .from(memberships)
    .where(ctx.scope.where(memberships, and(eq(memberships.userId, assigneeId))))
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

/** A task and, for a write, the version the caller read (`If-Match`). */
export interface TaskRef {
  id: string;
  ifMatch?: number | undefined;
}

export async function createTask(ctx: ServiceCtx, input: TaskCreate) {
  await assertAssignee(ctx, input.assigneeId);
  return unwrap(await hub(ctx).createTask(ctx.tenantId, actorOf(ctx), input));
}

export async function getTask(ctx: ServiceCtx, { id }: { id: string }) {
  return unwrap(await hub(ctx).getTask(ctx.tenantId, id));
}

export async function listTasks(ctx: ServiceCtx, filter: TaskFilter) {
  return hub(ctx).listTasks(ctx.tenantId, filter);
}

export async function updateTask(ctx: ServiceCtx, { id, patch, ifMatch }: TaskRef & { patch: TaskPatch }) {
  await assertAssignee(ctx, patch.assigneeId);
  return unwrap(await hub(ctx).updateTask(ctx.tenantId, actorOf(ctx), id, patch, ifMatch));
}

export async function completeTask(ctx: ServiceCtx, { id, ifMatch }: TaskRef) {
  return unwrap(await hub(ctx).completeTask(ctx.tenantId, actorOf(ctx), id, ifMatch));
}

export async function reopenTask(ctx: ServiceCtx, { id, ifMatch }: TaskRef) {
  return unwrap(await hub(ctx).reopenTask(ctx.tenantId, actorOf(ctx), id, ifMatch));
}

export async function deleteTask(ctx: ServiceCtx, { id, ifMatch }: TaskRef) {
  unwrap(await hub(ctx).deleteTask(ctx.tenantId, actorOf(ctx), id, ifMatch));
}

export async function taskHistory(ctx: ServiceCtx, { id, limit, after }: { id: string; limit: number; after?: string | undefined }) {
  return unwrap(await hub(ctx).taskHistory(ctx.tenantId, id, limit, after));
}

/** The caller's tenant's notifications, newest first. */
export async function listNotifications(ctx: ServiceCtx, input: { unread: boolean; limit: number; after?: string | undefined }) {
  return hub(ctx).listNotifications(ctx.tenantId, input);
}

export async function markNotificationRead(ctx: ServiceCtx, { id }: { id: string }) {
  return unwrap(await hub(ctx).markNotificationRead(ctx.tenantId, actorOf(ctx), id));
}
