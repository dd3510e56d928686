/**
 * Tenant isolation (design invariant 1): with tenant B's valid admin credentials (an access JWT and an
 * admin API key), every read, update and delete of tenant A's ids answers 404 (never 403: no
 * existence oracle), B's lists never contain A's ids, and A's rows are unchanged afterwards.
 *
 * TABLE-DRIVEN. Every resource that has an id gets ONE row in `RESOURCES` below. When you add a
 * resource (tasks, flows, runs, tools, webhooks, …) append a row: how to create one in a tenant,
 * its item path, its list path, and which methods exist on the item route. Nothing else changes.
 */
import { describe, expect, inject, it } from 'vitest';
import { call, expectJson, expectProblem } from '../../support/workers/http';
import { addMember, createApiKey, signup, type TestTenant, uniqueEmail } from '../../support/workers/tenants';
import { auditCount, snapshotTenant } from './_support';

interface IsolationRow {
  /** Name in test titles. */
  resource: string;
  /** Creates one resource in `tenant` (acting as its admin) and returns the id used in `path`. */
  create(tenant: TestTenant): Promise<string>;
  /** The item route for `id`. */
  path(id: string): string;
  /** The list route (GET), whose page is `{ data, nextCursor }`. */
  list: string;
  /** Picks the id out of one list item (default: `item.id`). */
  idOf?(item: Record<string, any>): string;
  /** A valid PATCH body, only when the item route has PATCH. */
  patch?: Record<string, unknown>;
  /** A valid PUT body, only when the item route has PUT. */
  put?: Record<string, unknown>;
  /** Whether the item route has DELETE. */
  delete: boolean;
  /** Extra POST sub-routes on the item that act on it (e.g. `/complete`, `/cancel`), with bodies. */
  actions?: Array<{ suffix: string; body?: Record<string, unknown> }>;
}

const RESOURCES: IsolationRow[] = [
  {
    resource: 'members',
    create: async (t) => (await addMember(t, 'member')).userId,
    path: (id) => `/v1/members/${id}`,
    list: '/v1/members?limit=100',
    idOf: (m) => m.userId,
    patch: { role: 'viewer' },
    delete: true,
  },
  {
    resource: 'invitations',
    create: async (t) => {
      const res = await call('/v1/invitations', { token: t.accessToken, body: { email: uniqueEmail('iso-inv'), role: 'member' } });
      return (await expectJson(res, 201)).id;
    },
    path: (id) => `/v1/invitations/${id}`,
    list: '/v1/invitations?limit=100',
    delete: true,
  },
  {
    resource: 'api-keys',
    create: async (t) => (await createApiKey(t, 'admin')).id,
    path: (id) => `/v1/api-keys/${id}`,
    list: '/v1/api-keys?limit=100',
    delete: true,
  },
  {
    // Tasks live in the tenant's TenantHub; a recurring one with a reminder, so /complete and /reopen have work to do.
    resource: 'tasks',
    create: async (t) => {
      const res = await call('/v1/tasks', {
        token: t.accessToken,
        body: { title: 'iso task', dueAt: '2031-01-01T09:00:00Z', recurrence: 'FREQ=DAILY', reminders: [{ before: 'PT15M' }] },
      });
      return (await expectJson(res, 201)).id;
    },
    path: (id) => `/v1/tasks/${id}`,
    list: '/v1/tasks?limit=100',
    patch: { title: 'pwned', priority: 1 },
    delete: true,
    actions: [{ suffix: '/complete' }, { suffix: '/reopen' }],
  },
  // Notifications have no item GET, so they do not fit this table: their isolation (POST
  // /v1/notifications/{id}/read, the list), GET /v1/tasks/{id}/history and /v1/sync are covered in
  // test/workers/tasks/tasks-isolation.test.ts.
  // Later resources append one row each.
];

interface Attacker {
  label: string;
  token: (b: { admin: TestTenant; key: string }) => string;
}

const ATTACKERS: Attacker[] = [
  { label: "B's admin access token", token: (b) => b.admin.accessToken },
  { label: "B's admin API key", token: (b) => b.key },
];

