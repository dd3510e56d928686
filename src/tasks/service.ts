/**
 * The one path for task writes, whatever the transport: HTTP routes and sync
 * socket frames (durable-objects/tenant-hub/sync-mutations.ts) call these verbs,
 * which check the permission and what needs the control plane (assignee is a
 * member), then hand the change to the tenant's hub. Knows nothing of Hono.
 */

import { and, eq } from 'drizzle-orm';
import { memberships } from '../db/schema';
import { can, type Permission } from '../identity/roles';
import type { ServiceCtx } from '../lib/context';
import { AppError } from '../lib/problem';
import { type Result, unwrap } from '../lib/result';
import { tenantHubStub } from '../lib/stubs';
import type { Actor, Task, TaskCreate, TaskFilter, TaskPatch } from './model';

/** The hub's task writes as a verb reaches them: its RPC stub from the Worker, the hub itself for a socket frame. */
export interface TaskWriter {
  createTask(tenantId: string, actor: Actor, input: TaskCreate): Promise<Result<Task>>;
  updateTask(tenantId: string, actor: Actor, id: string, patch: TaskPatch, ifMatch?: number): Promise<Result<Task>>;
  completeTask(tenantId: string, actor: Actor, id: string, ifMatch?: number): Promise<Result<Task>>;
  reopenTask(tenantId: string, actor: Actor, id: string, ifMatch?: number): Promise<Result<Task>>;
  deleteTask(tenantId: string, actor: Actor, id: string, ifMatch?: number): Promise<Result<{ version: number }>>;
}

/** A service context that may name its hub writer (the hub passes itself, so a socket write needs no RPC round trip). */
export type TaskCtx = ServiceCtx & { taskWriter?: TaskWriter };

/** The caller as the hub records it on a change. */
export function actorOf(ctx: ServiceCtx): Actor {
  return { id: ctx.actor.id, role: ctx.role };
}

function hub(ctx: ServiceCtx) {
  return tenantHubStub(ctx.env, ctx.tenantId);
}

function writer(ctx: TaskCtx): TaskWriter {
  return ctx.taskWriter ?? (hub(ctx) as unknown as TaskWriter);
}

/** The route guard checks this for HTTP; a socket frame has no guard, so every write verb checks it again. */
function assertCan(ctx: ServiceCtx, permission: Permission): void {
  if (!can(ctx.role, permission)) throw new AppError('forbidden', `Your role '${ctx.role}' does not allow '${permission}'.`);
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

export async function createTask(ctx: TaskCtx, input: TaskCreate) {
  assertCan(ctx, 'data:write');
  await ctx.timing.time('assignee', assertAssignee(ctx, input.assigneeId));
  return unwrap(await ctx.timing.time('hub', writer(ctx).createTask(ctx.tenantId, actorOf(ctx), input)));
}

export async function getTask(ctx: ServiceCtx, { id }: { id: string }) {
  return unwrap(await hub(ctx).getTask(ctx.tenantId, id));
}

export async function listTasks(ctx: ServiceCtx, filter: TaskFilter) {
  return ctx.timing.time('hub', hub(ctx).listTasks(ctx.tenantId, filter));
}

/** The same page with its tasks as JSON text, for an answer that writes them out unchanged (GET /v1/tasks). */
export async function listTasksJson(ctx: ServiceCtx, filter: TaskFilter) {
  return ctx.timing.time('hub', hub(ctx).listTasksJson(ctx.tenantId, filter));
}

export async function updateTask(ctx: TaskCtx, { id, patch, ifMatch }: TaskRef & { patch: TaskPatch }) {
  assertCan(ctx, 'data:write');
  await assertAssignee(ctx, patch.assigneeId);
  return unwrap(await writer(ctx).updateTask(ctx.tenantId, actorOf(ctx), id, patch, ifMatch));
}

export async function completeTask(ctx: TaskCtx, { id, ifMatch }: TaskRef) {
  assertCan(ctx, 'data:write');
  return unwrap(await writer(ctx).completeTask(ctx.tenantId, actorOf(ctx), id, ifMatch));
}

export async function reopenTask(ctx: TaskCtx, { id, ifMatch }: TaskRef) {
  assertCan(ctx, 'data:write');
  return unwrap(await writer(ctx).reopenTask(ctx.tenantId, actorOf(ctx), id, ifMatch));
}

export async function deleteTask(ctx: TaskCtx, { id, ifMatch }: TaskRef) {
  assertCan(ctx, 'data:write');
  return unwrap(await writer(ctx).deleteTask(ctx.tenantId, actorOf(ctx), id, ifMatch));
}

export async function taskHistory(ctx: ServiceCtx, { id, limit, after }: { id: string; limit: number; after?: string | undefined }) {
  return unwrap(await hub(ctx).taskHistory(ctx.tenantId, id, limit, after));
}

/** The caller's notifications (admin notices only for admins; read state is the caller's own), newest first. */
export async function listNotifications(ctx: ServiceCtx, input: { unread: boolean; limit: number; after?: string | undefined }) {
  return hub(ctx).listNotifications(ctx.tenantId, actorOf(ctx), input);
}

/** Read for the caller only: anyone who can see a notification (viewers too) marks their own copy. */
export async function markNotificationRead(ctx: ServiceCtx, { id }: { id: string }) {
  return unwrap(await hub(ctx).markNotificationRead(ctx.tenantId, actorOf(ctx), id));
}
