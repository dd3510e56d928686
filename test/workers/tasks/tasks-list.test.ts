/**
 * GET /v1/tasks's page as JSON text (durable-objects/tenant-hub/tasks-store.ts `listTasksJson`): SQLite
 * joins the page's stored JSON; a page over SQLite's string limit (2 MB in production Durable Objects,
 * not enforced by the local runtime) is joined row by row instead, with the same answer.
 */
import { runInDurableObject } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { listTasksJson } from '../../../durable-objects/tenant-hub/tasks-store';
import type { TaskFilter } from '../../../src/tasks/model';
import { hub } from '../../support/workers/durable-objects';
import { interceptExec, planRecorder } from '../../support/workers/query-plans';
import { signup } from '../../support/workers/tenants';
import { createTask } from './_support';

/** `sql` whose aggregate page query fails as production SQLite does over its length limit (or with `message`). */
function failingJoin(sql: SqlStorage, message: string): SqlStorage {
  return interceptExec(sql, (query, args, real) => {
    if (query.includes('group_concat')) throw new Error(message);
    return real.exec(query, ...args);
  });
}

/** `sql` whose joined page comes back out of id order (as a SQLite that joined in another order would answer). */
function misorderedJoin(sql: SqlStorage): SqlStorage {
  return interceptExec(sql, (query, args, real) => {
    const cursor = real.exec(query, ...args);
    if (!query.includes('group_concat')) return cursor;
    const row = cursor.one() as { ids: string | null; json: string | null };
    const tasks = row.json === null ? [] : (JSON.parse(`[${row.json}]`) as unknown[]);
    const reversed = {
      ...row,
      ids: (row.ids?.split(',') ?? []).reverse().join(','),
      json: tasks
        .reverse()
        .map((t) => JSON.stringify(t))
        .join(','),
    };
    return { one: () => reversed };
  });
}

describe('task list pages as JSON', () => {
  it('a page SQLite joined out of id order is read row by row instead: always in id order', async () => {
    const owner = await signup('tasks-list-order');
    for (let i = 0; i < 4; i++) await createTask(owner, { title: `task ${i}` });
    const pages = await runInDurableObject(hub(owner.tenantId), (_i, state) => {
      const real = state.storage.sql;
      return { joined: listTasksJson(real, { limit: 3 }), misordered: listTasksJson(misorderedJoin(real), { limit: 3 }) };
    });
    expect(pages.misordered).toEqual(pages.joined);
    const ids = (JSON.parse(pages.joined.json) as { id: string }[]).map((t) => t.id);
    expect(ids).toHaveLength(3);
    expect(ids).toEqual([...ids].sort());
    expect(pages.joined.nextCursor).toBe(ids[2]);
  });

  it('a page SQLite cannot join (string or blob too big) is joined row by row, the same answer; other errors are thrown', async () => {
    const owner = await signup('tasks-list-toobig');
    for (let i = 0; i < 5; i++) await createTask(owner, { title: `task ${i}`, notes: 'ü'.repeat(200 * (i + 1)) });
    const filters: TaskFilter[] = [{ limit: 2 }, { limit: 5 }, { limit: 10 }, { limit: 3, q: 'task' }, { limit: 2, status: 'done' }];
    const pages = await runInDurableObject(hub(owner.tenantId), (_i, state) => {
      const real = state.storage.sql;
      const tooBig = failingJoin(real, 'string or blob too big: SQLITE_TOOBIG');
      const out = [];
      for (const f of filters) {
        const first = listTasksJson(real, f);
        const after = first.nextCursor ? { ...f, after: first.nextCursor } : null;
        out.push({
          joined: [first, after && listTasksJson(real, after)],
          rowByRow: [listTasksJson(tooBig, f), after && listTasksJson(tooBig, after)],
        });
      }
      let other: unknown = null;
      try {
        listTasksJson(failingJoin(real, 'SQLITE_BUSY'), { limit: 2 });
      } catch (err) {
        other = err;
      }
      return { out, other: String(other) };
    });
    for (const p of pages.out) expect(p.rowByRow).toEqual(p.joined);
    expect(JSON.parse(pages.out[1]!.joined[0]!.json)).toHaveLength(5);
    expect(pages.out[1]!.joined[0]!.nextCursor).toBeNull();
    expect(pages.out[0]!.joined[0]!.nextCursor).not.toBeNull();
    expect(pages.other).toMatch(/SQLITE_BUSY/);
  });

  it("one assignee's page reads the assignee index, not every task", async () => {
    const owner = await signup('tasks-list-assignee');
    const plans = await runInDurableObject(hub(owner.tenantId), (_i, state) => {
      const { sql, plans } = planRecorder(state.storage.sql);
      listTasksJson(sql, { limit: 50, assigneeId: 'usr_someone' });
      return plans;
    });
    expect(plans.join('; ')).toMatch(/tasks_assignee_idx \(assignee_id=\?\)/);
  });
});
