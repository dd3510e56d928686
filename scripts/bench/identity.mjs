/**
 * Identity scenarios of `npm run bench` (issue 3, item 13):
 *
 *   login (single flight)   POST /v1/auth/login, one request at a time: argon2id verify
 *                           (m=19456 KiB, t=2, p=1) + D1 reads/writes + ES256 signing
 *   login (concurrent)      the same at 4 connections: throughput of a CPU-bound route
 *                           vs the baseline's bare argon2id hash (same package, same WASM,
 *                           same parameters), POST /argon2
 *   tenant (JWT)            GET /v1/tenant with an access token   } vs the baseline's bare D1
 *   tenant (API key)        GET /v1/tenant with an API key        } read of the same row
 *
 * and the auth-overhead summary: each authenticated row against the anonymous GET /health
 * of the same run (and the baseline's D1 read against its /health).
 *
 * Rate limits: RL_AUTH allows 10 logins a minute per account and per IP, so every login
 * request gets a new `cf-connecting-ip` and the next of BENCH_LOGIN_ACCOUNTS (64) accounts,
 * signed up in setup. Authenticated rows rotate over BENCH_TENANTS (8) pro tenants, each
 * with its own credential: RL_PRO is 6,000 a minute per tenant and per credential.
 */
import { markdownTable } from './lib/report.mjs';
import {
  BENCH_PASSWORD,
  benchTenantCount,
  mapLimit,
  mirrorTenants,
  nextIp,
  rotate,
  seedApiKeyTenant,
  signupTenant,
} from './lib/tenants.mjs';

const JSON_CT = { 'content-type': 'application/json' };

function loginAccounts() {
  const raw = process.env.BENCH_LOGIN_ACCOUNTS;
  const n = raw === undefined || raw === '' ? 64 : Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > 1000)
    throw Object.assign(new Error(`BENCH_LOGIN_ACCOUNTS must be an integer in [1, 1000], got ${JSON.stringify(raw)}`), {
      benchReport: 'message',
    });
  return n;
}

/** Accounts are signed up once per run and shared by both login scenarios (memoized per Worker). */
const accountsByWorker = new Map();
function loginSetup(ctx) {
  let p = accountsByWorker.get(ctx.ours.url);
  if (!p) {
    const n = loginAccounts();
    // Sign-ups hash too (CPU-bound in one isolate): a little concurrency is enough.
    p = mapLimit(Array.from({ length: n }), 4, () => signupTenant(ctx.ours, { label: 'login', pro: false })).then((accounts) => ({
      accounts: accounts.map((a) => a.email),
    }));
    accountsByWorker.set(ctx.ours.url, p);
  }
  return p;
}

/** Each login: the next account, a new client IP. */
function loginRequest(setup) {
  let i = 0;
  return {
    method: 'POST',
    path: '/v1/auth/login',
    headers: JSON_CT,
    body: JSON.stringify({ email: setup.accounts[0], password: BENCH_PASSWORD }),
    perRequest: (req) => {
      req.headers['cf-connecting-ip'] = nextIp();
      req.body = JSON.stringify({ email: setup.accounts[i++ % setup.accounts.length], password: BENCH_PASSWORD });
      return req;
    },
  };
}

const argon2Request = { method: 'POST', path: '/argon2', headers: JSON_CT, body: JSON.stringify({ password: BENCH_PASSWORD }) };

/** The baseline side of the tenant rows: its D1 read of the same tenant ids, rotating. */
function tenantReadRequest(ids) {
  return { path: `/tenant?id=${ids[0]}`, perRequest: rotate(ids, (req, id) => ((req.path = `/tenant?id=${id}`), req)) };
}

const bearerRotation = (tokens) =>
  rotate(
    tokens.map((t) => `Bearer ${t}`),
    (req, auth) => ((req.headers.authorization = auth), req),
  );

/** @type {import('./lib/types').Scenario[]} */
export const identityScenarios = [
  {
    name: 'login (single flight)',
    connections: 1,
    setupTimeoutS: 180,
    setup: loginSetup,
    ours: loginRequest,
    base: argon2Request,
    note: 'POST /v1/auth/login one at a time (argon2id verify m=19456 KiB t=2 p=1, 2 D1 reads, 1 D1 batch write, ES256 access token) vs the baseline hashing once with the same argon2id package, WASM and parameters. New cf-connecting-ip per request; accounts round robin (RL_AUTH: 10/min per account and per IP).',
  },
  {
    name: 'login (concurrent)',
    // Few connections, two long slices and a drain between them: each abandoned in-flight login
    // still costs a full hash after its slice ends, which would otherwise land in the next slice.
    connections: 4,
    rounds: 2,
    settleMs: 1_500,
    setupTimeoutS: 180,
    setup: loginSetup,
    ours: loginRequest,
    base: argon2Request,
    note: 'The same at 4 concurrent connections (2 slices per side, 1.5 s drain between slices): argon2id is synchronous WASM, so one isolate serves one hash at a time and p50 is mostly queueing; req/s is the throughput.',
  },
  {
    name: 'tenant (JWT)',
    setup: async (ctx) => {
      const tenants = await mapLimit(Array.from({ length: benchTenantCount() }), 4, () => signupTenant(ctx.ours, { label: 'jwt' }));
      await mirrorTenants(
        ctx.base,
        tenants.map((t) => t.tenantId),
      );
      return { tokens: tenants.map((t) => t.accessToken), ids: tenants.map((t) => t.tenantId) };
    },
    ours: (s) => ({ path: '/v1/tenant', headers: { authorization: `Bearer ${s.tokens[0]}` }, perRequest: bearerRotation(s.tokens) }),
    base: (s) => tenantReadRequest(s.ids),
    note: 'GET /v1/tenant with an ES256 access token (verify + cached membership + 1 rate-limit call + the tenant row from D1), rotating over BENCH_TENANTS pro tenants; baseline: the same D1 read, no credential.',
  },
  {
    name: 'tenant (API key)',
    breakdown: true,
    setup: async (ctx) => {
      const tenants = [];
      for (let i = 0; i < benchTenantCount(); i++) tenants.push(await seedApiKeyTenant(ctx.ours, ctx.pepper, 'apikey'));
      await mirrorTenants(
        ctx.base,
        tenants.map((t) => t.tenantId),
      );
      return { tokens: tenants.map((t) => t.key), ids: tenants.map((t) => t.tenantId) };
    },
    ours: (s) => ({ path: '/v1/tenant', headers: { authorization: `Bearer ${s.tokens[0]}` }, perRequest: bearerRotation(s.tokens) }),
    base: (s) => tenantReadRequest(s.ids),
    note: 'GET /v1/tenant with an API key (HMAC + in-isolate key cache + 1 rate-limit call + the tenant row from D1), rotating over BENCH_TENANTS pro tenants; baseline: the same D1 read.',
  },
];

