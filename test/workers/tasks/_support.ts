/**
 * Shared helpers for the task-service runtime suites (reminders-*, sync-*), on top of the kit
 * (test/support/): tasks and the change log over HTTP, and read-only views into a tenant's
 * TenantHub storage (reminders, outbox, alarm) for what a client cannot see.
 */
import { runInDurableObject } from 'cloudflare:test';
import { env } from 'cloudflare:workers';
import { expect } from 'vitest';
import { eventually } from '../../support/shared/time';
import { alarmOf, hub, runAlarm } from '../../support/workers/durable-objects';
import { call, expectJson } from '../../support/workers/http';
import type { TestTenant } from '../../support/workers/tenants';

export type Json = Record<string, any>;

export async function createTask(t: TestTenant | string, body: Json): Promise<Json> {
  const token = typeof t === 'string' ? t : t.accessToken;
  return expectJson(await call('/v1/tasks', { token, body }), 201);
}

export async function syncPage(token: string, since = 0, limit = 1000): Promise<{ changes: Json[]; version: number; hasMore: boolean }> {
  return expectJson(await call(`/v1/sync?since=${since}&limit=${limit}`, { token }));
}

export async function currentVersion(token: string): Promise<number> {
  let since = 0;
  for (;;) {
    const page = await syncPage(token, since);
    since = page.version;
    if (!page.hasMore) return since;
  }
}

// ---------------------------------------------------------------------------------------------
// hub internals (read through runInDurableObject)
// ---------------------------------------------------------------------------------------------

export interface ReminderRow {
  id: string;
  task_id: string;
  fire_at: number;
  delivered_at: string | null;
}

export async function reminderRows(tenantId: string, taskId?: string): Promise<ReminderRow[]> {
  return runInDurableObject(hub(tenantId), (_i, state) =>
    taskId === undefined
      ? state.storage.sql.exec<any>(`SELECT * FROM reminders ORDER BY fire_at, id`).toArray()
      : state.storage.sql.exec<any>(`SELECT * FROM reminders WHERE task_id = ? ORDER BY fire_at, id`, taskId).toArray(),
  ) as Promise<ReminderRow[]>;
}

export interface OutboxRow {
  sequence: number;
  event: Json;
  published_at: string | null;
  attempts: number;
}

export async function outboxRows(tenantId: string): Promise<OutboxRow[]> {
  const rows = (await runInDurableObject(hub(tenantId), (_i, state) =>
    state.storage.sql.exec<any>(`SELECT * FROM outbox ORDER BY sequence`).toArray(),
  )) as Array<{ sequence: number; event: string; published_at: string | null; attempts: number }>;
  return rows.map((r) => ({ ...r, event: JSON.parse(r.event) as Json }));
}

export async function registryOf(tenantId: string): Promise<string | null> {
  const row = await env.DB.prepare(`SELECT next_due_at FROM hub_schedules WHERE tenant_id = ?`)
    .bind(tenantId)
    .first<{ next_due_at: string }>();
  return row?.next_due_at ?? null;
}

/**
 * Waits until the hub is at rest: every outbox event published (right after the write), the
 * one alarm set to `alarmAt` and the D1 registry mirroring `registryAt` (null = no row).
 */
export async function settled(
  tenantId: string,
  alarmAt: number | null,
  registryAt: string | null = alarmAt === null ? null : new Date(alarmAt).toISOString(),
): Promise<void> {
  await eventually(
    async () => {
      const pending = (await outboxRows(tenantId)).filter((r) => r.published_at === null).length;
      const alarm = await alarmOf(hub(tenantId));
      const registry = await registryOf(tenantId);
      return pending === 0 && alarm === alarmAt && registry === registryAt ? true : undefined;
    },
    { what: `hub ${tenantId} at rest (alarm ${alarmAt}, registry ${registryAt})` },
  );
}

// ---------------------------------------------------------------------------------------------
// reminders
// ---------------------------------------------------------------------------------------------

const HOUR = 3600_000;

/** A task due in an hour with a 30-minute reminder; waits until the hub's alarm points at that reminder. */
export async function taskWithReminder(
  owner: TestTenant,
  title = 'Call the bank',
): Promise<{ task: Json; fireAt: number; reminderId: string }> {
  const dueAt = new Date(Math.ceil((Date.now() + HOUR) / 1000) * 1000).toISOString();
  const task = await createTask(owner, { title, dueAt, reminders: [{ before: 'PT30M' }] });
  const fireAt = Date.parse(dueAt) - 30 * 60_000;
  expect(task.nextReminderAt).toBe(new Date(fireAt).toISOString());
  await settled(owner.tenantId, fireAt);
  const rows = await reminderRows(owner.tenantId, task.id);
  expect(rows).toEqual([{ id: expect.any(String), task_id: task.id, fire_at: fireAt, delivered_at: null }]);
  return { task, fireAt, reminderId: rows[0]!.id };
}

/** Makes the reminder due now (its alarm time is unchanged: only a run of the alarm delivers it). */
export async function makeDue(tenantId: string, reminderId: string): Promise<number> {
  const dueAt = Date.now() - 1_000;
  await runInDurableObject(hub(tenantId), (_i, state) => {
    state.storage.sql.exec(`UPDATE reminders SET fire_at = ? WHERE id = ?`, dueAt, reminderId);
  });
  return dueAt;
}

/** A tenant with one delivered reminder notification (through the hub's alarm). */
export async function deliveredNotification(
  owner: TestTenant,
  title?: string,
): Promise<{ task: Json; notification: Json; reminderId: string }> {
  const { task, reminderId } = await taskWithReminder(owner, title);
  await makeDue(owner.tenantId, reminderId);
  expect(await runAlarm(hub(owner.tenantId))).toBe(true);
  const list = (await expectJson(await call('/v1/notifications', { token: owner.accessToken }))).data as Json[];
  expect(list).toHaveLength(1);
  return { task, notification: list[0]!, reminderId };
}
