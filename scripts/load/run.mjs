#!/usr/bin/env node
/**
 * npm run load: the seed's load test, Locust against the local Worker (issue 20).
 *
 * 1. Builds the real Worker (wrangler deploy --dry-run) and runs it on workerd through Miniflare
 *    directly, as `npm run bench` does (no wrangler dev proxy), with its D1 migrated.
 * 2. Seeds LOAD_TENANTS pro tenants (API keys written to D1, maxActiveRuns 100), one 10-node flow
 *    each, and one webhook endpoint each pointing at a receiver in this process that verifies every
 *    delivery with the official `standardwebhooks` library and times commit (the event's
 *    `timestamp`) → verified receipt.
 * 3. Runs Locust headless (`python3 -m locust`, Debian's python3-locust) with
 *    scripts/load/locustfile.py: LOAD_USERS users (default 100) for LOAD_SECONDS (default 60),
 *    mixing task CRUD, quick add, sync sockets, run start-and-wait; CSV into load-results/.
 * 4. Prints (and writes to load-results/summary-<time>.md and latest.json) p50/p95/p99 and failures
 *    per request type, plus webhook receipt latency, verification failures and redeliveries.
 *    Exits 1 on any failed request or unverified delivery.
 *
 * Env: LOAD_USERS (100), LOAD_SECONDS (60), LOAD_SPAWN_RATE (users/s, 20), LOAD_TENANTS (10),
 *      LOCUST_PYTHON (default: /usr/bin/python3, where Debian's python3-locust lives, else python3 on
 *      PATH; the first that imports locust and websocket),
 *      LOAD_PROFILE=1: a V8 CPU profile of our isolate over the whole Locust run, printed per request
 *      and saved as load-results/profile-<time>.cpuprofile (the profiler slows the thread, so its
 *      run's latencies are not comparable with other runs'), LOAD_OUT (results directory),
 *      LOAD_MEMORY=0: no memory table (our isolate's heap before and after the load, local runs only).
 *
 * LOAD_TARGET=<origin> runs the same traffic against a deployed Worker instead (steps 1 and 2 become
 * API calls with LOAD_API_KEYS, undone at the end; webhooks with LOAD_RECEIVER_URL and
 * LOAD_RECEIVER_PORT): `remote` below, docs/operations.md "Load test".
 */
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import path from 'node:path';
import { Webhook } from 'standardwebhooks';
import { formatMemoryTable, memoryRecorder, pokeWith, summarizeMemory } from '../bench/lib/heap.mjs';
import { analyse, connectInspector, freePort, printProfile, readSourceMap, startProfiler, userIsolate } from '../bench/lib/profiler.mjs';
import { seedApiKeyTenant } from '../bench/lib/tenants.mjs';
import { applyMigrations, buildWorker, OURS, ROOT, readMigrations, STATE_NOTE, startWorkers, TEST_VARS } from '../bench/lib/workers.mjs';

const num = (name, fallback) => {
  const v = Number(process.env[name] ?? fallback);
  if (!Number.isFinite(v) || v <= 0) throw new Error(`${name} must be a positive number`);
  return v;
};
const USERS = num('LOAD_USERS', 100);
const SECONDS = num('LOAD_SECONDS', 60);
const SPAWN_RATE = num('LOAD_SPAWN_RATE', 20);
const TENANTS = num('LOAD_TENANTS', 10);
/**
 * The Python that runs Locust: LOCUST_PYTHON, else the first of the system Python (Debian's
 * python3-locust and python3-websocket live there) and `python3` on PATH (a virtualenv, macOS) that
 * imports both. Checked before anything is built, so a missing Locust fails in a second, not after
 * the build and the seeding.
 */
