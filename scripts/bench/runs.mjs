/**
 * Run starts in `npm run bench` (issue 20, item 1), in the main table beside the bare baseline.
 *
 *   runs start   POST /v1/flows/{id}/runs of a one-node flow over BENCH_TENANTS pro tenants: auth, the
 *                cached flow version, FlowRun.create (a new Durable Object: its schema, the run's rows,
 *                admission through the tenant's hub, the alarm that drives it)
 *   baseline     POST /tasks?room=<new room>: the bare Worker creating a new Durable Object and writing
 *                a row in it, per request
 *   runs get     GET /v1/runs/{id} of a run waiting at an approval, one per tenant: auth, the run's object
 *                answering its state (which names its tenant), the feedback token
 *   baseline     GET /task?room=…&id=…: the bare Worker reading one row from one object over RPC
 *
 * The runs themselves execute while the load goes on (one transform node each), as they would.
 */
import { randomBytes } from 'node:crypto';
import { benchTenantCount, rotate, seedApiKeyTenant } from './lib/tenants.mjs';

const JSON_CT = { 'content-type': 'application/json' };
const ONE_NODE = { nodes: [{ id: 'only', type: 'transform', config: { expression: '1 + 1' } }], edges: [] };

/** POSTs `body` (JSON) to `target` and answers the created resource; anything but 201 stops the bench, naming `what`. */
async function created(target, path, headers, body, what) {
  const res = await target.fetch(path, { method: 'POST', headers: { ...JSON_CT, ...headers }, body: JSON.stringify(body) });
  const text = await res.text();
  if (res.status !== 201) throw new Error(`bench: ${what} answered ${res.status}: ${text.slice(0, 300)}`);
  return JSON.parse(text);
}

async function runTenants(ctx) {
  const flows = [];
  for (let i = 0; i < benchTenantCount(); i++) {
    const { tenantId, key } = await seedApiKeyTenant(ctx.ours, ctx.pepper, 'runs');
    // Room for the runs in flight at 16 connections (the default admits fewer at once and queues the rest).
    await ctx.ours.db
      .prepare(`UPDATE tenants SET settings = ? WHERE id = ?`)
      .bind(JSON.stringify({ maxActiveRuns: 100 }), tenantId)
      .run();
    const flow = await created(
      ctx.ours,
      '/v1/flows',
      { authorization: `Bearer ${key}` },
      { name: 'bench one node', definition: ONE_NODE },
      'creating the runs flow',
    );
    flows.push({ key, flowId: flow.id });
  }
  return { flows, roomPrefix: `run-${randomBytes(3).toString('hex')}` };
}

let roomCounter = 0;

const GATE = { nodes: [{ id: 'gate', type: 'approval', config: {} }], edges: [] };

/** Per tenant a run waiting at an approval (ours) and a task row in an object of its own (the bare side). */
async function waitingRuns(ctx) {
  const runs = [];
  const rows = [];
  const prefix = `get-${randomBytes(3).toString('hex')}`;
  for (let i = 0; i < benchTenantCount(); i++) {
    const { key } = await seedApiKeyTenant(ctx.ours, ctx.pepper, 'runs-get');
    const auth = { authorization: `Bearer ${key}` };
    const flow = await created(ctx.ours, '/v1/flows', auth, { name: 'bench gate', definition: GATE }, 'creating the gate flow');
    const run = await created(ctx.ours, `/v1/flows/${flow.id}/runs`, auth, { input: {} }, 'starting the gate run');
    runs.push({ key, runId: run.id });
    const room = `${prefix}-${i}`;
    const task = await created(ctx.base, `/tasks?room=${room}`, {}, { title: 'bench run state' }, 'seeding the bare row');
    rows.push({ room, id: task.id });
  }
  return { runs, rows };
}

/** @type {import('./lib/types').Scenario[]} */
export const runScenarios = [
  {
    name: 'runs start',
    breakdown: true,
    setup: runTenants,
    ours: (s) => ({
      method: 'POST',
      path: `/v1/flows/${s.flows[0].flowId}/runs`,
      headers: { ...JSON_CT, authorization: `Bearer ${s.flows[0].key}` },
      body: '{"input":{}}',
      perRequest: rotate(s.flows, (req, f) => {
        req.path = `/v1/flows/${f.flowId}/runs`;
        req.headers.authorization = `Bearer ${f.key}`;
        return req;
      }),
    }),
    base: (s) => ({
      method: 'POST',
      path: `/tasks?room=${s.roomPrefix}-0`,
      headers: JSON_CT,
      body: '{"title":"bench run"}',
      perRequest: (req) => ((req.path = `/tasks?room=${s.roomPrefix}-${++roomCounter}`), req),
    }),
    note: 'POST /v1/flows/{id}/runs of a one-node flow over BENCH_TENANTS pro tenants (auth, cached version, FlowRun.create: a new object, its schema and rows, hub admission, its alarm) vs the bare Worker creating a new Durable Object and writing one row in it.',
  },
  {
    name: 'runs get',
    setup: waitingRuns,
    ours: (s) => ({
      path: `/v1/runs/${s.runs[0].runId}`,
      headers: { authorization: `Bearer ${s.runs[0].key}` },
      perRequest: rotate(s.runs, (req, r) => {
        req.path = `/v1/runs/${r.runId}`;
        req.headers.authorization = `Bearer ${r.key}`;
        return req;
      }),
    }),
    base: (s) => ({
      path: `/task?room=${s.rows[0].room}&id=${s.rows[0].id}`,
      perRequest: rotate(s.rows, (req, r) => ((req.path = `/task?room=${r.room}&id=${r.id}`), req)),
    }),
    note: "GET /v1/runs/{id} of a run waiting at an approval, one per BENCH_TENANTS pro tenant (auth, the run's object answering its state and nodes, which name its tenant, a feedback token) vs the bare Worker reading one row from one Durable Object over RPC. What clients polling a run pay.",
  },
];
