/** Task rows in the hub's SQLite: the task JSON plus columns the list filters use. */
import type { HistoryEntry, Task, TaskFilter } from '../../src/tasks/model';
import { dueSortKey, reminderInstants } from '../../src/tasks/normalize';

type Sql = SqlStorage;

export function readTask(sql: Sql, id: string): Task | null {
  const row = sql.exec<{ data: string }>(`SELECT data FROM tasks WHERE id = ?`, id).toArray()[0];
  return row ? (JSON.parse(row.data) as Task) : null;
}

/** Writes the task row and its labels (`fresh`: a task being created, with no labels to replace yet). */
export function writeTask(sql: Sql, t: Task, fresh = false): void {
  const search = `${t.title}\n${t.notes ?? ''}`.toLowerCase();
  sql.exec(
    `INSERT INTO tasks (id, data, status, due_key, assignee_id, search, version) VALUES (?, ?, ?, ?, ?, ?, ?)
     ON CONFLICT(id) DO UPDATE SET data = excluded.data, status = excluded.status, due_key = excluded.due_key,
       assignee_id = excluded.assignee_id, search = excluded.search, version = excluded.version`,
    t.id,
    JSON.stringify(t),
    t.status,
    dueSortKey(t),
    t.assigneeId,
    search,
    t.version,
  );
  if (!fresh) sql.exec(`DELETE FROM task_labels WHERE task_id = ?`, t.id);
  for (const label of t.labels) sql.exec(`INSERT OR IGNORE INTO task_labels (task_id, label) VALUES (?, ?)`, t.id, label);
}

export function deleteTask(sql: Sql, id: string): void {
  sql.exec(`DELETE FROM tasks WHERE id = ?`, id);
  sql.exec(`DELETE FROM task_labels WHERE task_id = ?`, id);
  sql.exec(`DELETE FROM reminders WHERE task_id = ? AND delivered_at IS NULL`, id);
}

export function listTasks(sql: Sql, f: TaskFilter): { data: Task[]; nextCursor: string | null } {
  const { rows, nextCursor } = pageRows(sql, f);
  return { data: rows.map((r) => JSON.parse(r.data) as Task), nextCursor };
}

/**
 * The same page as `listTasks`, as the JSON text of its task array: SQLite joins the rows' stored JSON
 * as it is, so nothing is parsed here, no row object is made per task, and nothing is copied as
 * objects over RPC or serialized again by the Worker (the HTTP list's answer, issue 20). A full page
 * asks once more whether a task follows it, for the cursor.
 */
export function listTasksJson(sql: Sql, f: TaskFilter): { json: string; nextCursor: string | null } {
  try {
    const joined = joinedBySqlite(sql, f);
    if (joined !== null) return joined;
  } catch (err) {
    // A page over SQLite's string limit (2 MB in Durable Objects: 100 tasks with long notes) is joined
    // here instead, row by row.
    if (!/too big/i.test(String((err as Error)?.message ?? err))) throw err;
  }
  const { rows, nextCursor } = pageRows(sql, f);
  return { json: `[${rows.map((r) => r.data).join(',')}]`, nextCursor };
}

/**
 * The page joined by SQLite, or null when SQLite joined it out of id order. `group_concat` takes the rows
 * in the order the ordered subquery yields them, but SQLite documents that order as arbitrary unless
 * the aggregate has its own ORDER BY, and that ORDER BY sorts the page's JSON again in a temporary
 * B-tree (in workerd, a page of 50 tasks: 67–119 µs a statement with it, 44–77 µs without, ids checked). So the
 * ids are joined beside the JSON, in the same pass and therefore the same order, and checked here: a
 * SQLite that ever joins them otherwise gets the row-by-row page, never a misordered one.
 */
function joinedBySqlite(sql: Sql, f: TaskFilter): { json: string; nextCursor: string | null } | null {
  const { where, args } = pageWhere(f);
  const page = sql
    .exec<{ n: number; last: string | null; ids: string | null; json: string | null }>(
      `SELECT count(*) AS n, max(id) AS last, group_concat(id, ',') AS ids, group_concat(data, ',') AS json
       FROM (SELECT id, data FROM tasks ${whereSql(where)} ORDER BY id LIMIT ?)`,
      ...args,
      f.limit,
    )
    .one();
  if (!ascending(page.ids)) return null;
  const json = `[${page.json ?? ''}]`;
  if (page.n < f.limit || page.last === null) return { json, nextCursor: null };
  const more = sql
    .exec<{ more: number }>(`SELECT EXISTS (SELECT 1 FROM tasks ${whereSql([...where, 'id > ?'])}) AS more`, ...args, page.last)
    .one().more;
  return { json, nextCursor: more ? page.last : null };
}

/** Whether a comma-joined list of ids is in strictly ascending order (ids hold no comma). */
function ascending(ids: string | null): boolean {
  if (ids === null) return true;
  const list = ids.split(',');
  for (let i = 1; i < list.length; i++) if (list[i - 1]! >= list[i]!) return false;
  return true;
}

function pageRows(sql: Sql, f: TaskFilter): { rows: { id: string; data: string }[]; nextCursor: string | null } {
  const { where, args } = pageWhere(f);
  const rows = sql
    .exec<{ id: string; data: string }>(`SELECT id, data FROM tasks ${whereSql(where)} ORDER BY id LIMIT ?`, ...args, f.limit + 1)
    .toArray();
  const page = rows.slice(0, f.limit);
  return { rows: page, nextCursor: rows.length > f.limit ? page[page.length - 1]!.id : null };
}

