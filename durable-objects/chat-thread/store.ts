/** The ChatThread's rows: the chat, its messages, its turns, each turn's chunk log, and the report outbox. */
import type { PendingCall } from '../../src/chat/history';
import type { ChatReport, ChatSummary, TurnPlan, TurnStatus, TurnView } from '../../src/chat/model';
import type { MapperState } from '../../src/chat/run-chunks';
import type { UIChunk, UIMessage } from '../../src/chat/ui-message';

type Sql = SqlStorage;

export interface ChatRow {
  tenant_id: string;
  chat_id: string;
  title: string;
  created_by: string;
  created_at: string;
  updated_at: string;
  [k: string]: SqlStorageValue;
}

export interface TurnRow {
  seq: number;
  id: string;
  status: TurnStatus;
  user_message: string | null;
  message_id: string;
  run_id: string;
  run_started: number;
  plan: string;
  mapper: string;
  cursor: number;
  segment: number;
  pending: string | null;
  error: string | null;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
  [k: string]: SqlStorageValue;
}

export interface Turn {
  row: TurnRow;
  plan: TurnPlan;
  mapper: MapperState;
  pending: PendingCall[];
  userMessage: UIMessage | null;
}

export function chatRow(sql: Sql): ChatRow | null {
  return sql.exec<ChatRow>(`SELECT * FROM chat WHERE id = 1`).toArray()[0] ?? null;
}

export function createChat(sql: Sql, c: Omit<ChatRow, 'updated_at'>): void {
  sql.exec(
    `INSERT INTO chat (id, tenant_id, chat_id, title, created_by, created_at, updated_at) VALUES (1, ?, ?, ?, ?, ?, ?)`,
    c.tenant_id,
    c.chat_id,
    c.title,
    c.created_by,
    c.created_at,
    c.created_at,
  );
}

export function touchChat(sql: Sql, at: string): void {
  sql.exec(`UPDATE chat SET updated_at = ? WHERE id = 1`, at);
}

// ---- messages ----------------------------------------------------------------

export function messages(sql: Sql): UIMessage[] {
  return sql
    .exec<{ message: string }>(`SELECT message FROM messages ORDER BY seq`)
    .toArray()
    .map((r) => JSON.parse(r.message) as UIMessage);
}

export function messageCount(sql: Sql): number {
  return sql.exec<{ n: number }>(`SELECT COUNT(*) AS n FROM messages`).one().n;
}

export function hasMessage(sql: Sql, id: string): boolean {
  return sql.exec(`SELECT 1 FROM messages WHERE id = ?`, id).toArray().length > 0;
}

export function lastMessage(sql: Sql): UIMessage | null {
  const r = sql.exec<{ message: string }>(`SELECT message FROM messages ORDER BY seq DESC LIMIT 1`).toArray()[0];
  return r ? (JSON.parse(r.message) as UIMessage) : null;
}

/** Inserts the message, or replaces the stored one with the same id (keeping its place). */
export function upsertMessage(sql: Sql, m: UIMessage, turnId: string | null, at: string): void {
  sql.exec(
    `INSERT INTO messages (id, role, turn_id, message, created_at) VALUES (?, ?, ?, ?, ?)
     ON CONFLICT (id) DO UPDATE SET message = excluded.message`,
    m.id,
    m.role,
    turnId,
    JSON.stringify(m),
    at,
  );
}

/** An assistant message and the turn that wrote it (its run, its agent), or null. */
export function assistantTurnOf(sql: Sql, messageId: string): { runId: string; plan: TurnPlan } | null {
  const r = sql
    .exec<{ run_id: string; plan: string }>(
      `SELECT t.run_id, t.plan FROM messages m JOIN turns t ON t.message_id = m.id WHERE m.id = ? AND m.role = 'assistant'`,
      messageId,
    )
    .toArray()[0];
  return r ? { runId: r.run_id, plan: JSON.parse(r.plan) as TurnPlan } : null;
}

export function deleteMessage(sql: Sql, id: string): void {
  sql.exec(`DELETE FROM messages WHERE id = ?`, id);
}

// ---- turns -------------------------------------------------------------------

function toTurn(row: TurnRow): Turn {
  return {
    row,
    plan: JSON.parse(row.plan) as TurnPlan,
    mapper: JSON.parse(row.mapper) as MapperState,
    pending: row.pending ? (JSON.parse(row.pending) as PendingCall[]) : [],
    userMessage: row.user_message ? (JSON.parse(row.user_message) as UIMessage) : null,
  };
}

export function turn(sql: Sql, id: string): Turn | null {
  const row = sql.exec<TurnRow>(`SELECT * FROM turns WHERE id = ?`, id).toArray()[0];
  return row ? toTurn(row) : null;
}

export function lastTurn(sql: Sql): Turn | null {
  const row = sql.exec<TurnRow>(`SELECT * FROM turns ORDER BY seq DESC LIMIT 1`).toArray()[0];
  return row ? toTurn(row) : null;
}

export function turnsIn(sql: Sql, statuses: TurnStatus[]): Turn[] {
  return sql
    .exec<TurnRow>(`SELECT * FROM turns WHERE status IN (${statuses.map(() => '?').join(', ')}) ORDER BY seq`, ...statuses)
    .toArray()
    .map(toTurn);
}

