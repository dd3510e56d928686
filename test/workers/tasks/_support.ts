/**
 * Shared helpers for the task-service runtime suites (reminders-*, sync-*): sync sockets driven
 * through the Worker's real fetch handler, and read-only views into a tenant's TenantHub storage
 * (reminders, outbox, alarm) for what a client cannot see.
 */
import { runDurableObjectAlarm, runInDurableObject } from 'cloudflare:test';
import { env, exports } from 'cloudflare:workers';
import { expect } from 'vitest';
import { BASE, call, freshIp, json, type TestTenant } from '../helpers';

export type Json = Record<string, any>;

export function hub(tenantId: string): DurableObjectStub {
  return env.TENANT_HUB.get(env.TENANT_HUB.idFromName(tenantId)) as unknown as DurableObjectStub;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `probe` until it returns something other than undefined; fails the test with `what` otherwise. */
export async function until<T>(what: string, probe: () => Promise<T | undefined>, tries = 100, everyMs = 50): Promise<T> {
  let last: unknown;
  for (let i = 0; i < tries; i++) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    await sleep(everyMs);
  }
  throw new Error(`gave up waiting for ${what}${last ? `: ${String(last)}` : ''}`);
}

export async function createTask(t: TestTenant | string, body: Json): Promise<Json> {
  const token = typeof t === 'string' ? t : t.accessToken;
  const res = await call('/v1/tasks', { token, body });
  const text = await res.text();
  expect({ status: res.status, body: text.slice(0, 400) }).toMatchObject({ status: 201 });
  return JSON.parse(text) as Json;
}

export async function okJson(res: Response, status = 200): Promise<Json> {
  const text = await res.text();
  expect({ status: res.status, body: text.slice(0, 400) }).toMatchObject({ status });
  return JSON.parse(text) as Json;
}

export async function syncPage(token: string, since = 0, limit = 1000): Promise<{ changes: Json[]; version: number; hasMore: boolean }> {
  return okJson(await call(`/v1/sync?since=${since}&limit=${limit}`, { token })) as Promise<any>;
}

export async function currentVersion(token: string): Promise<number> {
  let since = 0;
  for (;;) {
    const page = await syncPage(token, since);
    since = page.version;
    if (!page.hasMore) return since;
  }
}

// ---------------------------------------------------------------------------------------------
// hub internals (read through runInDurableObject)
// ---------------------------------------------------------------------------------------------

export interface ReminderRow {
  id: string;
  task_id: string;
  fire_at: number;
  delivered_at: string | null;
}

export async function reminderRows(tenantId: string, taskId?: string): Promise<ReminderRow[]> {
  return runInDurableObject(hub(tenantId), (_i, state) =>
    taskId === undefined
      ? state.storage.sql.exec<any>(`SELECT * FROM reminders ORDER BY fire_at, id`).toArray()
      : state.storage.sql.exec<any>(`SELECT * FROM reminders WHERE task_id = ? ORDER BY fire_at, id`, taskId).toArray(),
  ) as Promise<ReminderRow[]>;
}

export interface OutboxRow {
  sequence: number;
  event: Json;
  published_at: string | null;
  attempts: number;
}

export async function outboxRows(tenantId: string): Promise<OutboxRow[]> {
  const rows = (await runInDurableObject(hub(tenantId), (_i, state) =>
    state.storage.sql.exec<any>(`SELECT * FROM outbox ORDER BY sequence`).toArray(),
  )) as Array<{ sequence: number; event: string; published_at: string | null; attempts: number }>;
  return rows.map((r) => ({ ...r, event: JSON.parse(r.event) as Json }));
}

export async function alarmOf(tenantId: string): Promise<number | null> {
  return runInDurableObject(hub(tenantId), (_i, state) => state.storage.getAlarm());
}

export async function registryOf(tenantId: string): Promise<string | null> {
  const row = await env.DB.prepare(`SELECT next_due_at FROM hub_schedules WHERE tenant_id = ?`)
    .bind(tenantId)
    .first<{ next_due_at: string }>();
  return row?.next_due_at ?? null;
}

