/**
 * Reminder delivery in the real runtime (design invariant 2, "nothing lost"): a due reminder is
 * delivered by the TenantHub's alarm exactly once (notification + sync change + outbox events in
 * one transaction), alarm retries (at-least-once) never duplicate it, and a reminder whose alarm
 * was lost is still delivered, once, by the cron sweeper through the D1 hub_schedules registry.
 */
import {
  createExecutionContext,
  createScheduledController,
  runDurableObjectAlarm,
  runInDurableObject,
  waitOnExecutionContext,
} from 'cloudflare:test';
import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import type { TenantHub } from '../../../durable-objects/tenant-hub/tenant-hub';
import worker from '../../../src/index';
import { tenantHubStub } from '../../../src/lib/stubs';
import { HUB_GRACE_MS } from '../../../src/tasks/sweep';
import { nextChanges, untilSynced } from '../../support/shared/sync';
import { eventually } from '../../support/shared/time';
import { alarmOf, hub } from '../../support/workers/durable-objects';
import { call, expectJson } from '../../support/workers/http';
import { addMember, signup, type TestTenant } from '../../support/workers/tenants';
import { openSync } from '../../support/workers/websocket';
import { createTask, type Json, makeDue, outboxRows, registryOf, reminderRows, settled, syncPage, taskWithReminder } from './_support';

const HOUR = 3600_000;

async function notifications(t: TestTenant, query = ''): Promise<Json[]> {
  return (await expectJson(await call(`/v1/notifications${query}`, { token: t.accessToken }))).data;
}

function eventsFor(outbox: Awaited<ReturnType<typeof outboxRows>>, reminderId: string, notificationId: string) {
  return {
    fired: outbox.filter((r) => r.event.type === 'reminder.fired' && r.event.data.reminderId === reminderId),
    created: outbox.filter((r) => r.event.type === 'notification.created' && r.event.data.notification?.id === notificationId),
  };
}

async function runSweep(scheduledTime: number): Promise<void> {
  const ctx = createExecutionContext();
  await worker.scheduled!(createScheduledController({ scheduledTime, cron: '*/1 * * * *' }), env, ctx);
  await waitOnExecutionContext(ctx);
}