/**
 * Authenticated vs anonymous in the same run, from the scenario rows: needs `health` and at
 * least one of the tenant rows. null when they were not run.
 *
 * At a fixed number of connections latency is mostly queueing (Little's law: mean latency =
 * connections ÷ req/s), so the per-request cost is read from throughput: 1000 ÷ req/s is the
 * Worker time one request takes at saturation (ms), and authentication ≈ (ours authenticated −
 * ours /health) − (base D1 read − base /health), since both authenticated rows read the tenant row too.
 */
export function authOverhead(rows) {
  const by = (n) => rows.find((r) => r.name === n);
  const health = by('health');
  const authed = ['tenant (JWT)', 'tenant (API key)'].map(by).filter(Boolean);
  if (!health || authed.length === 0) return null;
  const cost = (side) => (side.reqPerSec > 0 ? 1000 / side.reqPerSec : null);
  const line = (label, side, ref) => ({
    request: label,
    reqPerSec: side.reqPerSec,
    p50Ms: side.latencyMs.p50,
    p99Ms: side.latencyMs.p99,
    vsHealthReqPerSec: ref.reqPerSec > 0 ? round(side.reqPerSec / ref.reqPerSec) : null,
    msPerRequest: cost(side) === null ? null : round(cost(side)),
    extraMsVsHealth: cost(side) === null || cost(ref) === null ? null : round(cost(side) - cost(ref)),
  });
  const lines = [line('ours GET /health (anonymous)', health.ours, health.ours)];
  for (const r of authed) lines.push(line(`ours GET /v1/tenant (${r.name.includes('JWT') ? 'JWT' : 'API key'})`, r.ours, health.ours));
  lines.push(line('base GET /health', health.base, health.base));
  lines.push(line('base D1 read of the tenant row', authed[0].base, health.base));
  const baseExtra = lines.at(-1).extraMsVsHealth;
  return {
    note: "Same run. ÷ /health = the row's req/s ÷ that side's GET /health req/s. ms/req = 1000 ÷ req/s (Worker time per request at saturation). extra = ms/req minus that side's /health ms/req. Authentication ≈ ours extra − base extra (the D1 read both do).",
    lines,
    authMsPerRequest: Object.fromEntries(
      lines
        .filter((l) => l.request.startsWith('ours GET /v1/tenant'))
        .map((l) => [
          l.request.includes('JWT') ? 'jwt' : 'apiKey',
          baseExtra === null || l.extraMsVsHealth === null ? null : round(l.extraMsVsHealth - baseExtra),
        ]),
    ),
    noisy: [health, ...authed].some((r) => r.noisy),
  };
}

export function formatAuthOverhead(o) {
  const f = (v) => (v === null || v === undefined ? '-' : Math.abs(v) < 10 ? v.toFixed(2) : v.toFixed(1));
  const header = [
    `auth overhead (same run)${o.noisy ? ' (!)' : ''}`,
    'req/s',
    'p50',
    'p99',
    '÷ /health req/s',
    'ms/req',
    'extra vs /health',
  ];
  const rows = o.lines.map((l) => [
    l.request,
    Math.round(l.reqPerSec).toLocaleString('en-US'),
    `${f(l.p50Ms)} ms`,
    `${f(l.p99Ms)} ms`,
    f(l.vsHealthReqPerSec),
    f(l.msPerRequest),
    `${f(l.extraMsVsHealth)} ms`,
  ]);
  return [
    markdownTable(header, rows),
    '',
    `ms/req = 1000 ÷ req/s (Worker time per request at saturation; p50 at a fixed connection count is mostly queueing). Authentication ≈ ours extra − base extra (both read the tenant row from D1): ${Object.entries(
      o.authMsPerRequest,
    )
      .map(([k, v]) => `${k === 'jwt' ? 'JWT' : 'API key'} ${f(v)} ms`)
      .join(
        ', ',
      )} per request. Locally the rate-limit check (one per authenticated request) is a call to Miniflare's rate-limiter Durable Object, which production's in-colo limiter does not cost; the stage tables show it as 'ratelimit'.`,
  ].join('\n');
}

const round = (v) => Math.round(v * 1000) / 1000;
