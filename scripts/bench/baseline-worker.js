/**
 * Benchmark baseline: a bare module Worker, no framework, no middleware, no logging.
 * It does the same storage operations as the Edgecrew routes it is compared with,
 * so `ours / baseline` is the cost of our framework and pipeline.
 *
 * Bindings (set by scripts/bench/run.mjs): DB (D1, the same migrations as ours),
 * HUB (SQLite-backed Durable Object, class BaselineHub), RL (a rate limiter configured as our
 * RL_PRO), ENVIRONMENT, APP_NAME, APP_VERSION.
 * Modules (lib/workers.mjs): the `argon2id` package and its WASM, named from the repository root.
 *
 * Adding a scenario? Add the matching bare route to ROUTES below, doing the same
 * storage work as our route (same queries, same number of round trips).
 */
import { DurableObject } from 'cloudflare:workers';
import noSimdWasm from '../../node_modules/argon2id/dist/no-simd.wasm';
import simdWasm from '../../node_modules/argon2id/dist/simd.wasm';
// The same argon2id build as src/identity/passwords.ts, its WASM imported as modules (lib/workers.mjs).
import setupArgon2 from '../../node_modules/argon2id/lib/setup.js';

/** src/identity/passwords.ts CURRENT_PARAMS (OWASP): m = 19456 KiB, t = 2, p = 1, 32-byte tag, 16-byte salt. */
const ARGON2 = { memorySize: 19456, passes: 2, parallelism: 1, tagLength: 32 };
let argon2;
const loadArgon2 = () =>
  (argon2 ??= setupArgon2(
    async (imports) => ({ instance: await WebAssembly.instantiate(simdWasm, imports), module: simdWasm }),
    async (imports) => ({ instance: await WebAssembly.instantiate(noSimdWasm, imports), module: noSimdWasm }),
  ));

const BASE_TASK_PAGE = 50;

/**
 * The bare Durable Object. Besides ping(): a task row write/read over RPC (the same round
 * trip as TenantHub.createTask/listTasks, with a minimal write: a change-log row and the
 * task row in one transaction), hibernatable WebSockets with a bare broadcast (the tasks
 * suite's sync baseline), and bare alarms that record their own lateness.
 */
export class BaselineHub extends DurableObject {
  /** The last same-work create's event, sent (in the hub) and not yet marked published. */
  unmarked = undefined;

  constructor(ctx, env) {
    super(ctx, env);
    ctx.blockConcurrencyWhile(async () => {
      ctx.storage.sql.exec(`CREATE TABLE IF NOT EXISTS tasks (id TEXT PRIMARY KEY, data TEXT NOT NULL)`);
      ctx.storage.sql.exec(
        `CREATE TABLE IF NOT EXISTS changes (version INTEGER PRIMARY KEY AUTOINCREMENT, entity_id TEXT NOT NULL, data TEXT)`,
      );
      // The hub's own task tables, indexes and outbox (durable-objects/tenant-hub/schema.ts), for createTaskSameWork.
      ctx.storage.sql.exec(`CREATE TABLE IF NOT EXISTS hub_tasks (id TEXT PRIMARY KEY, data TEXT NOT NULL, status TEXT NOT NULL,
        due_key TEXT, assignee_id TEXT, search TEXT NOT NULL, version INTEGER NOT NULL)`);
      ctx.storage.sql.exec(`CREATE INDEX IF NOT EXISTS hub_tasks_status_idx ON hub_tasks (status, id)`);
      ctx.storage.sql.exec(`CREATE INDEX IF NOT EXISTS hub_tasks_due_idx ON hub_tasks (due_key)`);
      ctx.storage.sql.exec(
        `CREATE INDEX IF NOT EXISTS hub_tasks_assignee_idx ON hub_tasks (assignee_id, id) WHERE assignee_id IS NOT NULL`,
      );
      ctx.storage.sql.exec(`CREATE TABLE IF NOT EXISTS hub_changes (version INTEGER PRIMARY KEY AUTOINCREMENT, entity TEXT NOT NULL,
        entity_id TEXT NOT NULL, op TEXT NOT NULL, data TEXT, occurred_at TEXT NOT NULL)`);
      ctx.storage.sql.exec(`CREATE INDEX IF NOT EXISTS hub_changes_entity_idx ON hub_changes (entity, entity_id, version)`);
      ctx.storage.sql.exec(`CREATE TABLE IF NOT EXISTS hub_outbox (sequence INTEGER PRIMARY KEY AUTOINCREMENT, event TEXT NOT NULL,
        published_at TEXT, attempts INTEGER NOT NULL DEFAULT 0)`);
      ctx.storage.sql.exec(`CREATE INDEX IF NOT EXISTS hub_outbox_pending_idx ON hub_outbox (published_at, sequence)`);
      ctx.storage.sql.exec(`CREATE TABLE IF NOT EXISTS alarms (scheduled INTEGER NOT NULL)`);
      ctx.storage.sql.exec(`CREATE TABLE IF NOT EXISTS alarm_results (scheduled INTEGER NOT NULL, late_ms INTEGER NOT NULL)`);
    });
  }

