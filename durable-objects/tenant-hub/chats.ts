/**
 * The tenant's chat index: what each ChatThread last reported (its summary), so
 * GET /v1/chats is one query here rather than a call per chat, and chat changes
 * join the tenant's sync log (entity `chat`) and its events (`chat.turn.*`).
 * Reports may arrive twice or late: an event is recorded once (by id), a
 * summary only when it is newer than the one held (`rev`).
 */
import type { ChatReport, ChatSummary } from '../../src/chat/model';
import { appendForwarded } from './outbox-forwarded';
import { appendChange, setChangeData } from './sync-log';

type Sql = SqlStorage;

/** Applies one report; true when anything changed. Run inside a transaction. */
export function recordChatReport(sql: Sql, tenantId: string, r: ChatReport & { rev: number }, now: number): boolean {
  let changed = false;
  if (r.event)
    changed =
      appendForwarded(
        sql,
        tenantId,
        [{ id: `evt_${r.id}`, type: r.event.type, tenantId, occurredAt: r.at, data: { chatId: r.chatId, ...r.event.data } }],
        now,
      ) > 0;
  const held = sql.exec<{ rev: number }>(`SELECT rev FROM chats WHERE id = ?`, r.chatId).toArray()[0];
  if (r.summary === null) {
    if (!held) return changed;
    sql.exec(`DELETE FROM chats WHERE id = ?`, r.chatId);
    appendChange(sql, 'chat', r.chatId, 'delete', r.at);
    return true;
  }
  if (held && held.rev >= r.rev) return changed;
  sql.exec(
    `INSERT INTO chats (id, data, updated_at, rev) VALUES (?, ?, ?, ?)
     ON CONFLICT (id) DO UPDATE SET data = excluded.data, updated_at = excluded.updated_at, rev = excluded.rev`,
    r.chatId,
    JSON.stringify(r.summary),
    r.summary.updatedAt,
    r.rev,
  );
  const version = appendChange(sql, 'chat', r.chatId, 'upsert', r.at);
  setChangeData(sql, version, { ...r.summary });
  return true;
}

/** Newest first; `after` is the last item of the previous page. */
export function listChats(sql: Sql, limit: number, after: { updatedAt: string; id: string } | null): ChatSummary[] {
  const rows = after
    ? sql.exec<{ data: string }>(
        `SELECT data FROM chats WHERE (updated_at, id) < (?, ?) ORDER BY updated_at DESC, id DESC LIMIT ?`,
        after.updatedAt,
        after.id,
        limit,
      )
    : sql.exec<{ data: string }>(`SELECT data FROM chats ORDER BY updated_at DESC, id DESC LIMIT ?`, limit);
  return rows.toArray().map((r) => JSON.parse(r.data) as ChatSummary);
}
