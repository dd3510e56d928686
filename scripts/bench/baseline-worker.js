/**
 * Benchmark baseline: a bare module Worker, no framework, no middleware, no logging.
 * It does the same storage operations as the Edgecrew routes it is compared with,
 * so `ours / baseline` is the cost of our framework and pipeline.
 *
 * Bindings (set by scripts/bench/run.mjs): DB (D1, the same migrations as ours),
 * HUB (SQLite-backed Durable Object, class BaselineHub), ENVIRONMENT, APP_NAME, APP_VERSION.
 *
 * Adding a scenario? Add the matching bare route to ROUTES below, doing the same
 * storage work as our route (same queries, same number of round trips).
 */
import { DurableObject } from 'cloudflare:workers';

export class BaselineHub extends DurableObject {
  /** Same work as TenantHub.ping(): one `SELECT 1` through ctx.storage.sql, over RPC. */
  async ping() {
    const row = this.ctx.storage.sql.exec('SELECT 1 AS one').one();
    return { ok: true, sqlite: row.one };
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

const ROUTES = {
  'GET /health': (_req, env) =>
    json({ status: 'ok', name: env.APP_NAME, version: env.APP_VERSION, commit: null, environment: env.ENVIRONMENT, time: new Date().toISOString() }),
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
};

export default {
  async fetch(request, env) {
    const route = ROUTES[`${request.method} ${new URL(request.url).pathname}`];
    if (route === undefined) return json({ status: 404, title: 'Not found' }, 404);
    return route(request, env);
  },
};