/**
 * Waits until the hub is at rest: every outbox event published (the write's own alarm ran), the
 * one alarm set to `alarmAt` and the D1 registry mirroring `registryAt` (null = no row).
 */
export async function settled(
  tenantId: string,
  alarmAt: number | null,
  registryAt: string | null = alarmAt === null ? null : new Date(alarmAt).toISOString(),
): Promise<void> {
  await until(`hub ${tenantId} at rest (alarm ${alarmAt}, registry ${registryAt})`, async () => {
    const pending = (await outboxRows(tenantId)).filter((r) => r.published_at === null).length;
    const alarm = await alarmOf(tenantId);
    const registry = await registryOf(tenantId);
    return pending === 0 && alarm === alarmAt && registry === registryAt ? true : undefined;
  });
}

// ---------------------------------------------------------------------------------------------
// reminders
// ---------------------------------------------------------------------------------------------

const HOUR = 3600_000;

/** A task due in an hour with a 30-minute reminder; waits until the hub's alarm points at that reminder. */
export async function taskWithReminder(
  owner: TestTenant,
  title = 'Call the bank',
): Promise<{ task: Json; fireAt: number; reminderId: string }> {
  const dueAt = new Date(Math.ceil((Date.now() + HOUR) / 1000) * 1000).toISOString();
  const task = await createTask(owner, { title, dueAt, reminders: [{ before: 'PT30M' }] });
  const fireAt = Date.parse(dueAt) - 30 * 60_000;
  expect(task.nextReminderAt).toBe(new Date(fireAt).toISOString());
  await settled(owner.tenantId, fireAt);
  const rows = await reminderRows(owner.tenantId, task.id);
  expect(rows).toEqual([{ id: expect.any(String), task_id: task.id, fire_at: fireAt, delivered_at: null }]);
  return { task, fireAt, reminderId: rows[0]!.id };
}

/** Makes the reminder due now (its alarm time is unchanged: only a run of the alarm delivers it). */
export async function makeDue(tenantId: string, reminderId: string): Promise<number> {
  const dueAt = Date.now() - 1_000;
  await runInDurableObject(hub(tenantId), (_i, state) => {
    state.storage.sql.exec(`UPDATE reminders SET fire_at = ? WHERE id = ?`, dueAt, reminderId);
  });
  return dueAt;
}

/** A tenant with one delivered reminder notification (through the hub's alarm). */
export async function deliveredNotification(
  owner: TestTenant,
  title?: string,
): Promise<{ task: Json; notification: Json; reminderId: string }> {
  const { task, reminderId } = await taskWithReminder(owner, title);
  await makeDue(owner.tenantId, reminderId);
  expect(await runDurableObjectAlarm(hub(owner.tenantId))).toBe(true);
  const list = (await okJson(await call('/v1/notifications', { token: owner.accessToken }))).data as Json[];
  expect(list).toHaveLength(1);
  return { task, notification: list[0]!, reminderId };
}

// ---------------------------------------------------------------------------------------------
// sync sockets through the Worker's fetch handler
// ---------------------------------------------------------------------------------------------

export interface SyncSocket {
  readonly ws: WebSocket;
  /** Frames received and not yet read. */
  readonly pending: Json[];
  next(timeoutMs?: number): Promise<Json>;
  /** Reads the catch-up up to `{type:'synced'}`; returns the change frames and the synced version. */
  untilSynced(timeoutMs?: number): Promise<{ changes: Json[]; version: number }>;
  send(frame: unknown): void;
  readonly closed: Promise<{ code: number; reason: string }>;
  close(): Promise<void>;
}

export async function upgrade(path: string, token?: string, headers: Record<string, string> = {}): Promise<Response> {
  const h: Record<string, string> = { upgrade: 'websocket', 'cf-connecting-ip': freshIp(), ...headers };
  if (token) h.authorization = `Bearer ${token}`;
  return exports.default.fetch(new Request(BASE + path, { headers: h }));
}