  /** Same work as TenantHub.ping(): one `SELECT 1` through ctx.storage.sql, over RPC. */
  async ping() {
    const row = this.ctx.storage.sql.exec('SELECT 1 AS one').one();
    return { ok: true, sqlite: row.one };
  }

  /** One transaction: a change-log row, then the task row carrying its version; pushed to any sockets. */
  async createTask(input) {
    const sql = this.ctx.storage.sql;
    const now = new Date().toISOString();
    const id = `tsk_${crypto.randomUUID()}`;
    const task = this.ctx.storage.transactionSync(() => {
      const { version } = sql.exec(`INSERT INTO changes (entity_id, data) VALUES (?, NULL) RETURNING version`, id).one();
      const t = { id, title: input.title, status: 'open', version, createdAt: now, updatedAt: now };
      const data = JSON.stringify(t);
      sql.exec(`INSERT INTO tasks (id, data) VALUES (?, ?)`, id, data);
      sql.exec(`UPDATE changes SET data = ? WHERE version = ?`, data, version);
      return t;
    });
    const sockets = this.ctx.getWebSockets();
    if (sockets.length > 0) {
      const frame = JSON.stringify({
        type: 'change',
        version: task.version,
        entity: 'task',
        entityId: id,
        op: 'upsert',
        data: task,
        occurredAt: now,
      });
      for (const ws of sockets) ws.send(frame);
    }
    return task;
  }

  /**
   * The SQLite work of TenantHub.createTask with nothing around it: in one transaction the previous
   * create's event marked published (the hub hands each write's events to the EVENTS queue right after
   * it, and marks them with the next write's transaction: durable-objects/tenant-hub/outbox.ts), the
   * change-log row, the task row with its list columns, the change's data and the outbox event, which
   * takes its sequence in the same statement. This object has no queue.
   */
  async createTaskSameWork(input) {
    const sql = this.ctx.storage.sql;
    const now = new Date().toISOString();
    const id = `tsk_${crypto.randomUUID()}`;
    const marks = this.unmarked;
    const { task, sequence } = this.ctx.storage.transactionSync(() => {
      if (marks !== undefined)
        sql.exec(
          `UPDATE hub_outbox SET published_at = ? WHERE sequence BETWEEN ? AND ? AND published_at IS NULL`,
          now,
          marks.first,
          marks.last,
        );
      const { version } = sql
        .exec(
          `INSERT INTO hub_changes (entity, entity_id, op, data, occurred_at) VALUES ('task', ?, 'upsert', NULL, ?) RETURNING version`,
          id,
          now,
        )
        .one();
      const t = { id, title: input.title, status: 'open', labels: [], version, createdAt: now, updatedAt: now };
      sql.exec(
        `INSERT INTO hub_tasks (id, data, status, due_key, assignee_id, search, version) VALUES (?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT(id) DO UPDATE SET data = excluded.data, status = excluded.status, due_key = excluded.due_key,
           assignee_id = excluded.assignee_id, search = excluded.search, version = excluded.version`,
        id,
        JSON.stringify(t),
        'open',
        null,
        null,
        `${t.title}\n`.toLowerCase(),
        version,
      );
      sql.exec(`UPDATE hub_changes SET data = ? WHERE version = ?`, JSON.stringify(t), version);
      const event = { id: `evt_${crypto.randomUUID()}`, type: 'task.created', occurredAt: now, sequence: 0, data: { task: t } };
      const row = sql
        .exec(
          `INSERT INTO hub_outbox (sequence, event)
           SELECT n, json_set(?, '$.sequence', n) FROM (SELECT IFNULL((SELECT seq FROM sqlite_sequence WHERE name = 'hub_outbox'), 0) + 1 AS n)
           RETURNING sequence`,
          JSON.stringify(event),
        )
        .one();
      return { task: t, sequence: row.sequence };
    });
    this.unmarked = { first: sequence, last: sequence };
    return task;
  }

  /** The first page of tasks (ORDER BY id, limit + 1 to know whether there is more), parsed. */
  /** One task row by id, parsed (the bare side of `runs get`: one object's state read over RPC). */
  async getTask(id) {
    const row = this.ctx.storage.sql.exec(`SELECT data FROM tasks WHERE id = ?`, id).toArray()[0];
    return row ? JSON.parse(row.data) : null;
  }

  async listTasks(limit = BASE_TASK_PAGE) {
    const rows = this.ctx.storage.sql.exec(`SELECT data FROM tasks ORDER BY id LIMIT ?`, limit + 1).toArray();
    const data = rows.slice(0, limit).map((r) => JSON.parse(r.data));
    return { data, nextCursor: rows.length > limit ? data[data.length - 1].id : null };
  }

