/**
 * The hub's write path (issue 20): a write's events are published right after it, with an alarm only
 * as the backstop; reminders, labels and retention still come out right; the queries it runs on every
 * write and every re-arm are served by indexes.
 */
import { runInDurableObject } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { SCHEDULE_SQL } from '../../../durable-objects/tenant-hub/schedule';
import { eventually } from '../../support/shared/time';
import { alarmOf, hub } from '../../support/workers/durable-objects';
import { call, expectJson } from '../../support/workers/http';
import { signup } from '../../support/workers/tenants';
import { createTask, outboxRows, reminderRows, settled } from './_support';

const plan = (tenantId: string, query: string, args: unknown[]) =>
  runInDurableObject(hub(tenantId), (_i, state) =>
    state.storage.sql
      .exec<{ detail: string }>(`EXPLAIN QUERY PLAN ${query}`, ...(args as SqlStorageValue[]))
      .toArray()
      .map((r) => r.detail),
  );

describe('hub writes', () => {
  it('publishes a write’s events in order and leaves no alarm when nothing else is due', async () => {
    const owner = await signup('hub-writes-publish');
    const a = await createTask(owner, { title: 'one' });
    const b = await createTask(owner, { title: 'two' });
    await settled(owner.tenantId, null);
    const rows = await outboxRows(owner.tenantId);
    const created = rows.filter((r) => r.event.type === 'task.created').map((r) => r.event.data.task.id);
    expect(created).toEqual([a.id, b.id]);
    // Gapless, in order, every one published.
    const sequences = rows.map((r) => r.sequence);
    expect(sequences).toEqual(sequences.map((_, i) => sequences[0]! + i));
    expect(rows.every((r) => r.published_at !== null && r.event.sequence === r.sequence)).toBe(true);
  });

  it('keeps one backstop alarm across a burst of writes, and lets it fire instead of deleting it after each', async () => {
    const owner = await signup('hub-writes-backstop');
    await createTask(owner, { title: 'one' });
    const backstop = await alarmOf(hub(owner.tenantId));
    expect(backstop).not.toBeNull();
    expect(backstop! - Date.now()).toBeLessThanOrEqual(2_000);
    // The first write's follow-up is over (its event sent and marked); the writes after it find the
    // alarm in place and leave it there.
    await eventually(async () => ((await outboxRows(owner.tenantId))[0]?.published_at ? true : undefined));
    for (const title of ['two', 'three']) {
      await createTask(owner, { title });
      expect(await alarmOf(hub(owner.tenantId))).toBe(backstop);
    }
    // It fires, finds nothing due, and leaves no alarm.
    await settled(owner.tenantId, null);
    expect((await outboxRows(owner.tenantId)).map((r) => r.event.type)).toEqual(['task.created', 'task.created', 'task.created']);
  });

  it('re-arms the alarm at the earliest reminder once the write is published', async () => {
    const owner = await signup('hub-writes-reminder');
    const dueAt = new Date(Math.ceil((Date.now() + 7_200_000) / 1000) * 1000).toISOString();
    const task = await createTask(owner, { title: 'Renew the passport', dueAt, reminders: [{ before: 'PT1H' }, { before: 'PT30M' }] });
    const first = Date.parse(dueAt) - 3_600_000;
    expect(task.nextReminderAt).toBe(new Date(first).toISOString());
    await settled(owner.tenantId, first);
    expect((await reminderRows(owner.tenantId, task.id)).map((r) => r.fire_at)).toEqual([first, Date.parse(dueAt) - 1_800_000]);

    // Dropping the reminders moves nextReminderAt and removes the alarm.
    const patched = await expectJson(
      await call(`/v1/tasks/${task.id}`, { method: 'PATCH', token: owner.accessToken, body: { reminders: [] } }),
    );
    expect(patched.nextReminderAt).toBeNull();
    await settled(owner.tenantId, null);
    expect(await reminderRows(owner.tenantId, task.id)).toEqual([]);
  });

  it('replaces a task’s labels on update (created with none to replace)', async () => {
    const owner = await signup('hub-writes-labels');
    const task = await createTask(owner, { title: 'Labelled', labels: ['home', 'errand'] });
    await expectJson(
      await call(`/v1/tasks/${task.id}`, { method: 'PATCH', token: owner.accessToken, body: { labels: ['errand', 'car'] } }),
    );
    const ids = async (label: string) =>
      (await expectJson(await call(`/v1/tasks?label=${label}`, { token: owner.accessToken }))).data.map((t: { id: string }) => t.id);
    expect(await ids('home')).toEqual([]);
    expect(await ids('errand')).toEqual([task.id]);
    expect(await ids('car')).toEqual([task.id]);
  });

  it('runs the retention pass a new hub is due after its first write, and leaves no alarm', async () => {
    const owner = await signup('hub-writes-retention');
    const before = Date.now();
    await createTask(owner, { title: 'first write of a new hub' });
    const at = await eventually(async () => {
      const row = await runInDurableObject(hub(owner.tenantId), (_i, state) =>
        state.storage.sql.exec<{ value: string }>(`SELECT value FROM hub_meta WHERE key = 'retention_at'`).toArray(),
      );
      return row[0] ? Number(row[0].value) : undefined;
    });
    expect(at).toBeGreaterThanOrEqual(before);
    await settled(owner.tenantId, null);
    expect(await alarmOf(hub(owner.tenantId))).toBeNull();
  });

  it('serves the write path’s label replacement and the alarm’s schedule query from indexes', async () => {
    const owner = await signup('hub-writes-plans');
    await createTask(owner, { title: 'bind' });
    const labels = await plan(owner.tenantId, `DELETE FROM task_labels WHERE task_id = ?`, ['tsk_x']);
    expect(labels.join(' | ')).toMatch(/SEARCH task_labels USING (COVERING )?INDEX task_labels_task_idx/);
    const schedule = await plan(owner.tenantId, SCHEDULE_SQL, [0]);
    // The outer SELECT has no table (SCAN CONSTANT ROW); each of its six subqueries reads one.
    const steps = schedule.filter((d) => /^(SCAN|SEARCH) /.test(d) && d !== 'SCAN CONSTANT ROW');
    expect(steps).toHaveLength(6);
    for (const step of steps) expect(step, schedule.join(' | ')).toMatch(/USING (COVERING )?INDEX/);
  });
});