export async function openSync(
  token: string | undefined,
  query: Record<string, string | number> = {},
  headers: Record<string, string> = {},
): Promise<SyncSocket> {
  const qs = new URLSearchParams(Object.entries(query).map(([k, v]) => [k, String(v)])).toString();
  const res = await upgrade(`/v1/sync/ws${qs ? `?${qs}` : ''}`, token, headers);
  if (res.status !== 101 || !res.webSocket) throw new Error(`sync socket refused: ${res.status} ${await res.text()}`);
  return wrap(res.webSocket);
}

function wrap(ws: WebSocket): SyncSocket {
  const inbox: Json[] = [];
  const waiters: Array<{ resolve(m: Json): void; reject(e: Error): void }> = [];
  let closeInfo: { code: number; reason: string } | undefined;
  let resolveClosed!: (v: { code: number; reason: string }) => void;
  const closed = new Promise<{ code: number; reason: string }>((r) => (resolveClosed = r));
  const finish = (code: number, reason: string) => {
    if (closeInfo) return;
    closeInfo = { code, reason };
    for (const w of waiters.splice(0)) w.reject(new Error(`socket closed (${code} ${reason}) before a frame arrived`));
    resolveClosed(closeInfo);
  };
  ws.addEventListener('message', (event) => {
    const data = typeof event.data === 'string' ? event.data : new TextDecoder().decode(event.data as ArrayBuffer);
    const frame = JSON.parse(data) as Json;
    const w = waiters.shift();
    if (w) w.resolve(frame);
    else inbox.push(frame);
  });
  ws.addEventListener('close', (event) => finish(event.code, event.reason));
  ws.addEventListener('error', () => finish(1006, 'error'));
  ws.accept();

  const next = (timeoutMs = 5_000): Promise<Json> => {
    const queued = inbox.shift();
    if (queued) return Promise.resolve(queued);
    if (closeInfo) return Promise.reject(new Error(`socket closed (${closeInfo.code} ${closeInfo.reason})`));
    return new Promise<Json>((resolve, reject) => {
      const waiter = {
        resolve: (m: Json) => {
          clearTimeout(timer);
          resolve(m);
        },
        reject: (e: Error) => {
          clearTimeout(timer);
          reject(e);
        },
      };
      const timer = setTimeout(() => {
        waiters.splice(waiters.indexOf(waiter), 1);
        reject(new Error(`no frame within ${timeoutMs} ms`));
      }, timeoutMs);
      waiters.push(waiter);
    });
  };

  return {
    ws,
    get pending() {
      return inbox;
    },
    next,
    async untilSynced(timeoutMs) {
      const changes: Json[] = [];
      for (;;) {
        const f = await next(timeoutMs);
        if (f.type === 'synced') return { changes, version: f.version };
        expect(f.type).toBe('change');
        changes.push(f);
      }
    },
    send(frame) {
      ws.send(typeof frame === 'string' ? frame : JSON.stringify(frame));
    },
    closed,
    async close() {
      try {
        ws.close(1000, 'done');
      } catch {
        // already closed
      }
      await Promise.race([closed, sleep(1_000)]);
      finish(1000, 'done');
    },
  };
}

/** The change frames a socket receives next, exactly `n` of them (anything else fails). */
export async function nextChanges(sock: SyncSocket, n: number): Promise<Json[]> {
  const out: Json[] = [];
  while (out.length < n) {
    const f = await sock.next();
    expect(f, `expected a change frame, got ${JSON.stringify(f).slice(0, 200)}`).toMatchObject({ type: 'change' });
    out.push(f);
  }
  return out;
}

/** A change frame without the transport's `type`, to compare with GET /v1/sync's changes. */
export function asChange(frame: Json): Json {
  const { type: _t, ...rest } = frame;
  return rest;
}

export { json };
