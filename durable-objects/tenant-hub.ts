/**
 * TenantHub: one per tenant (addressed by tenant id), the single writer of the
 * tenant's data plane in its own SQLite: tasks, their change log (sync
 * versions), reminders, notifications and the event outbox; hibernatable sync
 * sockets; one alarm for reminders and outbox publication. The Worker
 * authenticates and validates; the hub's RPC methods do the work.
 */
import { DurableObject } from 'cloudflare:workers';
import type { Actor, Change, HistoryEntry, HubResult, Notification, Task, TaskCreate, TaskFilter, TaskPatch } from '../src/tasks/model';
import { deliverDueReminders } from './hub/deliver';
import { appendChange, changesAfter, changesSince, setChangeData } from './hub/log';
import { publishOutbox } from './hub/publish';
import { HUB_MIGRATIONS } from './hub/schema';
import { attachmentOf, broadcast, type SocketAttachment } from './hub/sockets';
import { handleSocketMessage } from './hub/socket-mutations';
import * as ops from './hub/task-ops';
import { listHistory, listNotifications, listTasks, nextReminderTime, readNotification, readTask, writeNotification } from './hub/task-store';
import { migrateDoStorage } from './migrations';
import { hasPendingEvents } from './hub/log';

const CATCH_UP_PAGE = 500;
const OUTBOX_RETRY_MS = 2_000;