export function insertTurn(
  sql: Sql,
  t: {
    id: string;
    status: TurnStatus;
    userMessage: UIMessage | null;
    messageId: string;
    runId: string;
    plan: TurnPlan;
    mapper: MapperState;
    at: string;
  },
): void {
  sql.exec(
    `INSERT INTO turns (id, status, user_message, message_id, run_id, plan, mapper, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
    t.id,
    t.status,
    t.userMessage ? JSON.stringify(t.userMessage) : null,
    t.messageId,
    t.runId,
    JSON.stringify(t.plan),
    JSON.stringify(t.mapper),
    t.at,
  );
}

export function saveTurn(
  sql: Sql,
  id: string,
  f: Partial<{
    status: TurnStatus;
    mapper: MapperState;
    cursor: number;
    segment: number;
    pending: PendingCall[] | null;
    error: string | null;
    startedAt: string;
    finishedAt: string;
    runStarted: boolean;
  }>,
): void {
  const sets: string[] = [];
  const args: SqlStorageValue[] = [];
  const set = (col: string, v: SqlStorageValue) => {
    sets.push(`${col} = ?`);
    args.push(v);
  };
  if (f.status !== undefined) set('status', f.status);
  if (f.mapper !== undefined) set('mapper', JSON.stringify(f.mapper));
  if (f.cursor !== undefined) set('cursor', f.cursor);
  if (f.segment !== undefined) set('segment', f.segment);
  if (f.pending !== undefined) set('pending', f.pending === null ? null : JSON.stringify(f.pending));
  if (f.error !== undefined) set('error', f.error);
  if (f.startedAt !== undefined) set('started_at', f.startedAt);
  if (f.finishedAt !== undefined) set('finished_at', f.finishedAt);
  if (f.runStarted !== undefined) set('run_started', f.runStarted ? 1 : 0);
  if (sets.length) sql.exec(`UPDATE turns SET ${sets.join(', ')} WHERE id = ?`, ...args, id);
}

export function turnView(t: TurnRow): TurnView {
  return {
    id: t.id,
    status: t.status,
    messageId: t.message_id,
    runId: t.run_id,
    error: t.error,
    createdAt: t.created_at,
    finishedAt: t.finished_at,
  };
}

// ---- chunks: the turn's UI stream, for resume and live views -----------------

export interface ChunkRow {
  seq: number;
  segment: number;
  chunk: UIChunk;
}

export function appendChunks(sql: Sql, turnId: string, segment: number, chunks: UIChunk[]): number {
  let seq = sql.exec<{ s: number | null }>(`SELECT MAX(seq) AS s FROM chunks WHERE turn_id = ?`, turnId).one().s ?? 0;
  for (const c of chunks) {
    seq += 1;
    sql.exec(`INSERT INTO chunks (turn_id, seq, segment, chunk) VALUES (?, ?, ?, ?)`, turnId, seq, segment, JSON.stringify(c));
  }
  return seq;
}

export function chunksAfter(sql: Sql, turnId: string, after: number, limit: number): ChunkRow[] {
  return sql
    .exec<{ seq: number; segment: number; chunk: string }>(
      `SELECT seq, segment, chunk FROM chunks WHERE turn_id = ? AND seq > ? ORDER BY seq LIMIT ?`,
      turnId,
      after,
      limit,
    )
    .toArray()
    .map((r) => ({ seq: r.seq, segment: r.segment, chunk: JSON.parse(r.chunk) as UIChunk }));
}

/** Only the logs of turns still streaming (or still being read) are kept: older turns are in their stored messages. */
export function dropChunksExcept(sql: Sql, keep: string[]): void {
  sql.exec(
    `DELETE FROM chunks WHERE turn_id NOT IN (SELECT id FROM turns WHERE status IN ('queued', 'running', 'waiting'))
     AND turn_id NOT IN (SELECT value FROM json_each(?))`,
    JSON.stringify(keep),
  );
}

// ---- reports to the tenant's hub (sync, events) ------------------------------

export function enqueueReport(sql: Sql, r: ChatReport, now: number): void {
  sql.exec(`INSERT INTO reports (report, next_at) VALUES (?, ?)`, JSON.stringify(r), now);
}

export function dueReports(sql: Sql, now: number): Array<{ id: number; report: ChatReport; attempts: number }> {
  return sql
    .exec<{ id: number; report: string; attempts: number }>(
      `SELECT id, report, attempts FROM reports WHERE next_at <= ? ORDER BY id LIMIT 50`,
      now,
    )
    .toArray()
    .map((r) => ({ id: r.id, report: JSON.parse(r.report) as ChatReport, attempts: r.attempts }));
}

export function nextReportAt(sql: Sql): number | null {
  return sql.exec<{ t: number | null }>(`SELECT MIN(next_at) AS t FROM reports`).one().t;
}

export function reportDelivered(sql: Sql, id: number): void {
  sql.exec(`DELETE FROM reports WHERE id = ?`, id);
}

export function reportFailed(sql: Sql, id: number, nextAt: number): void {
  sql.exec(`UPDATE reports SET attempts = attempts + 1, next_at = ? WHERE id = ?`, nextAt, id);
}

export function summaryOf(sql: Sql): ChatSummary | null {
  const c = chatRow(sql);
  if (!c) return null;
  const t = lastTurn(sql);
  return {
    id: c.chat_id,
    title: c.title,
    createdBy: c.created_by,
    createdAt: c.created_at,
    updatedAt: c.updated_at,
    messageCount: messageCount(sql),
    lastTurn: t ? { id: t.row.id, status: t.row.status, messageId: t.row.message_id } : null,
  };
}
