/**
 * Bench tenants and credentials: sign-ups through the real API (distinct `cf-connecting-ip`
 * per request, so RL_AUTH's per-IP limit never trips), API keys written straight into D1,
 * and request rotation over several tenants (each tenant and each credential has its own
 * per-plan budget: RL_PRO = 6,000 requests a minute).
 */
import { createHmac, randomBytes } from 'node:crypto';

export const BENCH_PASSWORD = 'correct horse battery staple';

let ipCounter = 0;
/** A new client IP for every call (10.0.0.1, 10.0.0.2, …): one RL_AUTH bucket each. */
export function nextIp() {
  const n = ++ipCounter;
  return `10.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}`;
}

/**
 * POST /v1/auth/signup for a new user and tenant; with `pro`, the tenant's plan is set to
 * 'pro' in D1 before any authenticated request (so no isolate caches it as 'free').
 * @returns {Promise<{ tenantId: string, userId: string, email: string, accessToken: string }>}
 */
export async function signupTenant(ours, { label = 'bench', pro = true } = {}) {
  const email = `${label}-${randomBytes(6).toString('hex')}@bench.example`;
  const res = await ours.fetch('/v1/auth/signup', {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'cf-connecting-ip': nextIp() },
    body: JSON.stringify({ email, password: BENCH_PASSWORD, name: 'Bench User', tenantName: `${label} tenant` }),
    signal: AbortSignal.timeout(30_000),
  });
  const text = await res.text();
  if (res.status !== 201) throw new Error(`bench: signup answered ${res.status}: ${text.slice(0, 300)}`);
  const body = JSON.parse(text);
  if (pro) await ours.db.prepare(`UPDATE tenants SET plan = 'pro' WHERE id = ?`).bind(body.tenant.id).run();
  return { tenantId: body.tenant.id, userId: body.user.id, email, accessToken: body.accessToken };
}

/** A tenant (plan pro) and an admin API key, straight into D1 (as flows.mjs does). */
export async function seedApiKeyTenant(target, pepper, label = 'bench') {
  const tenantId = `tnt_${label.replace(/[^a-z0-9]/gi, '').toLowerCase()}${randomBytes(5).toString('hex')}`;
  const key = `ek_live_${randomBytes(32).toString('base64url')}`;
  const hash = createHmac('sha256', pepper).update(key).digest('hex');
  await target.db.batch([
    target.db.prepare(`INSERT INTO tenants (id, name, plan) VALUES (?, ?, 'pro')`).bind(tenantId, `${label} tenant`),
    target.db
      .prepare(
        `INSERT INTO api_keys (id, tenant_id, name, role, prefix, key_hash, created_by) VALUES (?, ?, 'bench', 'admin', ?, ?, 'bench')`,
      )
      .bind(`key_${tenantId.slice(4)}`, tenantId, key.slice(0, 12), hash),
  ]);
  return { tenantId, key };
}

/** The same tenant rows in the baseline's D1 (it has the same schema), for its bare D1 read. */
export async function mirrorTenants(base, tenantIds) {
  await base.db.batch(
    tenantIds.map((id) => base.db.prepare(`INSERT OR IGNORE INTO tenants (id, name, plan) VALUES (?, 'bench tenant', 'pro')`).bind(id)),
  );
}

/** Runs fn over items with at most `limit` in flight; results in input order. */
export async function mapLimit(items, limit, fn) {
  const out = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await fn(items[i], i);
      }
    }),
  );
  return out;
}

/**
 * An autocannon `setupRequest` that applies the next of `values` (round robin, shared by
 * every connection) to each request: `apply(req, value)` mutates and returns req.
 */
export function rotate(values, apply) {
  let i = 0;
  return (req) => apply(req, values[i++ % values.length]);
}

/** Bench tenants per throughput scenario (each with its own RL_PRO budget). */
export function benchTenantCount() {
  const raw = process.env.BENCH_TENANTS;
  const n = raw === undefined || raw === '' ? 8 : Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > 64)
    throw Object.assign(new Error(`BENCH_TENANTS must be an integer in [1, 64], got ${JSON.stringify(raw)}`), { benchReport: 'message' });
  return n;
}
