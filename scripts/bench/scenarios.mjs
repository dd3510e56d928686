/**
 * Benchmark scenarios: one entry each. `ours` is sent to the real Edgecrew Worker,
 * `base` to scripts/bench/baseline-worker.js (a bare Worker doing the same storage
 * work with no framework). See scripts/bench/README.md.
 *
 * Fields:
 *   name   unique; `npm run bench -- --only <name>` selects by name (exact, else substring)
 *   ours   request to our Worker: a path ('/health') or { method, path, headers, body }
 *   base   request to the baseline Worker, same forms
 *   setup  optional async (ctx) => ({ headers?, ...anything }), run once before the
 *          scenario's warm-up. `headers` are added to both requests (e.g. Authorization).
 *          `ours`/`base` may also be functions (setupResult) => request, to use other
 *          values it returned (ids it created, ...).
 *          ctx: { ours: Target, base: Target, pepper }
 *            Target: { url, fetch(path, init?) → Response, db → D1Database (migrated) }
 *   note   optional, printed in the JSON (what the scenario measures)
 */

/** @type {import('./lib/types').Scenario[]} */
export const scenarios = [
  { name: 'health', ours: '/health', base: '/health', note: 'no storage: pipeline + JSON' },
  { name: 'ready (D1+DO)', ours: '/health/ready', base: '/ready', note: 'D1 select 1 and a Durable Object RPC ping (SQLite select 1), in parallel' },
];
