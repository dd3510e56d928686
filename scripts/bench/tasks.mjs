/**
 * Tasks in `npm run bench` (issue 4, item 8), side by side with the bare baseline in one run.
 *
 * Scenarios (autocannon, like the other HTTP rows; in run.mjs's main table):
 *   tasks create   POST /v1/tasks            vs the bare Worker's DO round trip with a row write (POST /tasks)
 *   tasks create (same SQLite work)   POST /v1/tasks vs a bare DO doing the hub's statements on its
 *                  tables and indexes, outbox included (POST /tasks-same-work)
 *   tasks list     GET /v1/tasks (50 a page) vs the bare DO reading and parsing 50 rows (GET /tasks)
 *   Both rotate over BENCH_TENANTS pro tenants (and as many baseline objects).
 *
 * The `tasks` suite (`--only tasks`; after the HTTP scenarios, like `flows`):
 *   sync        write-to-receipt latency with N WebSockets on one tenant (BENCH_SYNC_SIZES,
 *               default 2,50,1000): connect N sockets to GET /v1/sync/ws (Authorization header), POST
 *               /v1/tasks, and time each socket's receipt of that change from the POST's start.
 *               Baseline: a bare Durable Object (baseline-worker.js) with N hibernatable sockets,
 *               POST /broadcast of the same frame. BENCH_SYNC_REPS (20) per side per size,
 *               alternating ABBA after 2 warm-ups each.
 *   reminders   BENCH_REMINDERS (20) tasks whose `{ at }` reminder fires 2 s ahead (400 ms
 *               apart), lateness = the notification's arrival on a socket − its fireAt; baseline:
 *               a bare DO alarm at interleaved instants, lateness recorded in the alarm handler
 *               (Date.now() − scheduled) and on arrival at a socket.
 *
 * Goals (issue 4): sync p99 < 50 ms at 50 sockets; at 1,000 sockets p99 within 1.5x the bare
 * broadcast; reminder lateness p99 < 250 ms.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import WebSocket from 'ws';
import { cpuBetween, sampleCpu } from './lib/cpu.mjs';
import { markdownTable } from './lib/report.mjs';
import { benchTenantCount, mapLimit, rotate, seedApiKeyTenant, signupTenant } from './lib/tenants.mjs';

export const TASKS_SUITE = 'tasks';

const NOISY_FOREIGN_PCT = 15;
const WARMUP_REPS = 2;
const RECEIPT_TIMEOUT_MS = 10_000;
const CONNECT_TIMEOUT_MS = 15_000;
const CONNECT_BATCH = 50;
const SETTLE_MS = 100;
const REMINDER_LEAD_MS = 2_000;
const REMINDER_SPACING_MS = 400;
const LIST_SEED = 60;
const JSON_CT = { 'content-type': 'application/json' };

const intEnv = (name, fallback, min, max) => {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const v = Number(raw);
  if (!Number.isInteger(v) || v < min || v > max)
    throw Object.assign(new Error(`${name} must be an integer in [${min}, ${max}], got ${JSON.stringify(raw)}`), {
      benchReport: 'message',
    });
  return v;
};

function suiteConfig() {
  const rawSizes = process.env.BENCH_SYNC_SIZES;
  const sizes = (rawSizes === undefined || rawSizes === '' ? '2,50,1000' : rawSizes).split(',').map((s) => Number(s.trim()));
  if (sizes.some((n) => !Number.isInteger(n) || n < 1 || n > 5000))
    throw Object.assign(new Error(`BENCH_SYNC_SIZES must be comma-separated integers in [1, 5000], got ${JSON.stringify(rawSizes)}`), {
      benchReport: 'message',
    });
  return {
    sizes: [...new Set(sizes)].sort((a, b) => a - b),
    reps: intEnv('BENCH_SYNC_REPS', 20, 1, 200),
    reminders: intEnv('BENCH_REMINDERS', 20, 1, 200),
  };
}

/** Seconds the suite may take at most (the runner's watchdog). */
export function tasksBudgetS() {
  const { sizes, reps, reminders } = suiteConfig();
  const maxN = sizes.at(-1) ?? 0;
  // Connecting (both sides), then per size (reps + warm-ups) x 2 sides each bounded by the receipt timeout in theory, far less in practice.
  return Math.ceil(
    60 + (2 * maxN) / 20 + sizes.length * (reps + WARMUP_REPS) * 2 * 1.5 + (REMINDER_LEAD_MS + reminders * REMINDER_SPACING_MS) / 1000 + 30,
  );
}

