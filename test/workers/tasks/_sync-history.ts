/** A long change history written straight into a hub's log (as years of edits would leave it), and a forced retention pass. */
import { runInDurableObject } from 'cloudflare:test';
import { appendChange, setChangeData } from '../../../durable-objects/tenant-hub/sync-log';
import { writeTask } from '../../../durable-objects/tenant-hub/tasks-store';
import type { TenantHub } from '../../../durable-objects/tenant-hub/tenant-hub';
import type { Task } from '../../../src/tasks/model';
import { hub } from '../../support/workers/durable-objects';

function seedTask(i: number, at: string): Task {
  return {
    id: `tsk_seed${String(i).padStart(6, '0')}`,
    title: `seeded task ${i}`,
    notes: null,
    status: 'open',
    priority: 4,
    labels: [],
    assigneeId: null,
    dueDate: null,
    dueAt: null,
    timezone: 'UTC',
    recurrence: null,
    recurrenceFrom: 'due',
    reminders: [],
    nextReminderAt: null,
    version: 0,
    createdBy: 'usr_seed',
    createdAt: at,
    updatedAt: at,
    completedAt: null,
  };
}

/** `changes` upserts spread over `entities` tasks, `ageMs` old; the tasks end at their last change. */
export async function seedHistory(tenantId: string, opts: { changes: number; entities: number; ageMs: number }): Promise<void> {
  // Any call binds the hub to its tenant, so its alarm will serve it.
  await runInDurableObject(hub(tenantId), (instance: TenantHub) => instance.listTasks(tenantId, { limit: 1 }));
  await runInDurableObject(hub(tenantId), (_i, state) => {
    const sql = state.storage.sql;
    const at = new Date(Date.now() - opts.ageMs).toISOString();
    const tasks = Array.from({ length: opts.entities }, (_, i) => seedTask(i, at));
    state.storage.transactionSync(() => {
      for (let n = 0; n < opts.changes; n++) {
        const t = tasks[n % opts.entities]!;
        t.notes = `edit ${n}`;
        t.version = appendChange(sql, 'task', t.id, 'upsert', at);
        setChangeData(sql, t.version, t);
      }
      for (const t of tasks) writeTask(sql, t);
    });
  });
}

/** Runs the hub's alarm with retention due now (the pass re-arms the alarm while it has a backlog). */
export async function startRetentionPass(tenantId: string): Promise<void> {
  await runInDurableObject(hub(tenantId), async (instance: TenantHub, state) => {
    state.storage.sql.exec(`DELETE FROM hub_meta WHERE key = 'retention_at'`);
    await instance.alarm();
  });
}