  /** Hibernatable WebSocket, like TenantHub.fetch (without catch-up): accepted, then a `synced` frame. */
  async fetch(request) {
    if (request.headers.get('upgrade')?.toLowerCase() !== 'websocket') return new Response('expected a WebSocket upgrade', { status: 426 });
    const pair = new WebSocketPair();
    this.ctx.acceptWebSocket(pair[1]);
    pair[1].send('{"type":"synced","version":0}');
    return new Response(null, { status: 101, webSocket: pair[0] });
  }

  /** The bare broadcast: the same frame (string) to every socket of this object. */
  async broadcast(frame) {
    const sockets = this.ctx.getWebSockets();
    for (const ws of sockets) {
      try {
        ws.send(frame);
      } catch {
        // a closing socket: skip it, like the hub does
      }
    }
    return sockets.length;
  }

  async webSocketMessage() {}

  async webSocketClose(ws, code) {
    try {
      ws.close(code === 1005 ? 1000 : code, 'bye');
    } catch {
      // already closed
    }
  }

  /** Bare alarms: records the times, one alarm at the earliest (as the hub arms one at its next reminder). */
  async scheduleAlarms(times) {
    const sql = this.ctx.storage.sql;
    for (const t of times) sql.exec(`INSERT INTO alarms (scheduled) VALUES (?)`, t);
    await this.#arm();
    return times.length;
  }

  async #arm() {
    const next = this.ctx.storage.sql.exec(`SELECT MIN(scheduled) AS t FROM alarms`).one().t;
    if (next === null) await this.ctx.storage.deleteAlarm();
    else await this.ctx.storage.setAlarm(next);
  }

  /** Records Date.now() - scheduled for every due time, tells the sockets, re-arms. */
  async alarm() {
    const now = Date.now();
    const sql = this.ctx.storage.sql;
    const due = sql.exec(`SELECT scheduled FROM alarms WHERE scheduled <= ? ORDER BY scheduled`, now).toArray();
    for (const { scheduled } of due) {
      sql.exec(`INSERT INTO alarm_results (scheduled, late_ms) VALUES (?, ?)`, scheduled, now - scheduled);
      const frame = JSON.stringify({ type: 'alarm', scheduled, lateMs: now - scheduled });
      for (const ws of this.ctx.getWebSockets()) ws.send(frame);
    }
    sql.exec(`DELETE FROM alarms WHERE scheduled <= ?`, now);
    await this.#arm();
  }

  async alarmResults() {
    return this.ctx.storage.sql.exec(`SELECT scheduled, late_ms AS lateMs FROM alarm_results ORDER BY scheduled`).toArray();
  }

  /**
   * Bare webhook sends (the webhooks suite's baseline): `count` Standard Webhooks deliveries to `url`,
   * `concurrency` in flight, each body signed with HMAC-SHA256 under `secret` (the key imported once,
   * as ours is) and POSTed from this object, as the tenant's hub sends its first attempts. No commit,
   * no outbox, no delivery rows: what one object of this workerd can send to that receiver.
   */
  async sendWebhooks({ url, secret, count, concurrency }) {
    const raw = Uint8Array.from(atob(secret.replace(/^whsec_/, '')), (c) => c.charCodeAt(0));
    const key = await crypto.subtle.importKey('raw', raw, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
    const encoder = new TextEncoder();
    let next = 0;
    let failed = 0;
    const sendOne = async (i) => {
      const id = `evt_bare_${i}`;
      const timestamp = Math.floor(Date.now() / 1000);
      const body = JSON.stringify({
        id,
        type: 'task.created',
        timestamp: new Date().toISOString(),
        tenantId: 'bare',
        sequence: i + 1,
        data: { task: { id: `tsk_bare_${i}` } },
      });
      const mac = new Uint8Array(await crypto.subtle.sign('HMAC', key, encoder.encode(`${id}.${timestamp}.${body}`)));
      const res = await fetch(url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'webhook-id': id,
          'webhook-timestamp': String(timestamp),
          'webhook-signature': `v1,${btoa(String.fromCharCode(...mac))}`,
        },
        body,
      }).catch(() => null);
      await res?.body?.cancel();
      if (!res?.ok) failed += 1;
    };
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (next < count) await sendOne(next++);
      }),
    );
    return { sent: count, failed };
  }
}

const JSON_HEADERS = { 'content-type': 'application/json', 'cache-control': 'no-store' };
const json = (body, status = 200) => new Response(JSON.stringify(body), { status, headers: JSON_HEADERS });

