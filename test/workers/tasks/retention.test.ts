/**
 * Hub retention (issue 12, item 7): the alarm prunes published outbox rows, socket-mutation
 * replays, delivered reminders, old notifications (as deletes on the sync log) and old task history,
 * in bounded batches (a full batch re-arms the alarm), keeping everything younger than its horizon;
 * every pruning query is served by an index.
 */
import { runInDurableObject } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { writeNotification } from '../../../durable-objects/tenant-hub/notifications';
import { RETENTION, RETENTION_QUERIES } from '../../../durable-objects/tenant-hub/retention';
import type { Notification } from '../../../src/tasks/model';
import { alarmOf, driveAlarms, hub } from '../../support/workers/durable-objects';
import { call, expectJson } from '../../support/workers/http';
import { signup } from '../../support/workers/tenants';
import { createTask, syncPage } from './_support';
import { startRetentionPass } from './_sync-history';

const DAY = 24 * 3600_000;
const ago = (ms: number) => new Date(Date.now() - ms).toISOString();

function notification(id: string, createdAt: string): Notification {
  return { id, kind: 'system', taskId: null, title: id, body: null, fireAt: null, createdAt, readAt: null };
}

interface Counts {
  outbox: string[];
  mutations: number;
  oldMutations: number;
  reminders: string[];
  notifications: string[];
  history: string[];
}

async function counts(tenantId: string): Promise<Counts> {
  return runInDurableObject(hub(tenantId), (_i, state) => {
    const sql = state.storage.sql;
    const col = (q: string) =>
      sql
        .exec<{ v: string }>(q)
        .toArray()
        .map((r) => r.v);
    return {
      outbox: col(
        `SELECT json_extract(event, '$.type') AS v FROM outbox WHERE json_extract(event, '$.type') LIKE 'test.%' ORDER BY sequence`,
      ),
      mutations: sql.exec<{ n: number }>(`SELECT COUNT(*) AS n FROM client_mutations`).one().n,
      oldMutations: sql.exec<{ n: number }>(`SELECT COUNT(*) AS n FROM client_mutations WHERE key LIKE 'old:%'`).one().n,
      reminders: col(`SELECT id AS v FROM reminders WHERE id LIKE 'r-%' ORDER BY id`),
      notifications: col(`SELECT id AS v FROM notifications ORDER BY id`),
      history: col(`SELECT id AS v FROM task_history ORDER BY id`),
    };
  });
}

describe('hub retention', () => {
  it('prunes each table past its horizon in bounded batches, keeps the rest, and tells synced clients about expired notifications', async () => {
    const owner = await signup('retention');
    const task = await createTask(owner, { title: 'anchor' });
    await runInDurableObject(hub(owner.tenantId), (_i, state) => {
      const sql = state.storage.sql;
      const event = (type: string) => JSON.stringify({ type });
      sql.exec(`INSERT INTO outbox (event, published_at) VALUES (?, ?)`, event('test.old'), ago(4 * DAY));
      sql.exec(`INSERT INTO outbox (event, published_at) VALUES (?, ?)`, event('test.recent'), ago(DAY));
      for (let i = 0; i < RETENTION.batch + 10; i++)
        sql.exec(`INSERT INTO client_mutations (key, response, created_at) VALUES (?, '{}', ?)`, `old:${i}`, ago(2 * DAY));
      sql.exec(`INSERT INTO client_mutations (key, response, created_at) VALUES ('fresh:1', '{}', ?)`, ago(60_000));
      const reminder = (id: string, deliveredAt: string | null, fireAt: number) =>
        sql.exec(`INSERT INTO reminders (id, task_id, fire_at, delivered_at) VALUES (?, ?, ?, ?)`, id, task.id, fireAt, deliveredAt);
      reminder('r-old', ago(8 * DAY), Date.now() - 8 * DAY);
      reminder('r-recent', ago(DAY), Date.now() - DAY);
      reminder('r-pending', null, Date.now() + DAY);
      writeNotification(sql, notification('ntf_old', ago(91 * DAY)), 'members');
      writeNotification(sql, notification('ntf_recent', ago(DAY)), 'members');
      const history = (id: string, at: string) =>
        sql.exec(`INSERT INTO task_history (id, task_id, completed_at, completed_by) VALUES (?, ?, ?, 'usr_x')`, id, task.id, at);
      history('thi_old', ago(366 * DAY));
      history('thi_recent', ago(DAY));
    });
    const before = await syncPage(owner.accessToken);

    // One pass deletes at most a batch per table; the rest waits for the next alarm, armed at once.
    await startRetentionPass(owner.tenantId);
    const first = await counts(owner.tenantId);
    expect(first.oldMutations).toBe(10);
    expect(await alarmOf(hub(owner.tenantId))).not.toBeNull();
    const done = await driveAlarms(hub(owner.tenantId), async () => {
      const c = await counts(owner.tenantId);
      return c.oldMutations === 0 ? c : undefined;
    });
    expect(done).toEqual({
      outbox: ['test.recent'],
      mutations: 1,
      oldMutations: 0,
      reminders: ['r-pending', 'r-recent'],
      notifications: ['ntf_recent'],
      history: ['thi_recent'],
    });

    // The expired notification leaves synced clients too: a delete on the log, gone from the list.
    const after = await syncPage(owner.accessToken, before.version);
    expect(after.changes).toEqual([expect.objectContaining({ entity: 'notification', entityId: 'ntf_old', op: 'delete', data: null })]);
    const list = await expectJson(await call('/v1/notifications', { token: owner.accessToken }));
    expect(list.data.map((n: Notification) => n.id)).toEqual(['ntf_recent']);
  });

  it('every pruning query is served by an index (EXPLAIN QUERY PLAN)', async () => {
    const owner = await signup('retention-plan');
    await createTask(owner, { title: 'bind' });
    const plans = await runInDurableObject(hub(owner.tenantId), (_i, state) =>
      Object.entries(RETENTION_QUERIES).map(([name, q]) => {
        const args = (q.match(/\?/g) ?? []).map(() => 1);
        const detail = state.storage.sql
          .exec<{ detail: string }>(`EXPLAIN QUERY PLAN ${q}`, ...args)
          .toArray()
          .map((r) => r.detail);
        return { name, detail };
      }),
    );
    for (const { name, detail } of plans) {
      const tableSteps = detail.filter((d) => /^(SCAN|SEARCH) /.test(d));
      expect(tableSteps.length, name).toBeGreaterThan(0);
      for (const step of tableSteps)
        expect(step, `${name}: ${detail.join(' | ')}`).toMatch(/USING (COVERING )?INDEX|USING INTEGER PRIMARY KEY/);
    }
  });
});