export class TenantHub extends DurableObject<Env> {
  #schemaVersion = 0;
  #tenantId: string | null = null;
  /** Highest change version already pushed to sockets by this instance. */
  #pushed = 0;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    void ctx.blockConcurrencyWhile(async () => {
      this.#schemaVersion = migrateDoStorage(ctx.storage, HUB_MIGRATIONS);
      const row = ctx.storage.sql.exec<{ value: string }>(`SELECT value FROM hub_meta WHERE key = 'tenant_id'`).toArray()[0];
      this.#tenantId = row?.value ?? null;
      this.#pushed = ctx.storage.sql.exec<{ v: number | null }>(`SELECT MAX(version) AS v FROM changes`).one().v ?? 0;
    });
    ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair('{"type":"ping"}', '{"type":"pong"}'));
  }

  // ---- platform ------------------------------------------------------------

  /** Readiness probe: proves the object is reachable and its SQLite answers. */
  async ping(): Promise<{ ok: true; schemaVersion: number; sqlite: number }> {
    const row = this.ctx.storage.sql.exec<{ one: number }>('SELECT 1 AS one').one();
    return { ok: true, schemaVersion: this.#schemaVersion, sqlite: row.one };
  }

  /** The hub learns its tenant on first use and refuses to serve another. */
  #bind(tenantId: string): void {
    if (this.#tenantId === tenantId) return;
    if (this.#tenantId !== null) throw new Error(`TenantHub of ${this.#tenantId} addressed as ${tenantId}`);
    this.ctx.storage.sql.exec(`INSERT OR REPLACE INTO hub_meta (key, value) VALUES ('tenant_id', ?)`, tenantId);
    this.#tenantId = tenantId;
  }

  #op(tenantId: string, actor: Actor): ops.OpContext {
    this.#bind(tenantId);
    return { sql: this.ctx.storage.sql, tenantId, actor, now: Date.now() };
  }

  /** Runs a mutation in one transaction, then pushes its changes and schedules publication. */
  async #mutate<T>(tenantId: string, actor: Actor, fn: (ctx: ops.OpContext) => HubResult<T>): Promise<HubResult<T>> {
    const ctx = this.#op(tenantId, actor);
    const result = this.ctx.storage.transactionSync(() => fn(ctx));
    if (result.ok) await this.#afterWrite();
    return result;
  }

  async #afterWrite(): Promise<void> {
    const fresh = changesAfter(this.ctx.storage.sql, this.#pushed);
    if (fresh.length > 0) {
      broadcast(this.ctx.getWebSockets(), fresh);
      this.#pushed = fresh[fresh.length - 1]!.version;
    }
    await this.#arm(true);
  }

  // ---- tasks (RPC) ---------------------------------------------------------

  async createTask(tenantId: string, actor: Actor, input: TaskCreate): Promise<HubResult<Task>> {
    return this.#mutate(tenantId, actor, (ctx) => ops.createTask(ctx, input));
  }

  async getTask(tenantId: string, id: string): Promise<HubResult<Task>> {
    this.#bind(tenantId);
    const t = readTask(this.ctx.storage.sql, id);
    return t ? { ok: true, value: t } : { ok: false, code: 'not_found', detail: `Task ${id} not found.` };
  }

  async listTasks(tenantId: string, filter: TaskFilter): Promise<{ data: Task[]; nextCursor: string | null }> {
    this.#bind(tenantId);
    return listTasks(this.ctx.storage.sql, filter);
  }

  async updateTask(tenantId: string, actor: Actor, id: string, patch: TaskPatch, ifMatch?: number): Promise<HubResult<Task>> {
    return this.#mutate(tenantId, actor, (ctx) => ops.updateTask(ctx, id, patch, ifMatch));
  }

  async completeTask(tenantId: string, actor: Actor, id: string, ifMatch?: number): Promise<HubResult<Task>> {
    return this.#mutate(tenantId, actor, (ctx) => ops.completeTask(ctx, id, ifMatch));
  }

  async reopenTask(tenantId: string, actor: Actor, id: string, ifMatch?: number): Promise<HubResult<Task>> {
    return this.#mutate(tenantId, actor, (ctx) => ops.reopenTask(ctx, id, ifMatch));
  }

  async deleteTask(tenantId: string, actor: Actor, id: string, ifMatch?: number): Promise<HubResult<{ version: number }>> {
    return this.#mutate(tenantId, actor, (ctx) => ops.deleteTask(ctx, id, ifMatch));
  }

  async taskHistory(tenantId: string, id: string, limit: number, after?: string): Promise<HubResult<{ data: HistoryEntry[]; nextCursor: string | null }>> {
    this.#bind(tenantId);
    if (!readTask(this.ctx.storage.sql, id)) return { ok: false, code: 'not_found', detail: `Task ${id} not found.` };
    return { ok: true, value: listHistory(this.ctx.storage.sql, id, limit, after) };
  }

  // ---- notifications (RPC) -------------------------------------------------

  async listNotifications(tenantId: string, opts: { unread?: boolean | undefined; limit: number; after?: string | undefined }) {
    this.#bind(tenantId);
    return listNotifications(this.ctx.storage.sql, opts);
  }

  async markNotificationRead(tenantId: string, actor: Actor, id: string): Promise<HubResult<Notification>> {
    return this.#mutate(tenantId, actor, (ctx) => {
      const n = readNotification(ctx.sql, id);
      if (!n) return { ok: false, code: 'not_found', detail: `Notification ${id} not found.` };
      if (n.readAt) return { ok: true, value: n };
      const at = new Date(ctx.now).toISOString();
      const read: Notification = { ...n, readAt: at };
      writeNotification(ctx.sql, read);
      setChangeData(ctx.sql, appendChange(ctx.sql, 'notification', id, 'upsert', at), read);
      return { ok: true, value: read };
    });
  }

  // ---- sync ----------------------------------------------------------------

  async changesSince(tenantId: string, since: number, limit: number): Promise<{ changes: Change[]; version: number; hasMore: boolean }> {
    this.#bind(tenantId);
    return changesSince(this.ctx.storage.sql, since, limit);
  }

  /**
   * WebSocket upgrade for GET /v1/sync/ws (the Worker has authenticated the
   * caller and passes who it is in internal headers). Catch-up and
   * registration happen with no await in between, so no change can fall in a gap.
   */
  override async fetch(request: Request): Promise<Response> {
    if (request.headers.get('upgrade')?.toLowerCase() !== 'websocket') return new Response('expected a WebSocket upgrade', { status: 426 });
    const tenantId = request.headers.get('x-edgecrew-tenant');
    const actorId = request.headers.get('x-edgecrew-actor');
    const role = request.headers.get('x-edgecrew-role') as SocketAttachment['role'] | null;
    if (!tenantId || !actorId || !role) return new Response('missing caller', { status: 400 });
    this.#bind(tenantId);
    const since = Number(new URL(request.url).searchParams.get('since') ?? '0');
    const pair = new WebSocketPair();
    const server = pair[1];
    this.ctx.acceptWebSocket(server);
    server.serializeAttachment({ actorId, role, connectedAt: new Date().toISOString() } satisfies SocketAttachment);
    let cursor = Number.isFinite(since) && since > 0 ? since : 0;
    for (;;) {
      const page = changesSince(this.ctx.storage.sql, cursor, CATCH_UP_PAGE);
      for (const c of page.changes) server.send(JSON.stringify({ type: 'change', ...c }));
      cursor = page.version;
      if (!page.hasMore) break;
    }
    server.send(JSON.stringify({ type: 'synced', version: cursor }));
    return new Response(null, { status: 101, webSocket: pair[0] });
  }

  override async webSocketMessage(ws: WebSocket, message: string | ArrayBuffer): Promise<void> {
    const who = attachmentOf(ws);
    if (!who || this.#tenantId === null) return ws.close(1011, 'unknown session');
    const tenantId = this.#tenantId;
    const reply = await handleSocketMessage(message, who, this.ctx.storage, {
      run: (actor, fn) => this.#mutate(tenantId, actor, fn),
    });
    if (reply) ws.send(JSON.stringify(reply));
  }

  override async webSocketClose(ws: WebSocket, code: number): Promise<void> {
    try {
      ws.close(code === 1005 ? 1000 : code, 'bye');
    } catch {
      // already closed
    }
  }

  // ---- alarm: reminders and outbox ----------------------------------------

  override async alarm(): Promise<void> {
    await this.#process();
  }

  /** Same work as the alarm, on demand: the cron sweeper calls it for hubs whose alarm seems lost. */
  async wake(tenantId: string): Promise<{ delivered: number; published: number }> {
    this.#bind(tenantId);
    return this.#process();
  }

  async #process(): Promise<{ delivered: number; published: number }> {
    if (this.#tenantId === null) return { delivered: 0, published: 0 };
    const delivered = deliverDueReminders(this.ctx.storage, this.#tenantId, Date.now());
    const fresh = changesAfter(this.ctx.storage.sql, this.#pushed);
    if (fresh.length > 0) {
      broadcast(this.ctx.getWebSockets(), fresh);
      this.#pushed = fresh[fresh.length - 1]!.version;
    }
    const published = await publishOutbox(this.ctx.storage, this.env.EVENTS);
    await this.#arm(false);
    return { delivered, published };
  }

  /**
   * One alarm at the earliest of: the next pending reminder, and (when events
   * wait for publication) now. Mirrors that time into D1's hub_schedules so the
   * sweeper can wake this hub if the alarm is ever lost.
   */
  async #arm(soon: boolean): Promise<void> {
    const sql = this.ctx.storage.sql;
    const reminder = nextReminderTime(sql);
    const pending = hasPendingEvents(sql);
    const candidates = [reminder, pending ? Date.now() + (soon ? 0 : OUTBOX_RETRY_MS) : null].filter((t): t is number => t !== null);
    const next = candidates.length ? Math.min(...candidates) : null;
    if (next === null) await this.ctx.storage.deleteAlarm();
    else await this.ctx.storage.setAlarm(next);
    // After a write the alarm publishes at once, so only reminders go to the registry; after an
    // alarm that could not publish, the registry also carries "now" so the sweeper retries it.
    const registry = soon ? reminder : (reminder ?? (pending ? Date.now() : null));
    // Serialized, and off the request's critical path: the alarm is primary, the registry a backstop.
    this.#registry = this.#registry.then(() => this.#syncRegistry(registry)).catch(() => undefined);
    if (!soon) await this.#registry;
  }

  #registry: Promise<void> = Promise.resolve();

  async #syncRegistry(at: number | null): Promise<void> {
    const sql = this.ctx.storage.sql;
    const value = at === null ? '' : new Date(at).toISOString();
    const last = sql.exec<{ value: string }>(`SELECT value FROM hub_meta WHERE key = 'registry_due'`).toArray()[0]?.value;
    if (last === value || this.#tenantId === null) return;
    if (at === null) await this.env.DB.prepare(`DELETE FROM hub_schedules WHERE tenant_id = ?`).bind(this.#tenantId).run();
    else
      await this.env.DB.prepare(
        `INSERT INTO hub_schedules (tenant_id, next_due_at, updated_at) VALUES (?, ?, ?)
         ON CONFLICT(tenant_id) DO UPDATE SET next_due_at = excluded.next_due_at, updated_at = excluded.updated_at`,
      )
        .bind(this.#tenantId, value, new Date().toISOString())
        .run();
    sql.exec(`INSERT OR REPLACE INTO hub_meta (key, value) VALUES ('registry_due', ?)`, value);
  }
}