// ---------------------------------------------------------------------------
// throughput scenarios (run.mjs's main table)
// ---------------------------------------------------------------------------

async function apiKeyTenants(ctx, label) {
  const tenants = [];
  for (let i = 0; i < benchTenantCount(); i++) tenants.push(await seedApiKeyTenant(ctx.ours, ctx.pepper, label));
  const rooms = tenants.map((_, i) => `${label}-${i}-${randomBytes(3).toString('hex')}`);
  return { keys: tenants.map((t) => t.key), rooms };
}

const bearerRotation = (keys) =>
  rotate(
    keys.map((k) => `Bearer ${k}`),
    (req, auth) => ((req.headers.authorization = auth), req),
  );
const roomRotation = (rooms, path) => rotate(rooms, (req, room) => ((req.path = `${path}?room=${room}`), req));

const CREATE_BODY = '{"title":"bench task"}';

/**
 * POST /v1/tasks over BENCH_TENANTS API-key tenants against a bare route (`basePath`) over as many
 * bare objects; the create rows differ only in the bare side's work.
 * @returns {import('./lib/types').Scenario}
 */
function createScenario({ name, breakdown, label, basePath, note }) {
  return {
    name,
    breakdown,
    setup: (ctx) => apiKeyTenants(ctx, label),
    ours: (s) => ({
      method: 'POST',
      path: '/v1/tasks',
      headers: { ...JSON_CT, authorization: `Bearer ${s.keys[0]}` },
      body: CREATE_BODY,
      perRequest: bearerRotation(s.keys),
    }),
    base: (s) => ({
      method: 'POST',
      path: `${basePath}?room=${s.rooms[0]}`,
      headers: JSON_CT,
      body: CREATE_BODY,
      perRequest: roomRotation(s.rooms, basePath),
    }),
    note,
  };
}

/** @type {import('./lib/types').Scenario[]} */
export const taskScenarios = [
  createScenario({
    name: 'tasks create',
    breakdown: true,
    label: 'create',
    basePath: '/tasks',
    note: "POST /v1/tasks (auth, validation, TenantHub.createTask: task row, change log, outbox event, reminders, publish) over BENCH_TENANTS pro tenants vs the bare Worker's DO round trip writing a change row and a task row in one transaction, over as many objects.",
  }),
  createScenario({
    name: 'tasks create (same SQLite work)',
    breakdown: false,
    label: 'create-same',
    basePath: '/tasks-same-work',
    note: "POST /v1/tasks as in `tasks create`, against a bare DO doing TenantHub.createTask's SQLite work on the hub's own tables and indexes: in one transaction the previous create's event marked published, the change row, task row, change data and outbox event (one statement), as the hub does. What the ratio leaves out is ours beyond those statements: the Worker's pipeline, the alarm and schedule bookkeeping, the queue hand-off and its consumer.",
  }),
  {
    name: 'tasks list',
    breakdown: true,
    setup: async (ctx) => {
      const s = await apiKeyTenants(ctx, 'list');
      const jobs = s.keys.flatMap((key, i) => Array.from({ length: LIST_SEED }, (_, j) => ({ key, room: s.rooms[i], j })));
      await mapLimit(jobs, 8, async ({ key, room, j }) => {
        const body = JSON.stringify({ title: `bench list task ${j}` });
        const [o, b] = await Promise.all([
          ctx.ours.fetch('/v1/tasks', { method: 'POST', headers: { ...JSON_CT, authorization: `Bearer ${key}` }, body }),
          ctx.base.fetch(`/tasks?room=${room}`, { method: 'POST', headers: JSON_CT, body }),
        ]);
        if (o.status !== 201 || b.status !== 201)
          throw new Error(`bench: seeding tasks answered ${o.status}/${b.status}: ${(await o.text()).slice(0, 200)}`);
        await Promise.all([o.arrayBuffer(), b.arrayBuffer()]);
      });
      return s;
    },
    ours: (s) => ({ path: '/v1/tasks', headers: { authorization: `Bearer ${s.keys[0]}` }, perRequest: bearerRotation(s.keys) }),
    base: (s) => ({ path: `/tasks?room=${s.rooms[0]}`, perRequest: roomRotation(s.rooms, '/tasks') }),
    note: `GET /v1/tasks (first page of 50 of ${LIST_SEED} tasks) over BENCH_TENANTS pro tenants vs the bare DO reading and parsing 50 rows of its own ${LIST_SEED}.`,
  },
];