async function setupTenants() {
  const a = await signup('iso-a');
  const b = await signup('iso-b');
  const bKey = await createApiKey(b, 'admin');
  return { a, b: { admin: b, key: bKey.key } };
}

/** What a probe for an id looks like to the caller, without what legitimately varies per request/id. */
function shape(body: Record<string, any>, id: string) {
  const { requestId: _r, instance: _i, ...rest } = body;
  return JSON.parse(JSON.stringify(rest).replaceAll(id, '<id>'));
}

describe.each(RESOURCES)('tenant isolation: $resource', (row) => {
  it.each(ATTACKERS)("with $label: GET/PATCH/PUT/DELETE/actions on A's id → 404, A unchanged", async (attacker) => {
    const { a, b } = await setupTenants();
    const id = await row.create(a);
    const token = attacker.token(b);
    // Control: the credential is valid and admin in B.
    expect((await call('/v1/tenant', { method: 'PATCH', token, body: { name: 'B control' } })).status).toBe(200);

    const before = await snapshotTenant(a.tenantId);
    const auditBefore = await auditCount(a.tenantId);
    const aView = await expectJson(await call(row.path(id), { token: a.accessToken }), 200);

    const attempts: Array<{ method: string; path: string; body?: unknown }> = [{ method: 'GET', path: row.path(id) }];
    if (row.patch) attempts.push({ method: 'PATCH', path: row.path(id), body: row.patch });
    if (row.put) attempts.push({ method: 'PUT', path: row.path(id), body: row.put });
    for (const act of row.actions ?? []) attempts.push({ method: 'POST', path: row.path(id) + act.suffix, body: act.body ?? {} });
    if (row.delete) attempts.push({ method: 'DELETE', path: row.path(id) });

    const unknownId = id.slice(0, -4) + (id.endsWith('zzzz') ? 'yyyy' : 'zzzz');
    for (const attempt of attempts) {
      const res = await call(attempt.path, { method: attempt.method, token, body: attempt.body });
      expect({ attempt: `${attempt.method} ${attempt.path}`, status: res.status }).toEqual({
        attempt: `${attempt.method} ${attempt.path}`,
        status: 404,
      });
      const body = await expectProblem(res, 404);
      // No oracle: A's id looks exactly like an id that exists nowhere.
      const miss = await call(attempt.path.replace(id, unknownId), { method: attempt.method, token, body: attempt.body });
      const missBody = await expectProblem(miss, 404);
      expect(shape(body, id)).toEqual(shape(missBody, unknownId));
    }

    const bList = await expectJson(await call(row.list, { token }), 200);
    const idOf = row.idOf ?? ((x: Record<string, any>) => x.id);
    expect(bList.data.map(idOf)).not.toContain(id);
    expect(JSON.stringify(bList)).not.toContain(id);

    // A's rows (and A's view of the resource) are unchanged, and nothing was written to A's audit log.
    expect(await snapshotTenant(a.tenantId)).toEqual(before);
    expect(await auditCount(a.tenantId)).toBe(auditBefore);
    expect(await expectJson(await call(row.path(id), { token: a.accessToken }), 200)).toEqual(aView);
    const aList = await expectJson(await call(row.list, { token: a.accessToken }), 200);
    expect(aList.data.map(idOf)).toContain(id);
  });
});

