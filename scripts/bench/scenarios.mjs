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
 *   connections   optional, overrides BENCH_CONNECTIONS for this scenario (1 = single flight)
 *   setupTimeoutS optional, the setup's time limit (default 30 s)
 *   rounds, settleMs optional, override BENCH_ROUNDS and the 250 ms pause before each slice
 *   breakdown     optional; after the load, 200 requests per side: ours broken down by stage (Server-Timing,
 *                 src/observability/timing.ts) beside the baseline's client time
 *   A request object may carry `perRequest: (req) => req`, autocannon's setupRequest: it
 *   rewrites every request (and the smoke request), e.g. to rotate credentials over several
 *   tenants (per-tenant rate limits) or send a new `cf-connecting-ip` each time.
 *
 * Identity rows come from identity.mjs, task throughput rows from tasks.mjs, run starts from runs.mjs.
 */
import { identityScenarios } from './identity.mjs';
import { runScenarios } from './runs.mjs';
import { taskScenarios } from './tasks.mjs';

/** @type {import('./lib/types').Scenario[]} */
export const scenarios = [
  { name: 'health', ours: '/health', base: '/health', note: 'no storage: pipeline + JSON' },
  {
    name: 'ready (D1+DO)',
    ours: '/health/ready',
    base: '/ready',
    note: 'D1 select 1 and a Durable Object RPC ping (SQLite select 1), in parallel',
  },
  ...identityScenarios,
  ...taskScenarios,
  ...runScenarios,
];