// ---------------------------------------------------------------------------
// the suite: sync fan-out and reminder lateness
// ---------------------------------------------------------------------------

/** Open file descriptors this process may have: its soft limit, which a child shell inherits (Node raised it to the hard one at start). */
function fdLimit() {
  const r = spawnSync('sh', ['-c', 'ulimit -n'], { encoding: 'utf8', timeout: 5_000 });
  const n = Number(r.stdout?.trim());
  return r.status === 0 && Number.isFinite(n) ? n : r.stdout?.trim() === 'unlimited' ? Infinity : null;
}

/**
 * WebSockets to one tenant (ours) or one bare object (base), each delivering frames to
 * `onFrame(frame, atMs)` with the receipt time taken before parsing.
 */
class SocketPool {
  constructor(name, urlFor, headers = {}) {
    this.name = name;
    this.urlFor = urlFor;
    // Node can set handshake headers, so the credential goes in Authorization (URLs may not carry one).
    this.headers = headers;
    this.sockets = [];
    this.version = 0;
    this.onFrame = null;
    this.closedUnexpectedly = 0;
    this.template = null;
  }

  async grow(n) {
    while (this.sockets.length < n) {
      const batch = Math.min(CONNECT_BATCH, n - this.sockets.length);
      const opened = await Promise.all(Array.from({ length: batch }, () => this.#connect()));
      this.sockets.push(...opened);
    }
  }

  #connect() {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(this.urlFor(this.version), {
        perMessageDeflate: false,
        handshakeTimeout: CONNECT_TIMEOUT_MS,
        headers: this.headers,
      });
      const timer = setTimeout(
        () => (ws.terminate(), reject(new Error(`${this.name}: no 'synced' frame within ${CONNECT_TIMEOUT_MS} ms`))),
        CONNECT_TIMEOUT_MS,
      );
      let synced = false;
      ws.on('message', (data) => {
        const at = performance.now();
        const text = data.toString();
        const frame = JSON.parse(text);
        if (!synced) {
          if (frame.type === 'synced') {
            synced = true;
            clearTimeout(timer);
            resolve(ws);
          }
          return;
        }
        if (frame.type === 'change' && typeof frame.version === 'number' && frame.version > this.version) this.version = frame.version;
        if (this.template === null && frame.type === 'change' && frame.entity === 'task') this.template = text;
        this.onFrame?.(frame, at);
      });
      ws.on(
        'unexpected-response',
        (_req, res) => (clearTimeout(timer), reject(new Error(`${this.name}: upgrade answered ${res.statusCode}`))),
      );
      ws.on('error', (err) => (clearTimeout(timer), synced ? undefined : reject(err)));
      ws.on('close', () => {
        if (synced && !this.closing) this.closedUnexpectedly++;
      });
    });
  }

  async close() {
    this.closing = true;
    await Promise.all(
      this.sockets.map(
        (ws) =>
          new Promise((resolve) => {
            if (ws.readyState === WebSocket.CLOSED) return resolve();
            const t = setTimeout(() => (ws.terminate(), resolve()), 2_000);
            ws.once('close', () => (clearTimeout(t), resolve()));
            ws.close(1000, 'bench done');
          }),
      ),
    );
  }
}

/** Waits for `expected` frames matching `match` on the pool; resolves with their receipt times (partial on timeout). */
function expectFrames(pool, expected, match) {
  const times = [];
  let resolveFn;
  const done = new Promise((r) => (resolveFn = r));
  const timer = setTimeout(() => resolveFn(), RECEIPT_TIMEOUT_MS);
  pool.onFrame = (frame, at) => {
    if (!match(frame)) return;
    times.push(at);
    if (times.length >= expected) resolveFn();
  };
  return done.then(() => {
    clearTimeout(timer);
    pool.onFrame = null;
    return times;
  });
}

/**
 * @param {{ ours: { url: string, db: any, fetch: Function }, base: { url: string, fetch: Function }, log: (m: string) => void,
 *           memoryPoint?: (label: string, units?: { count: { sockets: number } }) => Promise<unknown> }} o
 *   memoryPoint: the bench's memory point (lib/heap.mjs), taken with each size's sockets open.
 */