function findPython() {
  const candidates = process.env.LOCUST_PYTHON ? [process.env.LOCUST_PYTHON] : ['/usr/bin/python3', 'python3'];
  const tried = [];
  for (const py of candidates) {
    const r = spawnSync(py, ['-c', 'import locust, websocket'], { stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8', timeout: 30_000 });
    if (r.status === 0) return py;
    // Why it failed (not found, a module missing, a broken install), in one line.
    const why =
      r.error?.message ||
      String(r.stderr ?? '')
        .trim()
        .split('\n')
        .at(-1) ||
      `exit ${r.status}`;
    tried.push(`${py}: ${why}`);
  }
  throw new Error(
    `no Python with Locust and websocket-client (${tried.join('; ')}). On Debian or Ubuntu: ` +
      'apt-get install python3-locust python3-websocket. Elsewhere: pip install locust websocket-client ' +
      'into a Python of your choice and set LOCUST_PYTHON to it.',
  );
}
const PROFILE = process.env.LOAD_PROFILE === '1';
/** Our isolate's heap before and after a local load (bench/lib/heap.mjs); LOAD_MEMORY=0 skips it. */
const MEMORY = process.env.LOAD_MEMORY !== '0';
const OUT = process.env.LOAD_OUT ? path.resolve(process.env.LOAD_OUT) : path.join(ROOT, 'load-results');
/** LOAD_TARGET: a deployed Worker's origin to load instead of a local one (`remote` below). */
const REMOTE = process.env.LOAD_TARGET ? targetOrigin(process.env.LOAD_TARGET) : null;

function targetOrigin(value) {
  let url;
  try {
    url = new URL(value);
  } catch {
    throw new Error(`LOAD_TARGET must be a URL such as https://api.example.com (got ${value})`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new Error(`LOAD_TARGET must be http(s) (got ${url.protocol})`);
  if (PROFILE) throw new Error('LOAD_PROFILE profiles the local Worker: it cannot be combined with LOAD_TARGET');
  return url.origin;
}
const log = (m) => process.stderr.write(`load: ${m}\n`);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** a → 8 parallel → z, the bench's concurrent shape. */
function fanFlow() {
  const t = (id, expression) => ({ id, type: 'transform', config: { expression } });
  const mids = Array.from({ length: 8 }, (_, i) => t(`m${i}`, `nodes.a.output + ${i}`));
  return {
    nodes: [t('a', '1'), ...mids, t('z', `$sum([${mids.map((m) => `nodes.${m.id}.output`).join(', ')}])`)],
    edges: [...mids.map((m) => ({ from: 'a', to: m.id })), ...mids.map((m) => ({ from: m.id, to: 'z' }))],
  };
}

/** The webhook receiver: verifies with standardwebhooks, times commit → receipt, counts duplicates. */
async function startReceiver(port = 0) {
  const secrets = new Map();
  const seen = new Set();
  const stats = { received: 0, verified: 0, unverified: 0, duplicates: 0, latencies: [] };
  const server = createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const receivedAt = Date.now();
      const body = Buffer.concat(chunks).toString('utf8');
      const name = decodeURIComponent(req.url.split('/').pop() ?? '');
      stats.received++;
      try {
        const payload = new Webhook(secrets.get(name)).verify(body, {
          'webhook-id': req.headers['webhook-id'],
          'webhook-timestamp': req.headers['webhook-timestamp'],
          'webhook-signature': req.headers['webhook-signature'],
        });
        stats.verified++;
        const id = String(req.headers['webhook-id']);
        if (seen.has(id)) stats.duplicates++;
        seen.add(id);
        stats.latencies.push(receivedAt - Date.parse(payload.timestamp));
      } catch {
        stats.unverified++;
      }
      res.writeHead(200).end('ok');
    });
  });
  await new Promise((r) => server.listen(port, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${server.address().port}`, secrets, stats, close: () => new Promise((r) => server.close(r)) };
}

async function api(url, key, method, p, body) {
  const res = await fetch(new URL(p, url), {
    method,
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(30_000),
  });
  const text = await res.text();
  if (res.status >= 300) throw new Error(`${method} ${p} answered ${res.status}: ${text.slice(0, 300)}`);
  return text ? JSON.parse(text) : null;
}

function runLocust(python, env, csvPrefix) {
  return new Promise((resolve, reject) => {
    const args = [
      '-m',
      'locust',
      '-f',
      path.join(ROOT, 'scripts', 'load', 'locustfile.py'),
      '--headless',
      '--users',
      String(USERS),
      '--spawn-rate',
      String(SPAWN_RATE),
      '--run-time',
      `${SECONDS}s`,
      '--host',
      env.LOAD_HOST,
      '--csv',
      csvPrefix,
      '--only-summary',
      '--stop-timeout',
      '30',
    ];
    const child = spawn(python, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'inherit', 'inherit'] });
    const killer = setTimeout(() => child.kill('SIGTERM'), (SECONDS + 120) * 1000);
    child.on('error', (err) => reject(new Error(`cannot start ${python} -m locust (${err.message})`)));
    child.on('exit', (code) => (clearTimeout(killer), resolve(code)));
  });
}

/** Locust's `<prefix>_stats.csv` → rows (the CSV has no quoted commas in our names). */
async function readStats(csvPrefix) {
  const text = await readFile(`${csvPrefix}_stats.csv`, 'utf8');
  const [head, ...lines] = text.trim().split('\n');
  const cols = head.split(',');
  return lines.map((l) => {
    const v = l.split(',');
    const get = (c) => v[cols.indexOf(c)];
    return {
      type: get('Type'),
      name: get('Name'),
      requests: Number(get('Request Count')),
      failures: Number(get('Failure Count')),
      p50: Number(get('50%')),
      p95: Number(get('95%')),
      p99: Number(get('99%')),
      rps: Number(get('Requests/s')),
    };
  });
}

const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)] : null;
};

function table(rows, hook) {
  const head = ['request', 'count', 'failures', 'req/s', 'p50 ms', 'p95 ms', 'p99 ms'];
  const cells = rows.map((r) => [
    r.name.startsWith(`${r.type} `) || r.name === 'Aggregated' ? r.name : `${r.type} ${r.name}`,
    String(r.requests),
    String(r.failures),
    r.rps.toFixed(1),
    String(r.p50),
    String(r.p95),
    String(r.p99),
  ]);
  cells.push(
    hook.measured
      ? [
          'WEBHOOK commit→verified receipt',
          String(hook.verified),
          String(hook.unverified),
          '',
          String(hook.p50 ?? '-'),
          String(hook.p95 ?? '-'),
          String(hook.p99 ?? '-'),
        ]
      : ['WEBHOOK commit→verified receipt (not measured)', '-', '-', '', '-', '-', '-'],
  );
  const w = head.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i].length)));
  const line = (c) => `| ${c.map((v, i) => (i === 0 ? v.padEnd(w[i]) : v.padStart(w[i]))).join(' | ')} |`;
  return [
    line(head),
    `|${w.map((x, i) => (i === 0 ? `:${'-'.repeat(x + 1)}` : `${'-'.repeat(x + 1)}:`)).join('|')}|`,
    ...cells.map(line),
  ].join('\n');
}

/** LOAD_PROFILE=1: stops the profiler, saves the profile and prints where the isolate's time went, per request. */
async function writeProfile(inspector, entry, rows, stamp) {
  const { profile } = await inspector.send('Profiler.stop');
  inspector.close();
  const file = path.join(OUT, `profile-${stamp}.cpuprofile`);
  await writeFile(file, JSON.stringify(profile));
  const report = analyse(profile, await readSourceMap(entry), entry);
  const requests = rows.find((r) => r.name === 'Aggregated')?.requests ?? 1;
  const per = (ms) => `${((ms / requests) * 1000).toFixed(0)} µs/req`;
  console.log(
    `\nisolate busy ${(report.totalMs - report.idleMs).toFixed(0)} of ${report.totalMs.toFixed(0)} ms sampled; ${per(report.totalMs - report.idleMs)} of isolate CPU per Locust request (${requests})\n`,
  );
  printProfile(report, { per, top: 40 });
  log(`wrote ${path.relative(ROOT, file)}`);
}

/** Locust against `targetUrl` with one key and flow per tenant, then the summary: the part both modes share. */
async function measure({ python, started, targetUrl, keys, flows, receiver, where, inspector, entry, memory }) {
  log(`${where}; ${keys.length} tenants; ${USERS} users for ${SECONDS}s`);
  await mkdir(OUT, { recursive: true });
  const stamp = started.toISOString().replace(/[:.]/g, '-');
  const csvPrefix = path.join(OUT, `load-${stamp}`);
  if (inspector) await startProfiler(inspector);
  const code = await runLocust(
    python,
    { LOAD_HOST: targetUrl, LOAD_KEYS: JSON.stringify(keys), LOAD_FLOWS: JSON.stringify(flows) },
    csvPrefix,
  );
  // Measured only where endpoints were registered (each with its secret).
  const measured = receiver.secrets.size > 0;
  // Deliveries of the last writes are still on their way: give them the queue's window and a margin.
  if (measured) await sleep(5_000);
  const rows = await readStats(csvPrefix);
  if (inspector) await writeProfile(inspector, entry, rows, stamp);
  await memory?.point('load', 'after the load');
  const heap = memory ? summarizeMemory(memory.points) : null;
  const s = receiver.stats;
  const hook = {
    measured,
    received: s.received,
    verified: s.verified,
    unverified: s.unverified,
    duplicates: s.duplicates,
    p50: pct(s.latencies, 50),
    p95: pct(s.latencies, 95),
    p99: pct(s.latencies, 99),
  };
  const text = [
    `npm run load: ${USERS} users, ${SECONDS} s, ${keys.length} tenants, ${where}, ${started.toISOString()}`,
    '',
    table(rows, hook),
    '',
    'Locust times each request from the client (python3-locust, one process); RUN rows are start → succeeded (POST then polling GET /v1/runs/{id} every 50 ms),',
    "WS rows a sync socket (connect → synced, and a task write → its change on the socket); the webhook row is measured by the receiver: the event's timestamp (commit) → verified receipt;",
    measured
      ? `its failures are deliveries that failed verification; ${hook.duplicates} arrived again with a webhook-id already seen (at least once: an attempt the Worker gave up on — e.g. its 5 s inline timeout on a starved machine — is retried; receivers deduplicate by webhook-id).`
      : 'not measured in this run: LOAD_RECEIVER_URL was not set, so no webhook endpoint was registered (docs/operations.md, "Load test").',
    ...(heap ? ['', formatMemoryTable(heap)] : []),
  ].join('\n');
  console.log(`\n${text}\n`);
  const summary = {
    startedAt: started.toISOString(),
    target: REMOTE ? targetUrl : 'local',
    users: USERS,
    seconds: SECONDS,
    tenants: keys.length,
    storage: REMOTE ? null : STATE_NOTE,
    locustExit: code,
    rows,
    webhooks: hook,
    ...(heap ? { memory: heap } : {}),
  };
  await writeFile(path.join(OUT, `summary-${stamp}.md`), `${text}\n`);
  await writeFile(path.join(OUT, 'latest.json'), `${JSON.stringify(summary, null, 2)}\n`);
  log(`wrote ${path.relative(ROOT, csvPrefix)}_stats.csv (and _failures, _exceptions, _stats_history), summary-${stamp}.md, latest.json`);
  const failures = rows.filter((r) => r.name === 'Aggregated').reduce((n, r) => n + r.failures, 0) + hook.unverified;
  return code === 0 && failures === 0 ? 0 : 1;
}

/** The receiver's name for a tenant's endpoint (a path segment that does not reveal the tenant's id). */
const hookName = (tenantId) => createHash('sha256').update(tenantId).digest('hex').slice(0, 12);

/**
 * What a tenant needs for the load, through the public API: the 10-node flow and, with `hooksAt` (the
 * receiver's URL as the Worker reaches it), a webhook endpoint whose secret the receiver verifies with.
 * `created` hears each thing's path as soon as it exists (for a remote run to delete, even if the next
 * creation fails). Returns the flow's id.
 */
async function prepareTenant(url, key, tenantId, { receiver, hooksAt, label, created = () => {} }) {
  const flow = await api(url, key, 'POST', '/v1/flows', { name: label, definition: fanFlow() });
  created(`/v1/flows/${flow.id}`);
  if (hooksAt) {
    const name = hookName(tenantId);
    const hook = await api(url, key, 'POST', '/v1/webhooks', { url: `${hooksAt}/hooks/${name}`, eventTypes: ['task.*'] });
    created(`/v1/webhooks/${hook.id}`);
    receiver.secrets.set(name, hook.secret);
  }
  return flow.id;
}

async function local(python, started) {
  log(`building the Worker (wrangler deploy --dry-run${PROFILE ? ' --minify=false' : ''})…`);
  // A profile names functions: build it unminified (the same code as deployed, with our names).
  const build = await buildWorker({ minify: !PROFILE });
  // V8's inspector for the profile and for the memory points before and after the load
  // (bench/lib/heap.mjs; LOAD_MEMORY=0 skips them).
  const inspectorPort = PROFILE || MEMORY ? await freePort() : undefined;
  const { mf, oursUrl } = await startWorkers({
    entry: build.entry,
    inspectorPort,
    extraBindings: { WEBHOOK_SECRET_KEY: 'load-webhook-secret-key-0123456789abcdef0123456789abcdef' },
    onLog: (e) => e.level === 'error' && process.stderr.write(`[worker error] ${e.message.slice(0, 400)}\n`),
  });
  const receiver = await startReceiver();
  try {
    const db = await mf.getD1Database('DB', OURS);
    await applyMigrations(db, await readMigrations());
    const target = { url: String(oursUrl).replace(/\/$/, ''), db };
    const keys = [];
    const flows = [];
    for (let i = 0; i < TENANTS; i++) {
      const { tenantId, key } = await seedApiKeyTenant(target, TEST_VARS.TOKEN_PEPPER, `load${i}`);
      await db
        .prepare(`UPDATE tenants SET settings = ? WHERE id = ?`)
        .bind(JSON.stringify({ maxActiveRuns: 100 }), tenantId)
        .run();
      flows.push(await prepareTenant(target.url, key, tenantId, { receiver, hooksAt: receiver.url, label: 'load fan' }));
      keys.push(key);
    }
    const memory = MEMORY ? memoryRecorder() : undefined;
    memory?.attach({
      port: inspectorPort,
      isolates: [{ side: 'ours', workers: [userIsolate(OURS)], poke: pokeWith(new URL('/health', target.url)) }],
    });
    await memory?.point('load', 'before the load (tenants seeded)');
    const inspector = PROFILE ? await connectInspector(inspectorPort, userIsolate(OURS)) : null;
    return await measure({
      python,
      started,
      targetUrl: target.url,
      keys,
      flows,
      receiver,
      where: `Worker on workerd (Miniflare, direct socket) at ${target.url}, run storage ${STATE_NOTE}`,
      inspector,
      entry: build.entry,
      memory,
    });
  } finally {
    await receiver.close();
    await mf.dispose().catch(() => {});
    await build.cleanup().catch(() => {});
  }
}

/**
 * LOAD_TARGET: the same traffic against a deployed Worker (staging, or any URL). Nothing is built or
 * seeded in a database: each of LOAD_API_KEYS (admin keys of tenants made for load testing) gets the
 * load's flow, and with LOAD_RECEIVER_URL a webhook endpoint to this machine's receiver, through the
 * public API; both are deleted when the run ends, whatever its outcome. The tasks the users create
 * stay in those tenants.
 */
async function remote(python, started) {
  const keys = (process.env.LOAD_API_KEYS ?? '')
    .split(',')
    .map((k) => k.trim())
    .filter(Boolean);
  if (keys.length === 0)
    throw new Error(
      'LOAD_TARGET needs LOAD_API_KEYS: comma-separated admin API keys, one per tenant made for load testing (docs/operations.md, "Load test")',
    );
  const receiverUrl = process.env.LOAD_RECEIVER_URL?.replace(/\/$/, '');
  const receiver = await startReceiver(receiverUrl ? num('LOAD_RECEIVER_PORT', 8788) : 0);
  const made = [];
  try {
    const flows = [];
    const seen = new Set();
    for (const key of keys) {
      const tenant = await api(REMOTE, key, 'GET', '/v1/tenant');
      // Each tenant's endpoint is named after it, and two users' tenants should be two tenants.
      if (seen.has(tenant.id)) throw new Error(`LOAD_API_KEYS holds two keys of tenant ${tenant.id}: give one key per tenant`);
      seen.add(tenant.id);
      const limit = tenant.settings?.maxActiveRuns ?? 'not set (the default)';
      log(
        `tenant ${tenant.id} (plan ${tenant.plan}, maxActiveRuns ${limit}): runs above it queue, requests above the plan's rate limit answer 429`,
      );
      const label = `load fan ${started.toISOString()}`;
      flows.push(
        await prepareTenant(REMOTE, key, tenant.id, { receiver, hooksAt: receiverUrl, label, created: (p) => made.push({ key, path: p }) }),
      );
    }
    return await measure({ python, started, targetUrl: REMOTE, keys, flows, receiver, where: `Worker at ${REMOTE}` });
  } finally {
    for (const { key, path: p } of made.reverse()) {
      await api(REMOTE, key, 'DELETE', p).catch((err) => log(`could not delete ${p}: ${err.message}`));
    }
    if (made.length > 0) log(`deleted the ${made.length} flows and webhook endpoints the run created`);
    await receiver.close();
  }
}

async function main() {
  const started = new Date();
  const python = findPython();
  return REMOTE ? remote(python, started) : local(python, started);
}

main().then(
  (code) => process.exit(code),
  (err) => {
    console.error(err instanceof Error ? (err.stack ?? err.message) : err);
    process.exit(2);
  },
);
