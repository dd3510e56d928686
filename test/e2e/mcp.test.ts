/**
 * The remote MCP server at /mcp over real HTTP, driven by the official MCP client SDK
 * (`Client` + `StreamableHTTPClientTransport`) against the bundled Worker on workerd:
 * tools listed with annotations and JSON Schema 2020-12 inputs, batch add that a retry
 * does not duplicate, complete/reschedule/delete, search/fetch, a flow run whose approval
 * is answered through MCP, tenant isolation, roles, 401 without a credential, a foreign
 * Origin refused, and the protocol revisions negotiated.
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { CallToolResultSchema, CreateTaskResultSchema, LATEST_PROTOCOL_VERSION } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api as request } from '../support/node/api';
import { type RunningWorker, startWorker } from '../support/node/worker';
import { signupWith } from '../support/shared/tenants';
import { eventually } from '../support/shared/time';

type Json = Record<string, any>;

let worker: RunningWorker;
beforeAll(async () => {
  worker = await startWorker();
});
afterAll(() => worker?.dispose());

const api = (method: string, path: string, token: string | undefined, body?: unknown) => request(worker, method, path, token, body);

let ips = 0;
/** A new tenant; each from its own client address, since signups are rate-limited per IP (RL_AUTH). */
const signup = (_worker: RunningWorker, tag: string) =>
  signupWith((path, init) => worker.fetch(path, init), tag, { 'cf-connecting-ip': `10.18.${++ips}.1` });

const clients: Client[] = [];
afterAll(async () => {
  await Promise.allSettled(clients.map((c) => c.close()));
});

/** An MCP client connected to /mcp with `Authorization: Bearer <credential>`. */
async function connect(credential: string): Promise<Client> {
  const transport = new StreamableHTTPClientTransport(new URL('/mcp', worker.url), {
    requestInit: { headers: { authorization: `Bearer ${credential}` } },
  });
  const client = new Client({ name: 'edgecrew-e2e', version: '1.0.0' });
  await client.connect(transport);
  clients.push(client);
  return client;
}

/** A tool call's structured result; fails the test on a tool error unless `expectError`. */
async function call(client: Client, name: string, args: Json): Promise<Json> {
  const res = (await client.callTool({ name, arguments: args })) as Json;
  if (res.isError) throw new Error(`${name} failed: ${res.content?.[0]?.text}`);
  expect(JSON.parse(res.content[0].text)).toEqual(res.structuredContent);
  return res.structuredContent as Json;
}

/** The problem a tool call answered with (`isError: true`). */
async function callProblem(client: Client, name: string, args: Json): Promise<Json> {
  const res = (await client.callTool({ name, arguments: args })) as Json;
  expect(res.isError).toBe(true);
  return JSON.parse(res.content[0].text) as Json;
}

async function tenant(tag: string) {
  const t = await signup(worker, `e2e-mcp-${tag}`);
  return { ...t, client: await connect(t.accessToken) };
}

const initialize = (protocolVersion: string) => ({
  jsonrpc: '2.0',
  id: 1,
  method: 'initialize',
  params: { protocolVersion, capabilities: {}, clientInfo: { name: 'raw', version: '0' } },
});

async function rawPost(body: unknown, headers: Record<string, string>): Promise<Response> {
  return worker.fetch('/mcp', {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...headers },
    body: JSON.stringify(body),
  });
}