function whereSql(where: readonly string[]): string {
  return where.length ? `WHERE ${where.join(' AND ')}` : '';
}

/** The filter's conditions on `tasks` and their arguments, in order (the cursor's `id > ?` among them). */
function pageWhere(f: TaskFilter): { where: string[]; args: SqlStorageValue[] } {
  const where: string[] = [];
  const args: SqlStorageValue[] = [];
  if (f.status) {
    where.push('status = ?');
    args.push(f.status);
  }
  if (f.assigneeId) {
    where.push('assignee_id = ?');
    args.push(f.assigneeId);
  }
  if (f.label) {
    where.push('id IN (SELECT task_id FROM task_labels WHERE label = ?)');
    args.push(f.label.toLowerCase());
  }
  if (f.dueFrom) {
    where.push('due_key >= ?');
    args.push(f.dueFrom);
  }
  if (f.dueTo) {
    where.push('due_key <= ?');
    args.push(f.dueTo.length === 10 ? `${f.dueTo}T23:59:59.999Z` : f.dueTo);
  }
  if (f.q) {
    // instr, not LIKE: a long term (or many %) makes LIKE fail with "pattern too complex".
    where.push(`instr(search, ?) > 0`);
    args.push(f.q.toLowerCase());
  }
  if (f.after) {
    where.push('id > ?');
    args.push(f.after);
  }
  return { where, args };
}

/**
 * Replaces the task's pending reminders with those of its current occurrence; returns the next fire
 * time, which is then the task's earliest pending reminder (`nextReminderFor`). A task being created
 * has none to replace (`fresh`).
 */
export function scheduleReminders(sql: Sql, t: Task, now: number, fresh = false): string | null {
  if (!fresh) sql.exec(`DELETE FROM reminders WHERE task_id = ? AND delivered_at IS NULL`, t.id);
  if (t.status !== 'open') return null;
  let next: number | null = null;
  for (const { index, fireAt } of reminderInstants(t)) {
    const at = Date.parse(fireAt);
    if (at < now - 60_000) continue; // already past when scheduled: not a reminder any more
    // The id names the occurrence, so a reminder delivered for it is never inserted again: the
    // insert is ignored, and only a reminder it wrote is pending.
    const written = sql.exec(
      `INSERT OR IGNORE INTO reminders (id, task_id, fire_at) VALUES (?, ?, ?)`,
      `${t.id}:${index}:${fireAt}`,
      t.id,
      at,
    ).rowsWritten;
    if (written > 0) next = next === null ? at : Math.min(next, at);
  }
  return next === null ? null : new Date(next).toISOString();
}

export interface DueReminder {
  id: string;
  task_id: string;
  fire_at: number;
  [k: string]: SqlStorageValue;
}

export function dueReminders(sql: Sql, now: number, limit: number): DueReminder[] {
  return sql
    .exec<DueReminder>(
      `SELECT id, task_id, fire_at FROM reminders WHERE delivered_at IS NULL AND fire_at <= ? ORDER BY fire_at LIMIT ?`,
      now,
      limit,
    )
    .toArray();
}

/** Marks one reminder delivered; false if it already was (an alarm retry). */
export function claimReminder(sql: Sql, id: string, at: string): boolean {
  return sql.exec(`UPDATE reminders SET delivered_at = ? WHERE id = ? AND delivered_at IS NULL`, at, id).rowsWritten > 0;
}

/** When the next pending reminder fires (epoch ms), as a scalar subquery (./schedule.ts). */
export const NEXT_REMINDER_SQL = `SELECT MIN(fire_at) FROM reminders WHERE delivered_at IS NULL`;

export function nextReminderFor(sql: Sql, taskId: string): string | null {
  const t = sql
    .exec<{ t: number | null }>(`SELECT MIN(fire_at) AS t FROM reminders WHERE task_id = ? AND delivered_at IS NULL`, taskId)
    .one().t;
  return t === null || t === undefined ? null : new Date(t).toISOString();
}

export function addHistory(sql: Sql, h: HistoryEntry): void {
  sql.exec(
    `INSERT INTO task_history (id, task_id, due_date, due_at, completed_at, completed_by) VALUES (?, ?, ?, ?, ?, ?)`,
    h.id,
    h.taskId,
    h.dueDate,
    h.dueAt,
    h.completedAt,
    h.completedBy,
  );
}

export function listHistory(sql: Sql, taskId: string, limit: number, after?: string): { data: HistoryEntry[]; nextCursor: string | null } {
  const rows = sql
    .exec<{ id: string; task_id: string; due_date: string | null; due_at: string | null; completed_at: string; completed_by: string }>(
      `SELECT * FROM task_history WHERE task_id = ? AND id < ? ORDER BY id DESC LIMIT ?`,
      taskId,
      after ?? '~',
      limit + 1,
    )
    .toArray();
  const data = rows.slice(0, limit).map((r) => ({
    id: r.id,
    taskId: r.task_id,
    dueDate: r.due_date,
    dueAt: r.due_at,
    completedAt: r.completed_at,
    completedBy: r.completed_by,
  }));
  return { data, nextCursor: rows.length > limit ? data[data.length - 1]!.id : null };
}
