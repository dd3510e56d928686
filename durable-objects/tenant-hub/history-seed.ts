/**
 * A long change history written straight into the hub's log (what years of edits leave behind),
 * for the sync catch-up test and `npm run bench:sync`: `changes` upserts spread over `entities`
 * tasks, `ageMs` old; each task ends at its last change. Never used by the API.
 */
import type { Task } from '../../src/tasks/model';
import { appendChange, setChangeData } from './sync-log';
import { writeTask } from './tasks-store';

export interface HistorySeed {
  changes: number;
  entities: number;
  ageMs: number;
}

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

/** One transaction; the caller keeps `changes` to what one transaction should hold (tens of thousands). */
export function seedHistory(storage: DurableObjectStorage, seed: HistorySeed): void {
  const sql = storage.sql;
  const at = new Date(Date.now() - seed.ageMs).toISOString();
  const tasks = Array.from({ length: seed.entities }, (_, i) => seedTask(i, at));
  storage.transactionSync(() => {
    for (let n = 0; n < seed.changes; n++) {
      const t = tasks[n % seed.entities]!;
      t.notes = `edit ${n}`;
      t.version = appendChange(sql, 'task', t.id, 'upsert', at);
      setChangeData(sql, t.version, t);
    }
    for (const t of tasks) writeTask(sql, t);
  });
}