export async function runTasksSuite({ ours, base, log, memoryPoint = async () => {} }) {
  const cfg = suiteConfig();
  const limit = fdLimit();
  // Each socket is one fd here (and one in workerd, a child of this process); both sides are open at once.
  const perSocketFds = 2;
  const maxSockets = limit === null || limit === Infinity ? Infinity : Math.floor((limit - 512) / (2 * perSocketFds));
  const sizes = cfg.sizes.filter((n) => n <= maxSockets);
  const capped = cfg.sizes.filter((n) => n > maxSockets);
  if (capped.length)
    log(
      `bench: tasks: WARNING ulimit -n is ${limit}: skipping ${capped.join(', ')} sockets (Node raises its soft limit to the hard one by itself, so raise the hard limit: e.g. \`ulimit -n 20000\` as root, or nofile in /etc/security/limits.conf)`,
    );

  // ---- sync -----------------------------------------------------------------
  const tenant = await signupTenant(ours, { label: 'sync' });
  const wsOrigin = (url) => url.replace(/^http/, 'ws').replace(/\/$/, '');
  const room = `sync-${randomBytes(3).toString('hex')}`;
  const pools = {
    ours: new SocketPool('ours', (since) => `${wsOrigin(ours.url)}/v1/sync/ws?since=${since}`, {
      authorization: `Bearer ${tenant.accessToken}`,
    }),
    base: new SocketPool('base', () => `${wsOrigin(base.url)}/ws?room=${room}`),
  };
  log(
    `bench: tasks: sync on tenant ${tenant.tenantId} (plan pro, one access token), ${cfg.reps} measured reps per side per size after ${WARMUP_REPS} warm-ups; sizes ${sizes.join(', ')} (fd limit ${limit})`,
  );

  const post = {
    ours: (nonce) =>
      ours.fetch('/v1/tasks', {
        method: 'POST',
        headers: { ...JSON_CT, authorization: `Bearer ${tenant.accessToken}` },
        body: JSON.stringify({ title: nonce }),
        signal: AbortSignal.timeout(RECEIPT_TIMEOUT_MS),
      }),
    base: (nonce) => {
      // The same frame ours pushes (captured from its first warm-up), with this rep's nonce as the title.
      const frame = JSON.parse(pools.ours.template);
      frame.data.title = nonce;
      return base.fetch(`/broadcast?room=${room}`, {
        method: 'POST',
        headers: { 'content-type': 'text/plain' },
        body: JSON.stringify(frame),
        signal: AbortSignal.timeout(RECEIPT_TIMEOUT_MS),
      });
    },
  };

  async function measure(side, n, label) {
    const nonce = `sync ${label} ${randomBytes(4).toString('hex')}`;
    const received = expectFrames(pools[side], n, (f) => f.type === 'change' && f.data?.title === nonce);
    const t0 = performance.now();
    let status = 0;
    let postMs = null;
    try {
      const res = await post[side](nonce);
      status = res.status;
      await res.arrayBuffer();
      postMs = performance.now() - t0;
    } catch (err) {
      status = String(err?.name ?? 'error');
    }
    const times = await received;
    const lat = times.map((t) => t - t0).sort((a, b) => a - b);
    return { status, postMs, lat, missing: n - lat.length };
  }

  const sync = [];
  try {
    for (const n of sizes) {
      const c0 = performance.now();
      await Promise.all([pools.ours.grow(n), pools.base.grow(n)]);
      log(`bench: tasks: sync ${n} sockets per side connected in ${Math.round(performance.now() - c0)} ms`);
      const samples = { ours: [], base: [] };
      const cpu0 = sampleCpu();
      for (let rep = -WARMUP_REPS; rep < cfg.reps; rep++) {
        // Warm-ups: ours first (its first frame is the baseline's payload); then ABBA.
        const order = rep < 0 || rep % 2 === 0 ? ['ours', 'base'] : ['base', 'ours'];
        for (const side of order) {
          const r = await measure(side, n, `${n}-${rep}`);
          if (rep >= 0) samples[side].push(r);
          await sleep(SETTLE_MS);
        }
      }
      const row = summarizeSync(n, samples, cpuBetween(cpu0, sampleCpu()));
      sync.push(row);
      // With this size's sockets still open on both sides (lib/heap.mjs).
      await memoryPoint(`${n} sockets open per side`, { count: { sockets: n } });
      log(
        `bench: tasks:   ${n} sockets: ours p50 ${row.ours.p50Ms} p99 ${row.ours.p99Ms} ms (all served p99 ${row.ours.allServedP99Ms}) | base p50 ${row.base.p50Ms} p99 ${row.base.p99Ms} ms (all served p99 ${row.base.allServedP99Ms}) | missing ${row.ours.missing}/${row.base.missing}, errors ${row.ours.errors}/${row.base.errors}`,
      );
    }
  } finally {
    await Promise.all([pools.ours.close(), pools.base.close()]);
  }

  // ---- reminders --------------------------------------------------------------
  const reminders = await measureReminders({ ours, base, cfg, log, wsOrigin });

  const at50 = sync.find((r) => r.sockets === 50);
  const at1000 = sync.find((r) => r.sockets === 1000);
  return {
    note: 'sync: latency = POST start → receipt of that change on each socket (client clock, loopback); all served = the last socket of a rep. Baseline: a bare DO with as many hibernatable sockets, POST /broadcast of the same frame. reminders: arrival of the reminder notification on a socket − its fireAt; baseline: a bare DO alarm, Date.now() − scheduled in the handler and arrival on a socket − scheduled.',
    config: {
      ...cfg,
      sizesRun: sizes,
      sizesSkipped: capped,
      fdLimit: limit === Infinity ? 'unlimited' : limit,
      warmupReps: WARMUP_REPS,
      perMessageDeflate: false,
      client: 'ws (one Node process)',
    },
    sync,
    reminders,
    goals: {
      sync50P99Under50Ms: at50
        ? { met: at50.ours.p99Ms !== null && at50.ours.p99Ms < 50 && at50.ours.missing === 0, oursP99Ms: at50.ours.p99Ms }
        : null,
      sync1000Within1_5xBare: at1000
        ? {
            met: at1000.ratioP99 !== null && at1000.ratioP99 <= 1.5 && at1000.ours.missing === 0,
            ratioP99: at1000.ratioP99,
            ratioAllServedP99: at1000.ratioAllServedP99,
          }
        : null,
      reminderP99Under250Ms: {
        met: reminders.ours.p99Ms !== null && reminders.ours.p99Ms < 250 && reminders.ours.missing === 0,
        oursP99Ms: reminders.ours.p99Ms,
      },
    },
  };
}