describe('tenant isolation: the tenant comes from the credential only', () => {
  it('/v1/me and /v1/tenant ignore a tenant id in the query, headers or body', async () => {
    const { a, b } = await setupTenants();
    const nameA = (await expectJson(await call('/v1/tenant', { token: a.accessToken }), 200)).name;
    const me = await expectJson(
      await call(`/v1/me?tenantId=${a.tenantId}&tid=${a.tenantId}`, { token: b.admin.accessToken, headers: { 'x-tenant-id': a.tenantId } }),
      200,
    );
    expect(me.tenant.id).toBe(b.admin.tenantId);
    const t = await expectJson(
      await call(`/v1/tenant?tenantId=${a.tenantId}`, { token: b.key, headers: { 'x-tenant-id': a.tenantId } }),
      200,
    );
    expect(t.id).toBe(b.admin.tenantId);
    await expectProblem(
      await call('/v1/tenant', { method: 'PATCH', token: b.admin.accessToken, body: { name: 'pwned', tenantId: a.tenantId } }),
      422,
    );
    expect((await expectJson(await call('/v1/tenant', { token: a.accessToken }), 200)).name).toBe(nameA);
  });

  it("B's lists (members, invitations, api-keys, audit-log) contain only B's rows", async () => {
    const { a, b } = await setupTenants();
    const aMember = await addMember(a, 'member');
    await createApiKey(a, 'viewer');
    const aSnapshot = await snapshotTenant(a.tenantId);
    const aIds = new Set<string>([a.userId, aMember.userId, a.tenantId]);
    for (const inv of aSnapshot.invitations as Array<{ id: string }>) aIds.add(inv.id);
    for (const k of aSnapshot.api_keys as Array<{ id: string }>) aIds.add(k.id);
    for (const path of ['/v1/members?limit=100', '/v1/invitations?limit=100', '/v1/api-keys?limit=100', '/v1/audit-log?limit=100']) {
      for (const token of [b.admin.accessToken, b.key]) {
        const text = JSON.stringify(await expectJson(await call(path, { token }), 200));
        for (const aid of aIds) expect(text, `${path} leaks ${aid}`).not.toContain(aid);
      }
    }
  });

  it("a forged cursor holding A's id does not reveal A's rows", async () => {
    const { a, b } = await setupTenants();
    const keyA = await createApiKey(a, 'viewer');
    const cursor = btoa('key_zzzzzzzzzzzzzzzzzzzzzzzzzz').replace(/=+$/, '');
    const page = await expectJson(await call(`/v1/api-keys?cursor=${cursor}`, { token: b.admin.accessToken }), 200);
    expect(JSON.stringify(page)).not.toContain(keyA.id);
  });
});

// ---------------------------------------------------------------------------------------------
// Webhooks and their deliveries (events issue). A separate block rather than RESOURCES rows:
// deliveries are nested under their endpoint, so their list is not a fixed path.
// ---------------------------------------------------------------------------------------------

async function webhookRows(tenantId: string) {
  const { env } = await import('cloudflare:workers');
  const q = (sql: string) =>
    env.DB.prepare(sql)
      .bind(tenantId)
      .all()
      .then((r) => r.results);
  return {
    endpoints: await q('SELECT * FROM webhook_endpoints WHERE tenant_id = ? ORDER BY id'),
    deliveries: await q(
      'SELECT id, status, attempts, round_start, next_attempt_at FROM webhook_deliveries WHERE tenant_id = ? ORDER BY id',
    ),
  };
}