describe('MCP server at /mcp', () => {
  it('answers 401 with WWW-Authenticate without a credential, and the client SDK fails to connect', async () => {
    const res = await rawPost(initialize(LATEST_PROTOCOL_VERSION), {});
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toMatch(/^Bearer/);
    expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);

    const bad = await rawPost(initialize(LATEST_PROTOCOL_VERSION), { authorization: 'Bearer not-a-real-key' });
    expect(bad.status).toBe(401);

    const transport = new StreamableHTTPClientTransport(new URL('/mcp', worker.url));
    await expect(new Client({ name: 'anon', version: '1' }).connect(transport)).rejects.toThrow();
  });

  it('refuses a foreign Origin (DNS rebinding) even with a valid credential; loopback and no Origin (a native client) are served', async () => {
    const t = await signup(worker, 'e2e-mcp-origin');
    const auth = { authorization: `Bearer ${t.accessToken}` };
    const foreign = await rawPost(initialize(LATEST_PROTOCOL_VERSION), { ...auth, origin: 'http://evil.example' });
    expect(foreign.status).toBe(403);
    // A page on a loopback origin calling the loopback server (local development) is served.
    const local = await rawPost(initialize(LATEST_PROTOCOL_VERSION), { ...auth, origin: worker.url });
    expect(local.status).toBe(200);
    const native = await rawPost(initialize(LATEST_PROTOCOL_VERSION), auth);
    expect(native.status).toBe(200);
  });

  it('negotiates the current protocol revision and the previous one; GET and DELETE are 405 (stateless)', async () => {
    const t = await signup(worker, 'e2e-mcp-versions');
    const auth = { authorization: `Bearer ${t.accessToken}` };
    for (const version of [LATEST_PROTOCOL_VERSION, '2025-06-18', '2025-03-26']) {
      const res = await rawPost(initialize(version), auth);
      expect(res.status).toBe(200);
      expect(res.headers.get('mcp-session-id')).toBeNull();
      const body = (await res.json()) as Json;
      expect(body.result.protocolVersion).toBe(version);
      expect(body.result.serverInfo.name).toBe('edgecrew');
    }
    expect(LATEST_PROTOCOL_VERSION).toBe('2025-11-25');
    for (const method of ['GET', 'DELETE']) {
      const res = await worker.fetch('/mcp', { method, headers: { ...auth, accept: 'text/event-stream' } });
      expect(res.status).toBe(405);
      expect(res.headers.get('allow')).toBe('POST');
    }
  });

  it('lists the tools with annotations and JSON Schema 2020-12 inputs', async () => {
    const { client } = await tenant('list');
    const { tools } = await client.listTools();
    expect(tools.map((t) => t.name).sort()).toEqual(
      [
        'add_tasks',
        'answer_approval',
        'complete_tasks',
        'delete_tasks',
        'fetch',
        'find_tasks',
        'get_run',
        'invoke_tool',
        'list_flows',
        'reschedule_tasks',
        'run_flow',
        'search',
      ].sort(),
    );
    const byName = Object.fromEntries(tools.map((t) => [t.name, t]));
    expect(byName.find_tasks!.annotations).toMatchObject({ readOnlyHint: true, destructiveHint: false, idempotentHint: true });
    expect(byName.delete_tasks!.annotations).toMatchObject({ readOnlyHint: false, destructiveHint: true, idempotentHint: true });
    expect(byName.add_tasks!.annotations).toMatchObject({ readOnlyHint: false, destructiveHint: false });
    expect(byName.run_flow!.execution).toEqual({ taskSupport: 'optional' });
    expect(byName.find_tasks!.execution).toBeUndefined();
    for (const t of tools) {
      expect(t.inputSchema.type).toBe('object');
      expect((t.inputSchema as Json).$schema).toBe('https://json-schema.org/draft/2020-12/schema');
    }
    const add = byName.add_tasks!.inputSchema as Json;
    expect(add.required).toEqual(['tasks']);
    expect(add.properties.tasks.maxItems).toBe(50);
  });

  it('adds tasks in a batch that a retry with the same idempotencyKey does not duplicate, then finds, completes, reschedules and deletes', async () => {
    const t = await tenant('tasks');
    const client = t.client;
    const args = {
      tasks: [{ title: 'buy milk', labels: ['home'] }, { title: 'file taxes', priority: 1, dueDate: '2026-12-24' }, { title: 'call mom' }],
      idempotencyKey: 'batch-1',
    };
    const first = await call(client, 'add_tasks', args);
    expect(first.replayed).toBe(false);
    expect(first.created.map((t: Json) => t.title)).toEqual(['buy milk', 'file taxes', 'call mom']);
    const again = await call(client, 'add_tasks', args);
    expect(again.replayed).toBe(true);
    expect(again.created.map((t: Json) => t.id)).toEqual(first.created.map((t: Json) => t.id));

    const reused = await callProblem(client, 'add_tasks', { ...args, tasks: [{ title: 'something else' }] });
    expect(reused).toMatchObject({ status: 422, type: expect.stringContaining('idempotency-key-reused') });

    const all = await call(client, 'find_tasks', {});
    expect(all.tasks).toHaveLength(3);
    expect((await call(client, 'find_tasks', { q: 'taxes' })).tasks.map((t: Json) => t.title)).toEqual(['file taxes']);
    const paged = await call(client, 'find_tasks', { limit: 2 });
    expect(paged.tasks).toHaveLength(2);
    const rest = await call(client, 'find_tasks', { limit: 2, cursor: paged.nextCursor });
    expect(rest.tasks).toHaveLength(1);
    expect(rest.nextCursor).toBeNull();

    const [milk, taxes, mom] = first.created as Json[];
    const done = await call(client, 'complete_tasks', { ids: [milk!.id, 'tsk_does_not_exist'] });
    expect(done).toMatchObject({ succeeded: 1, failed: 1 });
    expect(done.results[0]).toMatchObject({ id: milk!.id, ok: true, task: { status: 'done' } });
    expect(done.results[1]).toMatchObject({ ok: false, error: { status: 404, code: 'not_found' } });

    const moved = await call(client, 'reschedule_tasks', { items: [{ id: taxes!.id, dueAt: '2027-01-05T09:00:00Z' }] });
    expect(moved.results[0].task).toMatchObject({ dueAt: '2027-01-05T09:00:00.000Z', dueDate: null });
    // The same task over HTTP: one service, one store.
    const http = await api('GET', `/v1/tasks/${taxes!.id}`, t.accessToken);
    expect(http.body).toMatchObject({
      id: taxes!.id,
      dueAt: '2027-01-05T09:00:00.000Z',
      dueDate: null,
      version: moved.results[0].task.version,
    });

    const deleted = await call(client, 'delete_tasks', { ids: [mom!.id] });
    expect(deleted).toMatchObject({ succeeded: 1, failed: 0 });
    expect((await call(client, 'find_tasks', { status: 'open' })).tasks.map((t: Json) => t.id)).toEqual([taxes!.id]);

    // A task refused mid-batch: the ones before it stay created, and a retry replays that outcome.
    const partialArgs = { tasks: [{ title: 'first' }, { title: 'second', assigneeId: 'usr_not_a_member' }], idempotencyKey: 'batch-2' };
    const partial = await call(client, 'add_tasks', partialArgs);
    expect(partial.created.map((x: Json) => x.title)).toEqual(['first']);
    expect(partial.failed).toMatchObject({ index: 1, status: 422 });
    const partialAgain = await call(client, 'add_tasks', partialArgs);
    expect(partialAgain).toMatchObject({ replayed: true, created: partial.created, failed: partial.failed });
    expect((await call(client, 'find_tasks', { q: 'first' })).tasks).toHaveLength(1);

    const invalid = await callProblem(client, 'add_tasks', { tasks: [] });
    expect(invalid).toMatchObject({ status: 422 });
    expect(invalid.errors[0].path).toBe('tasks');
  });

  it('search and fetch read tasks', async () => {
    const { client } = await tenant('search');
    const { created } = await call(client, 'add_tasks', { tasks: [{ title: 'renew passport', notes: 'bring photos' }] });
    const found = await call(client, 'search', { query: 'passport' });
    expect(found.results).toEqual([{ id: created[0].id, title: 'renew passport', url: `${worker.url}/v1/tasks/${created[0].id}` }]);
    const doc = await call(client, 'fetch', { id: created[0].id });
    expect(doc).toMatchObject({ id: created[0].id, title: 'renew passport', url: found.results[0].url });
    expect(doc.text).toContain('bring photos');
  });

  it('search and fetch read knowledge-base documents, whole, and only the tenant own', async () => {
    const t = await tenant('kb');
    const kb = await api('POST', '/v1/knowledge-bases', t.accessToken, { name: 'handbook', chunking: { maxTokens: 16, overlap: 4 } });
    expect(kb.status).toBe(201);
    const content = [
      'Refunds are issued within fourteen days of a return. The customer keeps the receipt and ships the parcel with tracking.',
      'Warehouse staff inspect every parcel on arrival, record its condition, and approve the refund once the item is resellable.',
      'Damaged items go back to the supplier under the quarterly claims process.',
    ].join('\n\n');
    const up = await api('POST', `/v1/knowledge-bases/${kb.body.id}/documents`, t.accessToken, {
      source: 'policies/refunds.txt',
      title: 'Refund policy',
      content,
      metadata: { team: 'support' },
    });
    expect(up.status).toBe(202);
    const docPath = `/v1/knowledge-bases/${kb.body.id}/documents/${up.body.documentId}`;
    const indexed = await eventually(
      async () => {
        const d = await api('GET', docPath, t.accessToken);
        return d.body.status === 'queued' ? undefined : d.body;
      },
      { timeoutMs: 20_000, what: 'the document indexed' },
    );
    expect(indexed).toMatchObject({ status: 'indexed' });
    expect(indexed.chunks).toBeGreaterThan(2);
    await call(t.client, 'add_tasks', { tasks: [{ title: 'approve the parcel refund' }] });

    const found = await call(t.client, 'search', { query: 'parcel refund' });
    const id = `kb:${kb.body.id}:${up.body.documentId}`;
    expect(found.results.map((r: Json) => r.id)).toContain(id);
    expect(found.results.filter((r: Json) => r.id.startsWith('tsk_'))).toHaveLength(1);
    const hit = found.results.find((r: Json) => r.id === id);
    expect(hit).toMatchObject({ title: 'Refund policy', url: `${worker.url}${docPath}` });
    expect(hit.text).toMatch(/parcel|refund/i);

    const doc = await call(t.client, 'fetch', { id });
    // The text is the document again, put together from its overlapping chunks (words once each, in order;
    // the chunker keeps single line breaks, so only whitespace may differ).
    expect(doc).toMatchObject({ id, title: 'Refund policy', url: hit.url });
    const words = (s: string) => s.split(/\s+/).join(' ');
    expect(words(doc.text)).toBe(words(content));
    expect(doc.metadata).toMatchObject({ team: 'support', knowledgeBaseId: kb.body.id, source: 'policies/refunds.txt', status: 'indexed' });

    const other = await tenant('kb-other');
    expect((await call(other.client, 'search', { query: 'parcel refund' })).results).toEqual([]);
    expect(await callProblem(other.client, 'fetch', { id })).toMatchObject({ status: 404 });
    expect(await callProblem(t.client, 'fetch', { id: `kb:${kb.body.id}:kdoc_nope` })).toMatchObject({ status: 404 });
  });

  it('runs a flow, stops at its approval, and finishes once the approval is answered through MCP', async () => {
    const t = await tenant('approval');
    const flow = await api('POST', '/v1/flows', t.accessToken, {
      name: 'mcp approval',
      definition: {
        nodes: [
          { id: 'a', type: 'transform', config: { expression: 'input.n' } },
          { id: 'gate', type: 'approval', config: {} },
          { id: 'b', type: 'transform', config: { expression: 'nodes.a.output + nodes.gate.output.add' } },
        ],
        edges: [
          { from: 'a', to: 'gate' },
          { from: 'gate', to: 'b' },
        ],
      },
    });
    expect(flow.status).toBe(201);
    const listed = await call(t.client, 'list_flows', {});
    expect(listed.flows.map((f: Json) => f.id)).toEqual([flow.body.id]);

    const started = await call(t.client, 'run_flow', { flowId: flow.body.id, input: { n: 1 } });
    expect(started.status).toBe('waiting');
    expect(started.waitingOn).toEqual([{ node: 'gate', type: 'approval' }]);
    const polled = await call(t.client, 'get_run', { runId: started.runId });
    expect(polled.nodes.find((n: Json) => n.id === 'gate').status).toBe('waiting');

    const answered = await call(t.client, 'answer_approval', {
      runId: started.runId,
      node: 'gate',
      approved: true,
      data: { add: 41 },
      waitSeconds: 20,
    });
    expect(answered.status).toBe('succeeded');
    expect(answered.output).toEqual({ b: 42 });
    // The approver is the credential's actor, as over HTTP.
    const run = await api('GET', `/v1/runs/${started.runId}`, t.accessToken);
    const gate = run.body.nodes.find((n: Json) => n.id === 'gate');
    expect(gate.output).toMatchObject({ approved: true, add: 41, approvedBy: { actorType: 'user', actorId: t.userId } });

    const unknownFlow = await callProblem(t.client, 'run_flow', { flowId: 'flw_nope' });
    expect(unknownFlow.status).toBe(404);
    const unknownTool = await callProblem(t.client, 'invoke_tool', { toolId: 'tol_nope', input: {} });
    expect(unknownTool.status).toBe(404);
  });

  it("a tenant never sees another's tasks or runs", async () => {
    const a = await tenant('iso-a');
    const b = await tenant('iso-b');
    const { created } = await call(a.client, 'add_tasks', { tasks: [{ title: 'secret plan' }] });
    const id = created[0].id as string;
    expect((await call(b.client, 'find_tasks', {})).tasks).toEqual([]);
    expect((await call(b.client, 'search', { query: 'secret' })).results).toEqual([]);
    expect(await callProblem(b.client, 'fetch', { id })).toMatchObject({ status: 404 });
    expect((await call(b.client, 'complete_tasks', { ids: [id] })).results[0]).toMatchObject({ ok: false, error: { status: 404 } });
    expect((await call(b.client, 'delete_tasks', { ids: [id] })).results[0]).toMatchObject({ ok: false, error: { status: 404 } });
    expect((await call(a.client, 'fetch', { id })).title).toBe('secret plan');

    const flow = await api('POST', '/v1/flows', a.accessToken, {
      name: 'a only',
      definition: { nodes: [{ id: 'gate', type: 'approval', config: {} }], edges: [] },
    });
    const run = await call(a.client, 'run_flow', { flowId: flow.body.id, waitSeconds: 5 });
    expect(await callProblem(b.client, 'get_run', { runId: run.runId })).toMatchObject({ status: 404 });
    expect(await callProblem(b.client, 'answer_approval', { runId: run.runId, approved: true })).toMatchObject({ status: 404 });
    expect(await callProblem(b.client, 'run_flow', { flowId: flow.body.id })).toMatchObject({ status: 404 });
    expect((await call(b.client, 'list_flows', {})).flows).toEqual([]);
  });

  it("lists the open tasks as resources and reads one as JSON; another tenant's is not found", async () => {
    const a = await tenant('res-a');
    const b = await tenant('res-b');
    const { created } = await call(a.client, 'add_tasks', {
      tasks: [{ title: 'attach me', dueDate: '2030-01-02' }, { title: 'done one' }],
    });
    await call(a.client, 'complete_tasks', { ids: [created[1].id] });
    const { resources } = await a.client.listResources();
    expect(resources).toEqual([
      {
        uri: `edgecrew://tasks/${created[0].id}`,
        name: created[0].id,
        title: 'attach me',
        description: 'Open task "attach me", due 2030-01-02',
        mimeType: 'application/json',
      },
    ]);
    const read = await a.client.readResource({ uri: resources[0]!.uri });
    expect(read.contents).toHaveLength(1);
    expect(JSON.parse((read.contents[0] as { text: string }).text)).toMatchObject({
      id: created[0].id,
      title: 'attach me',
      status: 'open',
    });
    const { resourceTemplates } = await a.client.listResourceTemplates();
    expect(resourceTemplates.map((t) => t.uriTemplate)).toEqual(['edgecrew://tasks/{taskId}']);

    expect((await b.client.listResources()).resources).toEqual([]);
    await expect(b.client.readResource({ uri: resources[0]!.uri })).rejects.toMatchObject({ code: -32002 });
    await expect(a.client.readResource({ uri: 'edgecrew://tasks/../../v1' })).rejects.toMatchObject({ code: -32002 });
  });

  it('offers prompts that lead to the outcome tools', async () => {
    const { client } = await tenant('prompts');
    const { prompts } = await client.listPrompts();
    expect(prompts.map((p) => p.name)).toEqual(['plan_day', 'capture_tasks']);
    const plan = await client.getPrompt({ name: 'plan_day', arguments: { date: '2030-01-02' } });
    expect(plan.messages[0]).toMatchObject({ role: 'user', content: { type: 'text' } });
    expect((plan.messages[0]!.content as { text: string }).text).toContain('dueTo 2030-01-02');
    const capture = await client.getPrompt({ name: 'capture_tasks', arguments: { notes: 'call Ana; renew passport by May' } });
    expect((capture.messages[0]!.content as { text: string }).text).toContain('renew passport by May');
    await expect(client.getPrompt({ name: 'capture_tasks', arguments: {} })).rejects.toMatchObject({ code: -32602 });
    await expect(client.getPrompt({ name: 'nope' })).rejects.toMatchObject({ code: -32602 });
  });

  it('an API key works as the credential and its role bounds what the tools may do', async () => {
    const t = await signup(worker, 'e2e-mcp-keys');
    const key = await api('POST', '/v1/api-keys', t.accessToken, { name: 'read only', role: 'viewer' });
    expect(key.status).toBe(201);
    const viewer = await connect(key.body.key);
    expect((await call(viewer, 'find_tasks', {})).tasks).toEqual([]);
    const refused = await callProblem(viewer, 'add_tasks', { tasks: [{ title: 'nope' }] });
    expect(refused).toMatchObject({ status: 403 });
    expect(refused.detail).toContain('data:write');
    const owner = await connect(t.accessToken);
    expect((await call(owner, 'find_tasks', {})).tasks).toEqual([]);
  });

  it('run_flow as an MCP task: the durable run is the task, input_required at the approval, a new client polls it to completed', async () => {
    const t = await tenant('tasks-ext');
    const flow = await api('POST', '/v1/flows', t.accessToken, {
      name: 'mcp task',
      definition: {
        nodes: [
          { id: 'gate', type: 'approval', config: {} },
          { id: 'b', type: 'transform', config: { expression: 'nodes.gate.output.add + 1' } },
        ],
        edges: [{ from: 'gate', to: 'b' }],
      },
    });
    expect(flow.status).toBe(201);
    const created = await t.client.request(
      { method: 'tools/call', params: { name: 'run_flow', arguments: { flowId: flow.body.id }, task: { ttl: 60_000 } } },
      CreateTaskResultSchema,
    );
    const taskId = created.task.taskId;
    expect(taskId).toMatch(/^run_/);
    expect(['working', 'input_required']).toContain(created.task.status);

    // The first client goes away; a new one (another process) finds the task, because the run is durable.
    await t.client.close();
    const second = await connect(t.accessToken);
    const waiting = await eventually(
      async () => {
        const task = await second.experimental.tasks.getTask(taskId);
        return task.status === 'input_required' ? task : undefined;
      },
      { what: 'the task to need input', timeoutMs: 15_000 },
    );
    expect(waiting.statusMessage).toContain('answer_approval');
    expect((await second.experimental.tasks.listTasks()).tasks.map((x) => x.taskId)).toEqual([taskId]);

    await call(second, 'answer_approval', { runId: taskId, node: 'gate', approved: true, data: { add: 41 }, waitSeconds: 0 });
    await eventually(async () => ((await second.experimental.tasks.getTask(taskId)).status === 'completed' ? true : undefined), {
      what: 'the task to complete',
      timeoutMs: 15_000,
    });
    const result = await second.experimental.tasks.getTaskResult(taskId, CallToolResultSchema);
    expect(result.isError).toBeFalsy();
    expect(result.structuredContent).toMatchObject({ runId: taskId, status: 'succeeded', output: { b: 42 } });

    // Another tenant cannot see it; cancelling a task cancels its run.
    const other = await tenant('tasks-ext-other');
    await expect(other.client.experimental.tasks.getTask(taskId)).rejects.toThrow(/not found/i);
    const second2 = await second.request(
      { method: 'tools/call', params: { name: 'run_flow', arguments: { flowId: flow.body.id }, task: {} } },
      CreateTaskResultSchema,
    );
    const cancelled = await second.experimental.tasks.cancelTask(second2.task.taskId);
    expect(cancelled.status).toBe('cancelled');
    const run = await api('GET', `/v1/runs/${second2.task.taskId}`, t.accessToken);
    expect(run.body.status).toBe('cancelled');

    // A task-augmented call of a tool without task support, or with bad arguments, is a JSON-RPC error.
    await expect(
      second.request({ method: 'tools/call', params: { name: 'find_tasks', arguments: {}, task: {} } }, CreateTaskResultSchema),
    ).rejects.toThrow(/does not run as a task/);
    await expect(
      second.request(
        { method: 'tools/call', params: { name: 'run_flow', arguments: { flowId: 'flw_nope' }, task: {} } },
        CreateTaskResultSchema,
      ),
    ).rejects.toThrow(/not found/i);
  });
});