async function measureReminders({ ours, base, cfg, log, wsOrigin }) {
  const tenant = await signupTenant(ours, { label: 'remind' });
  const room = `alarms-${randomBytes(3).toString('hex')}`;
  const pools = {
    ours: new SocketPool('ours reminders', (since) => `${wsOrigin(ours.url)}/v1/sync/ws?since=${since}`, {
      authorization: `Bearer ${tenant.accessToken}`,
    }),
    base: new SocketPool('base alarms', () => `${wsOrigin(base.url)}/ws?room=${room}`),
  };
  await Promise.all([pools.ours.grow(1), pools.base.grow(1)]);
  const now = () => performance.timeOrigin + performance.now();
  const arrivals = { ours: [], base: [] };
  pools.ours.onFrame = (f) => {
    if (f.type === 'change' && f.entity === 'notification' && f.data?.kind === 'reminder')
      arrivals.ours.push({ at: now(), fireAt: Date.parse(f.data.fireAt), taskId: f.data.taskId });
  };
  pools.base.onFrame = (f) => {
    if (f.type === 'alarm') arrivals.base.push({ at: now(), fireAt: f.scheduled, inDoMs: f.lateMs });
  };
  const n = cfg.reminders;
  const t0 = Math.ceil(now()) + REMINDER_LEAD_MS;
  // Interleaved: ours at t0 + i·400 ms, the bare alarms half-way between, so neither waits on the other.
  const oursTimes = Array.from({ length: n }, (_, i) => t0 + i * REMINDER_SPACING_MS);
  const baseTimes = oursTimes.map((t) => t + REMINDER_SPACING_MS / 2);
  log(
    `bench: tasks: reminders: ${n} per side, the first ${REMINDER_LEAD_MS} ms ahead, ${REMINDER_SPACING_MS} ms apart (bare alarms interleaved)`,
  );
  const cpu0 = sampleCpu();
  const created = await mapLimit(oursTimes, 4, async (t, i) => {
    const res = await ours.fetch('/v1/tasks', {
      method: 'POST',
      headers: { ...JSON_CT, authorization: `Bearer ${tenant.accessToken}` },
      body: JSON.stringify({ title: `reminder ${i}`, reminders: [{ at: new Date(t).toISOString() }] }),
      signal: AbortSignal.timeout(RECEIPT_TIMEOUT_MS),
    });
    const text = await res.text();
    // A task committed after its own fire time would measure the create, not the alarm.
    return {
      status: res.status,
      id: res.status === 201 ? JSON.parse(text).id : null,
      committedBeforeFire: now() < t,
      error: res.status === 201 ? null : text.slice(0, 200),
    };
  });
  const sched = await base.fetch(`/alarms?room=${room}`, { method: 'POST', headers: JSON_CT, body: JSON.stringify({ times: baseTimes }) });
  const baseScheduled = sched.status === 200;
  await sched.arrayBuffer();
  const deadline = baseTimes.at(-1) + RECEIPT_TIMEOUT_MS;
  while (now() < deadline && (arrivals.ours.length < created.filter((c) => c.id).length || arrivals.base.length < (baseScheduled ? n : 0)))
    await sleep(50);
  const cpu = cpuBetween(cpu0, sampleCpu());
  const inDo = await (await base.fetch(`/alarms?room=${room}`)).json();
  await Promise.all([pools.ours.close(), pools.base.close()]);

  const valid = new Set(created.filter((c) => c.id && c.committedBeforeFire).map((c) => c.id));
  const oursLate = arrivals.ours.filter((a) => valid.has(a.taskId)).map((a) => a.at - a.fireAt);
  const row = {
    reminders: n,
    ours: {
      ...stats(oursLate),
      missing: created.filter((c) => c.id).length - arrivals.ours.length,
      errors: created.filter((c) => !c.id).length,
      excludedCommittedLate: created.filter((c) => c.id && !c.committedBeforeFire).length,
      firstErrors: created
        .filter((c) => c.error)
        .slice(0, 3)
        .map((c) => c.error),
    },
    baseInDo: { ...stats(inDo.map((r) => r.lateMs)), missing: baseScheduled ? n - inDo.length : n },
    baseSocket: { ...stats(arrivals.base.map((a) => a.at - a.fireAt)), missing: baseScheduled ? n - arrivals.base.length : n },
    cpu,
    noisy: cpu !== null && cpu.foreignPct > NOISY_FOREIGN_PCT,
  };
  log(
    `bench: tasks:   reminder → socket p50 ${row.ours.p50Ms} p99 ${row.ours.p99Ms} ms (missing ${row.ours.missing}) | bare alarm in-DO p50 ${row.baseInDo.p50Ms} p99 ${row.baseInDo.p99Ms} ms, → socket p99 ${row.baseSocket.p99Ms} ms`,
  );
  return row;
}

