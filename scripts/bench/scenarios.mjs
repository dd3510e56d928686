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

/**
 * The authenticated rows again, with the baseline charging the same local rate limiter once per request
 * (baseline-worker.js `?rl=1`), as each of ours does (src/lib/caller-limit.ts). Locally that one call is
 * an HTTP hop to Miniflare's emulation, a Durable Object writing its counter to SQLite on disk: about
 * 0.4 to 0.9 ms of workerd's thread per call on this machine, a cost of local emulation, not of
 * our code (docs/performance.md, "Where a request's time goes"). The rows without it stay
 * as they were, so both comparisons are printed in the same run.
 */
const LIMITER_TWINS = ['tenant (API key)', 'tasks create (same SQLite work)', 'tasks list'];
const withLimiter = (path) => `${path}${path.includes('?') ? '&' : '?'}rl=1`;

/** @param {import('./lib/types').Scenario} s */
function limiterTwin(s) {
  return {
    ...s,
    name: `${s.name} (limiter in both)`,
    breakdown: false,
    base: (setup) => {
      const r = typeof s.base === 'function' ? s.base(setup) : s.base;
      const req = typeof r === 'string' ? { path: r } : r;
      const rotateReq = req.perRequest;
      return {
        ...req,
        path: withLimiter(req.path),
        perRequest: (q) => {
          const out = rotateReq ? rotateReq(q) : q;
          out.path = withLimiter(out.path.replace(/[?&]rl=1$/, ''));
          return out;
        },
      };
    },
    note: `${s.note ?? ''} Baseline charging the same local rate limiter once per request (?rl=1).`.trim(),
  };
}

const twins = (list) => list.flatMap((s) => (LIMITER_TWINS.includes(s.name) ? [s, limiterTwin(s)] : [s]));

/** @type {import('./lib/types').Scenario[]} */
export const scenarios = [
  { name: 'health', ours: '/health', base: '/health', note: 'no storage: pipeline + JSON' },
  {
    name: 'ready (D1+DO)',
    ours: '/health/ready',
    base: '/ready',
    note: 'D1 select 1 and a Durable Object RPC ping (SQLite select 1), in parallel',
  },
  ...twins(identityScenarios),
  ...twins(taskScenarios),
  ...runScenarios,
];