describe('reminder delivery by the hub alarm', () => {
  it('a due reminder is delivered exactly once: notification, sync change, socket push, outbox events', async () => {
    const owner = await signup('deliver');
    const { task, reminderId } = await taskWithReminder(owner);
    const before = await syncPage(owner.accessToken);
    const sock = await openSync(owner.accessToken, { since: before.version });
    expect((await untilSynced(sock)).changes).toEqual([]);

    const firedAt = await makeDue(owner.tenantId, reminderId);
    expect(await runDurableObjectAlarm(hub(owner.tenantId))).toBe(true);

    // GET /v1/notifications
    const list = await notifications(owner);
    expect(list).toHaveLength(1);
    const n = list[0]!;
    expect(n).toMatchObject({
      kind: 'reminder',
      taskId: task.id,
      title: 'Call the bank',
      fireAt: new Date(firedAt).toISOString(),
      readAt: null,
    });
    expect(n.id).toMatch(/^ntf_/);
    expect(n.body).toContain(task.dueAt);

    // GET /v1/sync: one notification change, right after what the client had
    const after = await syncPage(owner.accessToken, before.version);
    // The notification, then the task whose nextReminderAt moved on (its only reminder fired: null).
    expect(after.changes[0]).toEqual({
      version: before.version + 1,
      entity: 'notification',
      entityId: n.id,
      op: 'upsert',
      data: n,
      occurredAt: n.createdAt,
    });
    expect(after.changes.slice(1)).toEqual([
      expect.objectContaining({
        version: before.version + 2,
        entity: 'task',
        entityId: task.id,
        data: expect.objectContaining({ nextReminderAt: null }),
      }),
    ]);

    // The connected socket got the same changes live.
    const pushed = await nextChanges(sock, 2);
    expect(pushed).toEqual(after.changes.map((c: object) => ({ type: 'change', ...c })));

    // The hub: reminder claimed, events in the outbox (and published by the same alarm).
    const rows = await reminderRows(owner.tenantId, task.id);
    expect(rows).toHaveLength(1);
    expect(rows[0]!.delivered_at).not.toBeNull();
    const outbox = await outboxRows(owner.tenantId);
    const ev = eventsFor(outbox, reminderId, n.id);
    expect(ev.fired).toHaveLength(1);
    expect(ev.created).toHaveLength(1);
    expect(ev.fired[0]!.event).toMatchObject({ tenantId: owner.tenantId, data: { taskId: task.id, reminderId, fireAt: n.fireAt } });
    expect(ev.created[0]!.event.data.notification).toEqual(n);
    expect(ev.fired[0]!.published_at).not.toBeNull();
    expect(ev.created[0]!.published_at).not.toBeNull();
    // Nothing left to do: no alarm, no registry row.
    await settled(owner.tenantId, null);
    await sock.close();
  });

  it('alarm retries (at-least-once), wake() and a later edit of the task never duplicate a delivery', async () => {
    const owner = await signup('retry');
    const { task, reminderId } = await taskWithReminder(owner);
    await makeDue(owner.tenantId, reminderId);
    expect(await runDurableObjectAlarm(hub(owner.tenantId))).toBe(true);
    const [n] = await notifications(owner);
    const version = (await syncPage(owner.accessToken)).version;
    // Control-plane events may join the hub's outbox at any time; count only the delivery's own.
    const deliveryEvents = async () =>
      (await outboxRows(owner.tenantId)).filter((r) => r.event.type === 'reminder.fired' || r.event.type === 'notification.created');
    expect(await deliveryEvents()).toHaveLength(2);

    // 1. The runtime retries the alarm handler (e.g. after a failure past the delivery).
    await runInDurableObject(hub(owner.tenantId), (instance: TenantHub) => instance.alarm());
    // 2. An alarm scheduled again and run.
    await runInDurableObject(hub(owner.tenantId), (_i, state) => state.storage.setAlarm(Date.now()));
    expect(await runDurableObjectAlarm(hub(owner.tenantId))).toBe(true);
    // 3. The sweeper's wake() and another alarm run at the same time.
    const stub = hub(owner.tenantId) as unknown as DurableObjectStub<TenantHub>;
    const woken = await Promise.all([
      stub.wake(owner.tenantId),
      stub.wake(owner.tenantId),
      runInDurableObject(stub, (instance: TenantHub) => instance.alarm()),
    ]);
    expect(woken.slice(0, 2)).toEqual([
      { delivered: 0, published: 0 },
      { delivered: 0, published: 0 },
    ]);

    expect(await notifications(owner)).toEqual([n]);
    expect((await syncPage(owner.accessToken)).version).toBe(version);
    expect(await deliveryEvents()).toHaveLength(2);

    // 4. Editing the task re-plans its reminders: the delivered occurrence is not planned again.
    const edited = await expectJson(
      await call(`/v1/tasks/${task.id}`, { method: 'PATCH', token: owner.accessToken, body: { title: 'Call the bank today' } }),
    );
    expect(edited.nextReminderAt).toBeNull();
    expect((await reminderRows(owner.tenantId, task.id)).filter((r) => r.delivered_at === null)).toEqual([]);
    await settled(owner.tenantId, null);
    await runInDurableObject(hub(owner.tenantId), (instance: TenantHub) => instance.alarm());
    expect(await notifications(owner)).toEqual([n]);
  });

  it('POST /v1/notifications/{id}/read marks it read for the caller only (no shared change), idempotently', async () => {
    const owner = await signup('read');
    const viewer = await addMember(owner, 'viewer');
    const member = await addMember(owner, 'member');
    const { reminderId } = await taskWithReminder(owner);
    await makeDue(owner.tenantId, reminderId);
    expect(await runDurableObjectAlarm(hub(owner.tenantId))).toBe(true);
    const [n] = await notifications(owner);
    expect(await notifications(owner, '?unread=true')).toEqual([n]);
    const v0 = (await syncPage(owner.accessToken)).version;

    // A viewer may mark its own copy read: it changes nothing for anyone else.
    const read = await expectJson(await call(`/v1/notifications/${n!.id}/read`, { method: 'POST', token: viewer.accessToken }));
    expect(read).toEqual({ ...n, readAt: expect.any(String) });
    expect(Date.parse(read.readAt)).not.toBeNaN();
    expect(await notifications(viewer, '?unread=true')).toEqual([]);
    expect(await notifications(viewer)).toEqual([read]);
    expect(await notifications(owner, '?unread=true')).toEqual([n]);
    expect(await notifications(member, '?unread=true')).toEqual([n]);
    // Read state is private: nothing goes on the tenant-wide change log.
    expect((await syncPage(owner.accessToken, v0)).changes).toEqual([]);

    // The owner reads its own; reading again is idempotent (same readAt).
    const mine = await expectJson(await call(`/v1/notifications/${n!.id}/read`, { method: 'POST', token: owner.accessToken }));
    expect(await expectJson(await call(`/v1/notifications/${n!.id}/read`, { method: 'POST', token: owner.accessToken }))).toEqual(mine);
    expect(await notifications(owner, '?unread=true')).toEqual([]);
    expect(await notifications(member, '?unread=true')).toEqual([n]);
    // An unknown id is a 404 problem.
    const missing = await call(`/v1/notifications/ntf_00000000000000000000000000/read`, { method: 'POST', token: owner.accessToken });
    expect(missing.status).toBe(404);
    expect(missing.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  });

  it('an admin notice reaches admins only: members and viewers neither list, read nor sync it', async () => {
    const owner = await signup('admin-notice');
    const viewer = await addMember(owner, 'viewer');
    const member = await addMember(owner, 'member');
    const v0 = (await syncPage(owner.accessToken)).version;
    const { notification } = await tenantHubStub(env, owner.tenantId).createSystemNotification(owner.tenantId, {
      id: 'ntf_system_test_1',
      title: 'Webhook endpoint disabled',
      body: 'whe_x failed for 5 days',
    });
    expect((await notifications(owner)).map((x) => x.id)).toEqual([notification.id]);
    for (const t of [viewer, member]) {
      expect(await notifications(t)).toEqual([]);
      const r = await call(`/v1/notifications/${notification.id}/read`, { method: 'POST', token: t.accessToken });
      expect(r.status).toBe(404);
      expect((await syncPage(t.accessToken, v0)).changes).toEqual([]);
    }
    expect(await notifications(owner, '?unread=true')).toHaveLength(1);
  });

  it('a reminder of a task completed or deleted before it fires is never delivered', async () => {
    const owner = await signup('cancelled');
    const a = await taskWithReminder(owner, 'completed early');
    const done = await expectJson(await call(`/v1/tasks/${a.task.id}/complete`, { method: 'POST', token: owner.accessToken }));
    expect(done).toMatchObject({ status: 'done', nextReminderAt: null });
    expect(await reminderRows(owner.tenantId, a.task.id)).toEqual([]);
    await settled(owner.tenantId, null);

    const b = await taskWithReminder(owner, 'deleted early');
    expect((await call(`/v1/tasks/${b.task.id}`, { method: 'DELETE', token: owner.accessToken })).status).toBe(204);
    expect(await reminderRows(owner.tenantId, b.task.id)).toEqual([]);
    await settled(owner.tenantId, null);

    await runInDurableObject(hub(owner.tenantId), (instance: TenantHub) => instance.alarm());
    expect(await notifications(owner)).toEqual([]);
  });

  // Task.nextReminderAt is "the next reminder": once one fires, the task (and its sync change)
  // should show the following one, or null, rather than an instant that has already fired.
  it("after a delivery, the task's nextReminderAt moves on to its next pending reminder", async () => {
    const owner = await signup('next-after');
    const dueAt = new Date(Math.ceil((Date.now() + 3 * HOUR) / 1000) * 1000).toISOString();
    const task = await createTask(owner, { title: 'two reminders', dueAt, reminders: [{ before: 'PT2H' }, { before: 'PT30M' }] });
    const first = Date.parse(dueAt) - 2 * HOUR;
    const second = Date.parse(dueAt) - 30 * 60_000;
    expect(task.nextReminderAt).toBe(new Date(first).toISOString());
    await settled(owner.tenantId, first);
    const rows = await reminderRows(owner.tenantId, task.id);
    await makeDue(owner.tenantId, rows.find((r) => r.fire_at === first)!.id);
    expect(await runDurableObjectAlarm(hub(owner.tenantId))).toBe(true);
    expect(await notifications(owner)).toHaveLength(1);
    // The hub itself moved on: its alarm now points at the second reminder.
    await settled(owner.tenantId, second);
    const now = await expectJson(await call(`/v1/tasks/${task.id}`, { token: owner.accessToken }));
    expect(now.nextReminderAt).toBe(new Date(second).toISOString());
  });

  it('the alarm and the registry follow the earliest pending reminder of the tenant', async () => {
    const owner = await signup('earliest');
    const late = await createTask(owner, {
      title: 'late',
      dueAt: new Date(Date.now() + 5 * HOUR).toISOString(),
      reminders: [{ before: 'PT1H' }],
    });
    await settled(owner.tenantId, Date.parse(late.nextReminderAt));
    const early = await createTask(owner, {
      title: 'early',
      dueAt: new Date(Date.now() + 3 * HOUR).toISOString(),
      reminders: [{ before: 'PT1H' }, { before: 'PT2H' }],
    });
    expect(early.nextReminderAt).toBe(new Date(Date.parse(early.dueAt) - 2 * HOUR).toISOString());
    await settled(owner.tenantId, Date.parse(early.nextReminderAt));
    expect((await call(`/v1/tasks/${early.id}`, { method: 'DELETE', token: owner.accessToken })).status).toBe(204);
    await settled(owner.tenantId, Date.parse(late.nextReminderAt));
  });
});

describe('lost alarm: the cron sweeper delivers through hub_schedules', () => {
  it('delivers a reminder whose alarm was deleted, exactly once, and clears the registry', async () => {
    const owner = await signup('lost');
    // A reminder due within the sweeper's window (scheduled time − grace), with the hub at rest.
    const at = new Date(Math.ceil((Date.now() + 20_000) / 1000) * 1000).toISOString();
    const task = await createTask(owner, { title: 'Take the pills', reminders: [{ at }] });
    expect(task.nextReminderAt).toBe(at);
    await settled(owner.tenantId, Date.parse(at));
    expect(await registryOf(owner.tenantId)).toBe(at);
    const [row] = await reminderRows(owner.tenantId, task.id);

    // The alarm is lost; the reminder is due now (the hub's clock is real time).
    await runInDurableObject(hub(owner.tenantId), async (_i, state) => {
      await state.storage.deleteAlarm();
      state.storage.sql.exec(`UPDATE reminders SET fire_at = ? WHERE id = ?`, Date.now() - 1_000, row!.id);
    });
    expect(await alarmOf(hub(owner.tenantId))).toBeNull();
    expect(await runDurableObjectAlarm(hub(owner.tenantId))).toBe(false);
    expect(await notifications(owner)).toEqual([]);

    // Within the grace the sweeper leaves the hub alone ...
    await runSweep(Date.parse(at) + HUB_GRACE_MS - 5_000);
    expect(await notifications(owner)).toEqual([]);
    // ... past it, it wakes the hub, which delivers.
    await runSweep(Date.now() + 60_000);
    const list = await notifications(owner);
    expect(list).toHaveLength(1);
    expect(list[0]).toMatchObject({ kind: 'reminder', taskId: task.id, title: 'Take the pills' });
    const ev = eventsFor(await outboxRows(owner.tenantId), row!.id, list[0]!.id);
    expect(ev.fired).toHaveLength(1);
    expect(ev.created).toHaveLength(1);
    expect(ev.fired[0]!.published_at).not.toBeNull();
    const sync = await syncPage(owner.accessToken);
    expect(sync.changes.filter((c) => c.entity === 'notification')).toEqual([
      expect.objectContaining({ entityId: list[0]!.id, op: 'upsert' }),
    ]);
    // Nothing pending any more: the registry row is gone and there is no alarm.
    expect(await registryOf(owner.tenantId)).toBeNull();
    expect(await alarmOf(hub(owner.tenantId))).toBeNull();

    // The sweeper running again (next minute, or a duplicate cron run) delivers nothing new.
    await runSweep(Date.now() + 120_000);
    await runInDurableObject(hub(owner.tenantId), (instance: TenantHub) => instance.alarm());
    expect(await notifications(owner)).toEqual(list);
    expect((await syncPage(owner.accessToken)).version).toBe(sync.version);
  });

  // A registry row can outlive what it mirrors (e.g. the hub is evicted between the D1 write and
  // recording it in hub_meta, then its schedule changes back). The sweeper wakes the hub because
  // D1 says it is due, so after that wake the row must reflect the hub again, or the hub is woken
  // every minute forever (and, oldest first, such rows crowd out real ones: HUBS_PER_SWEEP).
  it('a stale registry row wakes the hub harmlessly, and the wake corrects the row', async () => {
    const owner = await signup('stale-reg');
    const { reminderId } = await taskWithReminder(owner);
    await makeDue(owner.tenantId, reminderId);
    expect(await runDurableObjectAlarm(hub(owner.tenantId))).toBe(true);
    const list = await notifications(owner);
    expect(list).toHaveLength(1);
    // Simulate a registry write that lagged behind: the row still says "due".
    await env.DB.prepare(`INSERT OR REPLACE INTO hub_schedules (tenant_id, next_due_at, updated_at) VALUES (?, ?, ?)`)
      .bind(owner.tenantId, new Date(Date.now() - HOUR).toISOString(), new Date().toISOString())
      .run();
    await runSweep(Date.now() + 60_000);
    expect(await notifications(owner)).toEqual(list);
    await eventually(async () => ((await registryOf(owner.tenantId)) === null ? true : undefined), { what: 'registry row cleared' });
  });
});