function summarizeSync(n, samples, cpu) {
  const side = (xs) => {
    const lat = xs.flatMap((r) => r.lat).sort((a, b) => a - b);
    const all = xs
      .filter((r) => r.missing === 0)
      .map((r) => r.lat.at(-1))
      .sort((a, b) => a - b);
    const post = xs
      .map((r) => r.postMs)
      .filter((v) => v !== null)
      .sort((a, b) => a - b);
    return {
      reps: xs.length,
      samples: lat.length,
      p50Ms: pct(lat, 50),
      p99Ms: pct(lat, 99),
      maxMs: lat.length ? round(lat.at(-1)) : null,
      allServedP50Ms: pct(all, 50),
      allServedP99Ms: pct(all, 99),
      postP50Ms: pct(post, 50),
      missing: xs.reduce((s, r) => s + r.missing, 0),
      errors: xs.filter((r) => r.status !== 201 && r.status !== 200).length,
      statuses: [...new Set(xs.map((r) => r.status))],
    };
  };
  const ours = side(samples.ours);
  const base = side(samples.base);
  return {
    sockets: n,
    ours,
    base,
    ratioP50: ours.p50Ms && base.p50Ms ? round(ours.p50Ms / base.p50Ms) : null,
    ratioP99: ours.p99Ms && base.p99Ms ? round(ours.p99Ms / base.p99Ms) : null,
    ratioAllServedP99: ours.allServedP99Ms && base.allServedP99Ms ? round(ours.allServedP99Ms / base.allServedP99Ms) : null,
    cpu,
    noisy: cpu !== null && cpu.foreignPct > NOISY_FOREIGN_PCT,
  };
}