/** Same timing/shape as our readiness checks, without the timeout race. */
async function check(run) {
  const started = Date.now();
  try {
    await run();
    return { status: 'ok', latencyMs: Date.now() - started };
  } catch {
    return { status: 'fail', latencyMs: Date.now() - started, error: 'check failed' };
  }
}

const d1Select1 = (env) => env.DB.prepare('select 1').run();
const doPing = (env) => env.HUB.get(env.HUB.idFromName('__health__')).ping();
/** The bare object for `?room=` (the baseline's stand-in for a tenant's hub). */
const room = (req, env) => env.HUB.get(env.HUB.idFromName(`room:${new URL(req.url).searchParams.get('room') ?? 'default'}`));

/**
 * `?rl=1`: the route first charges RL once, keyed like our per-tenant budget (src/lib/caller-limit.ts),
 * as every authenticated request of ours does: the "(limiter in both)" scenarios. Answers 429 when over.
 */
async function charged(req, env, route) {
  const url = new URL(req.url);
  if (url.searchParams.get('rl') !== '1') return route(req, env);
  const key = url.searchParams.get('room') ?? url.searchParams.get('id') ?? 'default';
  const { success } = await env.RL.limit({ key: `tenant:${key}` });
  return success ? route(req, env) : json({ status: 429, title: 'Too many requests' }, 429);
}

const ROUTES = {
  'GET /health': (_req, env) =>
    json({
      status: 'ok',
      name: env.APP_NAME,
      version: env.APP_VERSION,
      commit: null,
      environment: env.ENVIRONMENT,
      time: new Date().toISOString(),
    }),
  'GET /d1': async (_req, env) => {
    await d1Select1(env);
    return json({ status: 'ok' });
  },
  'GET /do': async (_req, env) => json(await doPing(env)),
  'GET /ready': async (_req, env) => {
    const [d1, durableObject] = await Promise.all([check(() => d1Select1(env)), check(() => doPing(env))]);
    const ok = d1.status === 'ok' && durableObject.status === 'ok';
    return json({ status: ok ? 'ok' : 'fail', checks: { d1, durableObject } }, ok ? 200 : 503);
  },
  /** One argon2id hash with our parameters of the body's password and a fresh salt (login's hashing cost, nothing else). */
  'POST /argon2': async (req) => {
    const { password } = await req.json();
    const hash = await loadArgon2();
    const tag = hash({
      password: new TextEncoder().encode(String(password).normalize('NFKC')),
      salt: crypto.getRandomValues(new Uint8Array(16)),
      ...ARGON2,
    });
    return json({ ok: true, tagBytes: tag.length });
  },
  /** The D1 read of GET /v1/tenant, with no credential: the tenant row by id. */
  'GET /tenant': async (req, env) => {
    const id = new URL(req.url).searchParams.get('id');
    const row = await env.DB.prepare('SELECT * FROM tenants WHERE id = ?').bind(id).first();
    return row
      ? json({ id: row.id, name: row.name, plan: row.plan, createdAt: row.created_at, updatedAt: row.updated_at })
      : json({ status: 404 }, 404);
  },
  'POST /tasks': async (req, env) => json(await room(req, env).createTask(await req.json()), 201),
  'GET /tasks': async (req, env) => json(await room(req, env).listTasks()),
  'GET /task': async (req, env) => {
    const task = await room(req, env).getTask(new URL(req.url).searchParams.get('id'));
    return task ? json(task) : json({ status: 404 }, 404);
  },
  'POST /tasks-same-work': async (req, env) => json(await room(req, env).createTaskSameWork(await req.json()), 201),
  /** Hibernatable WebSocket on the room's object. */
  'GET /ws': (req, env) => room(req, env).fetch(new Request(req.url, { headers: { upgrade: 'websocket' } })),
  /** The body (a frame, as text) to every socket of the room; answers how many. */
  'POST /broadcast': async (req, env) => json({ sockets: await room(req, env).broadcast(await req.text()) }),
  'POST /alarms': async (req, env) => json({ scheduled: await room(req, env).scheduleAlarms((await req.json()).times) }),
  'GET /alarms': async (req, env) => json(await room(req, env).alarmResults()),
  /** `{ url, secret, count, concurrency }`: bare signed webhook sends from the room's object (sendWebhooks). */
  'POST /webhook-sends': async (req, env) => json(await room(req, env).sendWebhooks(await req.json())),
};

/** The routes standing for authenticated ones of ours: they take `?rl=1` (charged, above). */
const CHARGEABLE = new Set(['GET /tenant', 'POST /tasks', 'GET /tasks', 'POST /tasks-same-work']);

export default {
  async fetch(request, env) {
    const name = `${request.method} ${new URL(request.url).pathname}`;
    const route = ROUTES[name];
    if (route === undefined) return json({ status: 404, title: 'Not found' }, 404);
    return CHARGEABLE.has(name) ? charged(request, env, route) : route(request, env);
  },
};
