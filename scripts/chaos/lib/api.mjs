/**
 * The chaos suite talks to the Worker the way clients do: tenants (plan pro, an admin API key)
 * written into D1 like the bench's, then the public HTTP API for everything else.
 */
import { createHmac, randomBytes } from 'node:crypto';
import { TEST_VARS } from '../../bench/lib/workers.mjs';

export const sleep = (ms) => new Promise((r) => setTimeout(r, Math.max(0, ms)));

/** Polls `probe` every `intervalMs` until it returns something other than undefined, or `timeoutMs` passes (then undefined). */
export async function until(probe, { timeoutMs, intervalMs = 250 }) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() >= deadline) return undefined;
    await sleep(intervalMs);
  }
}

/** A tenant (plan pro: 6,000 requests a minute) with `settings`, and its admin API key, straight into D1. */
export async function seedTenant(w, label, settings = {}) {
  const tenantId = `tnt_chaos${label.replace(/[^a-z0-9]/gi, '').toLowerCase()}${randomBytes(4).toString('hex')}`;
  const key = `ek_live_${randomBytes(32).toString('base64url')}`;
  const hash = createHmac('sha256', TEST_VARS.TOKEN_PEPPER).update(key).digest('hex');
  await w.db.batch([
    w.db
      .prepare(`INSERT INTO tenants (id, name, plan, settings) VALUES (?, ?, 'pro', ?)`)
      .bind(tenantId, `chaos ${label}`, JSON.stringify(settings)),
    w.db
      .prepare(
        `INSERT INTO api_keys (id, tenant_id, name, role, prefix, key_hash, created_by) VALUES (?, ?, 'chaos', 'admin', ?, ?, 'chaos')`,
      )
      .bind(`key_${tenantId.slice(4)}`, tenantId, key.slice(0, 12), hash),
  ]);
  return new Client(w.url, tenantId, key);
}

export class Client {
  constructor(url, tenantId, key) {
    this.url = url;
    this.tenantId = tenantId;
    this.key = key;
  }

  /** One request; resolves to { status, body (parsed JSON or text), ms }. Never throws on HTTP status. */
  async req(method, path, body, { headers = {}, timeoutMs = 30_000 } = {}) {
    const started = performance.now();
    try {
      const res = await fetch(this.url + path, {
        method,
        headers: { authorization: `Bearer ${this.key}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(timeoutMs),
      });
      const text = await res.text();
      let parsed = text;
      try {
        parsed = text ? JSON.parse(text) : null;
      } catch {}
      return { status: res.status, body: parsed, ms: performance.now() - started, headers: res.headers };
    } catch (err) {
      return { status: 0, body: String(err?.message ?? err), ms: performance.now() - started };
    }
  }

  /** Like req, but throws unless the status is `expect`. */
  async must(method, path, body, expect = method === 'POST' ? 201 : 200) {
    const r = await this.req(method, path, body);
    if (r.status !== expect)
      throw new Error(`${method} ${path} answered ${r.status}, expected ${expect}: ${JSON.stringify(r.body).slice(0, 300)}`);
    return r.body;
  }

  /** Every item of a paged list (`{ data, nextCursor }`), following cursors. */
  async all(path, { limit = 100, max = 10_000 } = {}) {
    const out = [];
    let cursor = null;
    do {
      const sep = path.includes('?') ? '&' : '?';
      const page = await this.must('GET', `${path}${sep}limit=${limit}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
      out.push(...page.data);
      cursor = page.nextCursor;
    } while (cursor && out.length < max);
    return out;
  }

  createTask(title, extra = {}) {
    return this.req('POST', '/v1/tasks', { title, ...extra });
  }

  async createHook(url, eventTypes = ['task.created']) {
    return this.must('POST', '/v1/webhooks', { url, eventTypes });
  }

  async createFlow(name, definition) {
    return (await this.must('POST', '/v1/flows', { name, definition })).id;
  }

  async startRun(flowId, input = {}) {
    return this.must('POST', `/v1/flows/${flowId}/runs`, { input });
  }

  /** The run's whole event log (SSE backlog of a finished run; the stream ends with the run). */
  async runEvents(runId, timeoutMs = 15_000) {
    const res = await fetch(`${this.url}/v1/runs/${runId}/events`, {
      headers: { authorization: `Bearer ${this.key}` },
      signal: AbortSignal.timeout(timeoutMs),
    });
    if (res.status !== 200) throw new Error(`GET /v1/runs/${runId}/events answered ${res.status}`);
    const events = [];
    const text = await res.text().catch(() => '');
    for (const frame of text.split('\n\n')) {
      const data = frame.split('\n').find((l) => l.startsWith('data: '));
      if (data) events.push(JSON.parse(data.slice(6)));
    }
    return events;
  }
}

/**
 * Creates tasks at `rate` per second in all (over `connections`) for `durationMs`, or `count`
 * of them as fast as `connections` allow. Returns the created task ids with their commit times,
 * each write's latency, and the failures.
 */
export async function writeTasks(c, { count = Infinity, rate = null, durationMs = Infinity, connections = 4, label = 'chaos' }) {
  const created = [];
  const latencies = [];
  const failures = [];
  let i = 0;
  const started = performance.now();
  const interval = rate === null ? 0 : (1000 * connections) / rate;
  await Promise.all(
    Array.from({ length: connections }, async (_, lane) => {
      if (rate !== null) await sleep((interval / connections) * lane);
      while (i < count && performance.now() - started < durationMs) {
        const n = i++;
        const t = performance.now();
        const r = await c.createTask(`${label} ${n}`);
        if (r.status === 201) {
          created.push({ id: r.body.id, at: Date.now(), createdAt: r.body.createdAt });
          latencies.push(r.ms);
        } else
          failures.push({
            status: r.status,
            body: typeof r.body === 'string' ? r.body.slice(0, 200) : r.body,
            title: `${label} ${n}`,
            atMs: Math.round(t - started),
          });
        if (rate !== null) await sleep(t + interval - performance.now());
      }
    }),
  );
  return { created, ids: created.map((x) => x.id), latencies, failures };
}