/** A webhook of A with one delivery (a task.created event to a receiver URL that is never reached). */
async function webhookWithDelivery(a: TestTenant): Promise<{ hookId: string; deliveryId: string }> {
  const hook = await expectJson(
    await call('/v1/webhooks', {
      token: a.accessToken,
      body: { url: `${inject('webhookReceiverUrl')}/hooks/iso-a`, eventTypes: ['task.created'] },
    }),
    201,
  );
  await expectJson(await call('/v1/tasks', { token: a.accessToken, body: { title: 'iso webhook' } }), 201);
  for (let i = 0; i < 100; i++) {
    const page = await expectJson(await call(`/v1/webhooks/${hook.id}/deliveries`, { token: a.accessToken }), 200);
    if (page.data[0]?.attempts > 0) return { hookId: hook.id, deliveryId: page.data[0].id };
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('no delivery appeared');
}

describe('tenant isolation: webhooks and deliveries', () => {
  it.each(ATTACKERS)("with $label: every webhook and delivery route on A's ids → 404, A unchanged", async (attacker) => {
    const { a, b } = await setupTenants();
    const { hookId, deliveryId } = await webhookWithDelivery(a);
    const token = attacker.token(b);
    const before = await webhookRows(a.tenantId);
    const aHook = await expectJson(await call(`/v1/webhooks/${hookId}`, { token: a.accessToken }), 200);
    const since = { since: new Date(Date.now() - 3600_000).toISOString() };
    const probes: Array<{ method: string; path: (h: string, d: string) => string; body?: unknown; id: 'hook' | 'delivery' }> = [
      { method: 'GET', path: (h) => `/v1/webhooks/${h}`, id: 'hook' },
      { method: 'PATCH', path: (h) => `/v1/webhooks/${h}`, body: { url: 'https://attacker.example/steal', enabled: true }, id: 'hook' },
      { method: 'POST', path: (h) => `/v1/webhooks/${h}/rotate-secret`, body: {}, id: 'hook' },
      { method: 'POST', path: (h) => `/v1/webhooks/${h}/test`, id: 'hook' },
      { method: 'POST', path: (h) => `/v1/webhooks/${h}/recover`, body: since, id: 'hook' },
      { method: 'GET', path: (h) => `/v1/webhooks/${h}/deliveries`, id: 'hook' },
      { method: 'GET', path: (h, d) => `/v1/webhooks/${h}/deliveries/${d}`, id: 'delivery' },
      { method: 'POST', path: (h, d) => `/v1/webhooks/${h}/deliveries/${d}/replay`, id: 'delivery' },
      { method: 'DELETE', path: (h) => `/v1/webhooks/${h}`, id: 'hook' },
    ];
    const unknown = (id: string) => id.slice(0, -4) + (id.endsWith('zzzz') ? 'yyyy' : 'zzzz');
    for (const p of probes) {
      const path = p.path(hookId, deliveryId);
      const res = await call(path, { method: p.method, token, body: p.body });
      expect({ probe: `${p.method} ${path}`, status: res.status }).toEqual({ probe: `${p.method} ${path}`, status: 404 });
      const body = await expectProblem(res, 404);
      const real = p.id === 'hook' ? hookId : deliveryId;
      const missPath = p.id === 'hook' ? p.path(unknown(hookId), deliveryId) : p.path(hookId, unknown(deliveryId));
      const miss = await expectProblem(await call(missPath, { method: p.method, token, body: p.body }), 404);
      expect(shape(body, real)).toEqual(shape(miss, unknown(real)));
    }
    // B's own deliveries route for its own webhook never shows A's delivery.
    const bHook = await expectJson(
      await call('/v1/webhooks', { token, body: { url: `${inject('webhookReceiverUrl')}/hooks/iso-b` } }),
      201,
    );
    const bLists = [
      await call('/v1/webhooks?limit=100', { token }),
      await call(`/v1/webhooks/${bHook.id}/deliveries?limit=100`, { token }),
    ];
    for (const res of bLists) {
      const text = JSON.stringify(await expectJson(res, 200));
      expect(text).not.toContain(hookId);
      expect(text).not.toContain(deliveryId);
    }
    expect(await webhookRows(a.tenantId)).toEqual(before);
    expect(await expectJson(await call(`/v1/webhooks/${hookId}`, { token: a.accessToken }), 200)).toEqual(aHook);
  });
});

// ---------------------------------------------------------------------------------------------
// LLM providers (flows issue, item 8). A separate block: creating one needs a unique name, and the
// row holds an encrypted key whose ciphertext must also stay untouched. Needs llmProviderRoutes
// mounted in src/app.ts.
// ---------------------------------------------------------------------------------------------

async function llmProviderRows(tenantId: string) {
  const { env } = await import('cloudflare:workers');
  return (await env.DB.prepare('SELECT * FROM llm_providers WHERE tenant_id = ? ORDER BY id').bind(tenantId).all()).results;
}

describe('tenant isolation: llm providers', () => {
  it.each(ATTACKERS)(
    "with $label: GET/DELETE on A's provider id → 404 like an unknown id; lists and names stay per tenant",
    async (attacker) => {
      const { a, b } = await setupTenants();
      const created = await expectJson(
        await call('/v1/llm/providers', {
          token: a.accessToken,
          body: {
            name: 'shared-name',
            kind: 'openai',
            baseUrl: 'https://llm.example.com/v1',
            apiKey: 'sk-iso-a-0123456789abcdef',
            models: { fast: { model: 'm' } },
          },
        }),
        201,
      );
      const id: string = created.id;
      const token = attacker.token(b);
      const before = await llmProviderRows(a.tenantId);
      const aView = await expectJson(await call(`/v1/llm/providers/${id}`, { token: a.accessToken }), 200);
      const unknownId = id.slice(0, -4) + (id.endsWith('zzzz') ? 'yyyy' : 'zzzz');
      for (const method of ['GET', 'DELETE']) {
        const res = await call(`/v1/llm/providers/${id}`, { method, token });
        expect({ probe: `${method} ${id}`, status: res.status }).toEqual({ probe: `${method} ${id}`, status: 404 });
        const body = await expectProblem(res, 404);
        const miss = await expectProblem(await call(`/v1/llm/providers/${unknownId}`, { method, token }), 404);
        expect(shape(body, id)).toEqual(shape(miss, unknownId));
      }
      // Names are unique per tenant only: B may use A's name, and that touches nothing of A's.
      await expectJson(
        await call('/v1/llm/providers', { token, body: { name: 'shared-name', kind: 'workers-ai', models: { fast: { model: 'm' } } } }),
        201,
      );
      const bList = JSON.stringify(await expectJson(await call('/v1/llm/providers?limit=100', { token }), 200));
      expect(bList).not.toContain(id);
      expect(await llmProviderRows(a.tenantId)).toEqual(before);
      expect(await expectJson(await call(`/v1/llm/providers/${id}`, { token: a.accessToken }), 200)).toEqual(aView);
    },
  );
});

// ---------------------------------------------------------------------------------------------
// Tools (tools issue). A separate block: besides the item routes, a tool has nested versions,
// an invocation log and /invoke (which must not run A's code for B), and names are unique per
// tenant only. Invocations have ids but no item route; their only list is under A's tool.
// ---------------------------------------------------------------------------------------------

async function toolRows(tenantId: string) {
  const { env } = await import('cloudflare:workers');
  const q = (sql: string) =>
    env.DB.prepare(sql)
      .bind(tenantId)
      .all()
      .then((r) => r.results);
  return {
    tools: await q('SELECT * FROM tools WHERE tenant_id = ? ORDER BY id'),
    versions: await q('SELECT * FROM tool_versions WHERE tenant_id = ? ORDER BY tool_id, version'),
    invocations: await q('SELECT * FROM tool_invocations WHERE tenant_id = ? ORDER BY id'),
  };
}

describe('tenant isolation: tools', () => {
  it.each(ATTACKERS)("with $label: every route on A's tool id → 404 like an unknown id; A's code never runs for B", async (attacker) => {
    const { a, b } = await setupTenants();
    const tool = { name: 'shared-tool-name', runtime: 'python3', code: 'def main(input):\n    return "A ran"\n', inputSchema: true };
    const created = await expectJson(await call('/v1/tools', { token: a.accessToken, body: tool }), 201);
    const id: string = created.id;
    const run = await expectJson(await call(`/v1/tools/${id}/invoke`, { token: a.accessToken, body: { input: null } }), 200);
    expect(run).toMatchObject({ ok: true, output: 'A ran' });
    const invocationId: string = run.invocationId;
    const token = attacker.token(b);
    const before = await toolRows(a.tenantId);
    const aView = await expectJson(await call(`/v1/tools/${id}`, { token: a.accessToken }), 200);

    const unknownId = id.slice(0, -4) + (id.endsWith('zzzz') ? 'yyyy' : 'zzzz');
    const probes: Array<{ method: string; suffix: string; body?: unknown }> = [
      { method: 'GET', suffix: '' },
      { method: 'PATCH', suffix: '', body: { code: 'def main(input):\n    return "pwned"\n' } },
      { method: 'GET', suffix: '/versions' },
      { method: 'GET', suffix: '/invocations' },
      { method: 'POST', suffix: '/invoke', body: { input: null } },
      { method: 'POST', suffix: '/invoke', body: { input: null, version: 1 } },
      { method: 'DELETE', suffix: '' },
    ];
    for (const p of probes) {
      const path = `/v1/tools/${id}${p.suffix}`;
      const res = await call(path, { method: p.method, token, body: p.body });
      expect({ probe: `${p.method} ${path}`, status: res.status }).toEqual({ probe: `${p.method} ${path}`, status: 404 });
      const body = await expectProblem(res, 404);
      const miss = await expectProblem(await call(`/v1/tools/${unknownId}${p.suffix}`, { method: p.method, token, body: p.body }), 404);
      expect(shape(body, id)).toEqual(shape(miss, unknownId));
    }
    // Names are unique per tenant only: B may use A's name; B's list and B's own log never show A's ids.
    const bTool = await expectJson(await call('/v1/tools', { token, body: tool }), 201);
    await expectJson(await call(`/v1/tools/${bTool.id}/invoke`, { token, body: { input: null } }), 200);
    for (const path of ['/v1/tools?limit=100', `/v1/tools/${bTool.id}/versions`, `/v1/tools/${bTool.id}/invocations`]) {
      const text = JSON.stringify(await expectJson(await call(path, { token }), 200));
      expect(text, path).not.toContain(id);
      expect(text, path).not.toContain(invocationId);
    }
    expect(await toolRows(a.tenantId)).toEqual(before);
    expect(await expectJson(await call(`/v1/tools/${id}`, { token: a.accessToken }), 200)).toEqual(aView);
    const aLog = await expectJson(await call(`/v1/tools/${id}/invocations`, { token: a.accessToken }), 200);
    expect(aLog.data.map((r: { id: string }) => r.id)).toEqual([invocationId]);
  });
});

// ---------------------------------------------------------------------------------------------
// Flows and runs (flows issue, item 9). A separate block: a flow has nested versions and starts
// runs; a run is reached through its own routes (state, SSE, WebSocket, cancel/signal/resume/rerun),
// and its state lives in a FlowRun object, which must be untouched too. A's run waits on an
// approval, so a successful signal/cancel by B would show.
// ---------------------------------------------------------------------------------------------

async function flowRunRows(tenantId: string) {
  const { env } = await import('cloudflare:workers');
  const q = (sql: string) =>
    env.DB.prepare(sql)
      .bind(tenantId)
      .all()
      .then((r) => r.results);
  return {
    flows: await q('SELECT * FROM flows WHERE tenant_id = ? ORDER BY id'),
    versions: await q('SELECT * FROM flow_versions WHERE tenant_id = ? ORDER BY flow_id, version'),
    runs: await q('SELECT * FROM runs WHERE tenant_id = ? ORDER BY id'),
  };
}

/** A flow of A (one version) with one run waiting for approval (settled in D1 too). */
async function flowWithWaitingRun(a: TestTenant): Promise<{ flowId: string; runId: string }> {
  const definition = {
    nodes: [
      { id: 'ok', type: 'approval', config: {} },
      { id: 'after', type: 'transform', config: { expression: 'nodes.ok.output' } },
    ],
    edges: [{ from: 'ok', to: 'after' }],
  };
  const flow = await expectJson(await call('/v1/flows', { token: a.accessToken, body: { name: 'iso flow', definition } }), 201);
  const run = await expectJson(await call(`/v1/flows/${flow.id}/runs`, { token: a.accessToken, body: { input: {} } }), 201);
  for (let i = 0; i < 200; i++) {
    const page = await expectJson(await call(`/v1/runs?flowId=${flow.id}`, { token: a.accessToken }), 200);
    if (page.data[0]?.status === 'waiting') return { flowId: flow.id, runId: run.id };
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('the run never reached waiting');
}

describe('tenant isolation: flows and runs', () => {
  it.each(ATTACKERS)(
    "with $label: every flow and run route on A's ids → 404 like an unknown id; lists stay per tenant; A unchanged",
    async (attacker) => {
      const { a, b } = await setupTenants();
      const { flowId, runId } = await flowWithWaitingRun(a);
      const token = attacker.token(b);
      const before = await flowRunRows(a.tenantId);
      const aFlow = await expectJson(await call(`/v1/flows/${flowId}`, { token: a.accessToken }), 200);
      const aRun = await expectJson(await call(`/v1/runs/${runId}`, { token: a.accessToken }), 200);
      const definition = { nodes: [{ id: 'pwn', type: 'transform', config: { expression: '"pwned"' } }] };
      const probes: Array<{ method: string; path: (id: string) => string; body?: unknown; id: 'flow' | 'run' }> = [
        { method: 'GET', path: (f) => `/v1/flows/${f}`, id: 'flow' },
        { method: 'GET', path: (f) => `/v1/flows/${f}?version=1`, id: 'flow' },
        { method: 'PUT', path: (f) => `/v1/flows/${f}`, body: { name: 'pwned', definition }, id: 'flow' },
        { method: 'GET', path: (f) => `/v1/flows/${f}/versions`, id: 'flow' },
        { method: 'POST', path: (f) => `/v1/flows/${f}/runs`, body: { input: {} }, id: 'flow' },
        { method: 'GET', path: (r) => `/v1/runs/${r}`, id: 'run' },
        { method: 'GET', path: (r) => `/v1/runs/${r}/events`, id: 'run' },
        { method: 'GET', path: (r) => `/v1/runs/${r}/ws`, id: 'run' },
        { method: 'POST', path: (r) => `/v1/runs/${r}/signal`, body: { payload: { approved: true } }, id: 'run' },
        { method: 'POST', path: (r) => `/v1/runs/${r}/signal`, body: { node: 'ok', payload: 1 }, id: 'run' },
        { method: 'POST', path: (r) => `/v1/runs/${r}/rerun`, body: { fromNode: 'after', input: {} }, id: 'run' },
        { method: 'POST', path: (r) => `/v1/runs/${r}/resume`, id: 'run' },
        { method: 'POST', path: (r) => `/v1/runs/${r}/cancel`, body: { reason: 'pwned' }, id: 'run' },
        { method: 'DELETE', path: (f) => `/v1/flows/${f}`, id: 'flow' },
      ];
      const unknown = (id: string) => id.slice(0, -4) + (id.endsWith('zzzz') ? 'yyyy' : 'zzzz');
      for (const p of probes) {
        const real = p.id === 'flow' ? flowId : runId;
        const path = p.path(real);
        const res = await call(path, { method: p.method, token, body: p.body });
        expect({ probe: `${p.method} ${path}`, status: res.status }).toEqual({ probe: `${p.method} ${path}`, status: 404 });
        const body = await expectProblem(res, 404);
        const miss = await expectProblem(await call(p.path(unknown(real)), { method: p.method, token, body: p.body }), 404);
        expect(shape(body, real)).toEqual(shape(miss, unknown(real)));
      }
      // B's lists (even filtered by A's flow id) never show A's flow or run.
      const bFlow = await expectJson(await call('/v1/flows', { token, body: { name: 'iso flow', definition } }), 201);
      await expectJson(await call(`/v1/flows/${bFlow.id}/runs`, { token, body: { input: {} } }), 201);
      for (const path of [
        '/v1/flows?limit=100',
        '/v1/runs?limit=100',
        `/v1/runs?flowId=${flowId}`,
        '/v1/runs?status=waiting',
        `/v1/flows/${bFlow.id}/versions`,
      ]) {
        const text = JSON.stringify(await expectJson(await call(path, { token }), 200));
        expect(text, path).not.toContain(flowId);
        expect(text, path).not.toContain(runId);
      }
      // A's rows, A's run state and A's views are unchanged; A still sees its own.
      expect(await flowRunRows(a.tenantId)).toEqual(before);
      expect(await expectJson(await call(`/v1/flows/${flowId}`, { token: a.accessToken }), 200)).toEqual(aFlow);
      expect(await expectJson(await call(`/v1/runs/${runId}`, { token: a.accessToken }), 200)).toEqual(aRun);
      expect(aRun.status).toBe('waiting');
      const aRuns = await expectJson(await call('/v1/runs?limit=100', { token: a.accessToken }), 200);
      expect(aRuns.data.map((r: { id: string }) => r.id)).toEqual([runId]);
      const aFlows = await expectJson(await call('/v1/flows?limit=100', { token: a.accessToken }), 200);
      expect(aFlows.data.map((f: { id: string }) => f.id)).toEqual([flowId]);
    },
  );
});