export function formatTasksTables(report) {
  const f = (v) => (v === null || v === undefined ? '-' : Math.abs(v) < 10 ? v.toFixed(2) : v.toFixed(1));
  const g = report.goals;
  const verdict = (goal) => (goal === null ? 'not run' : goal.met ? 'met' : 'NOT met');
  const sync = markdownTable(
    [
      'tasks: sync write→receipt',
      'ours p50',
      'base p50',
      'ours p99',
      'base p99',
      'p99 ratio',
      'ours all p99',
      'base all p99',
      'all ratio',
      'ours POST p50',
      'missing',
      'errors',
    ],
    report.sync.map((r) => [
      `${r.sockets} sockets${r.noisy ? ' (!)' : ''}`,
      `${f(r.ours.p50Ms)} ms`,
      `${f(r.base.p50Ms)} ms`,
      `${f(r.ours.p99Ms)} ms`,
      `${f(r.base.p99Ms)} ms`,
      f(r.ratioP99),
      `${f(r.ours.allServedP99Ms)} ms`,
      `${f(r.base.allServedP99Ms)} ms`,
      f(r.ratioAllServedP99),
      `${f(r.ours.postP50Ms)} ms`,
      `${r.ours.missing}/${r.base.missing}`,
      `${r.ours.errors}/${r.base.errors}`,
    ]),
  );
  const r = report.reminders;
  const rem = markdownTable(
    [`tasks: reminder lateness${r.noisy ? ' (!)' : ''}`, 'p50', 'p99', 'max', 'n', 'missing'],
    [
      ['ours: notification on a socket − fireAt', r.ours, r.ours.missing],
      ['base: bare alarm, in the handler', r.baseInDo, r.baseInDo.missing],
      ['base: bare alarm, on a socket', r.baseSocket, r.baseSocket.missing],
    ].map(([label, s, missing]) => [label, `${f(s.p50Ms)} ms`, `${f(s.p99Ms)} ms`, `${f(s.maxMs)} ms`, String(s.n), String(missing)]),
  );
  return [
    sync,
    '',
    "latency: POST start → each socket's receipt of that change (p50/p99 over every socket of every rep); all = the last socket of a rep (p99 over reps). ratio = ours ÷ base (lower is better for us). base = bare DO broadcasting the same frame to as many hibernatable sockets (POST /broadcast). missing/errors = ours/base.",
    '',
    rem,
    '',
    `goals: sync p99 < 50 ms at 50 sockets: ${verdict(g.sync50P99Under50Ms)}${g.sync50P99Under50Ms ? ` (${f(g.sync50P99Under50Ms.oursP99Ms)} ms)` : ''}; 1,000 sockets within 1.5x the bare broadcast (p99): ${verdict(g.sync1000Within1_5xBare)}${g.sync1000Within1_5xBare ? ` (${f(g.sync1000Within1_5xBare.ratioP99)}x; all served ${f(g.sync1000Within1_5xBare.ratioAllServedP99)}x)` : ''}; reminder p99 < 250 ms: ${verdict(g.reminderP99Under250Ms)} (${f(g.reminderP99Under250Ms.oursP99Ms)} ms).`,
    ...(report.sync.some((x) => x.noisy) || r.noisy
      ? ['(!) other processes used a noticeable share of the CPU: absolute numbers are high; ratios are approximate.']
      : []),
  ].join('\n');
}

/** Whether the suite had errors or lost messages (the runner exits 1). */
export function tasksFailed(report) {
  const r = report.reminders;
  return (
    report.sync.some((x) => x.ours.errors || x.base.errors || x.ours.missing || x.base.missing) ||
    r.ours.errors > 0 ||
    r.ours.missing > 0 ||
    r.baseInDo.missing > 0
  );
}

function stats(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return { n: s.length, p50Ms: pct(s, 50), p99Ms: pct(s, 99), maxMs: s.length ? round(s.at(-1)) : null };
}

const round = (v) => (v === null || v === undefined ? null : Math.round(v * 100) / 100);
const pct = (sorted, p) =>
  sorted.length ? round(sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]) : null;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
