/**
 * Tenant isolation (design invariant 1), as ONE TABLE over every resource. With tenant B's valid
 * admin credentials (an access JWT and an admin API key), every route that acts on one of tenant A's
 * ids answers 404 exactly like an id that exists nowhere (never 403: no existence oracle), B's lists
 * never show it, and A's rows and A's view of it are unchanged afterwards.
 *
 * ADDING A RESOURCE = ADDING A ROW to `RESOURCES`: how A creates one through the public API, every
 * route B probes on its id (each GET/PATCH/PUT/DELETE and POST sub-action), the lists B reads, and
 * the GET through which A sees it. Nothing else changes.
 */
import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import { newId } from '../../src/lib/ids';
import { eventually } from '../support/shared/time';
import { driveAlarms, flowRun } from '../support/workers/durable-objects';
import { call, expectJson, expectProblem } from '../support/workers/http';
import { openSse } from '../support/workers/sse';
import { addMember, createApiKey, signup, type TestTenant, uniqueEmail } from '../support/workers/tenants';
import { createHook, DLQ, deliveries, runBatch } from './events/_support';
import { createTask, deliveredNotification } from './tasks/_support';

type Json = Record<string, any>;

/** Ids of what A created: `id` is the resource's own id, the rest are its parents (e.g. `hookId`). */
type Ids = { id: string } & Record<string, string>;

interface Probe {
  method: 'GET' | 'PATCH' | 'PUT' | 'DELETE' | 'POST';
  path: string;
  body?: unknown;
  headers?: Record<string, string>;
  /** The id in `path` (or `body`) swapped for an unknown one in the no-oracle comparison (default the row's id). */
  swap?: string;
}

interface IsolationRow {
  /** Name in test titles. */
  resource: string;
  /** Creates one in A (as A's admin, through the public API); resolves once it is at rest. */
  create(a: TestTenant): Promise<Ids>;
  /** What B owns that its lists nest under (B's own webhook, tool, flow, run), created as B's admin. */
  own?(b: TestTenant): Promise<Record<string, string>>;
  /** Every route B probes on A's ids. */
  probes(ids: Ids, own: Record<string, string>): Probe[];
  /** B's lists (GET) that must never show A's id. */
  lists(ids: Ids, own: Record<string, string>): string[];
  /** A's GET that reads the same before and after B's probes. */
  view(ids: Ids): string;
}

// ---------------------------------------------------------------------------------------------
// fixtures: each created through the public API, the way a client would
// ---------------------------------------------------------------------------------------------

const FLOW_WITH_APPROVAL = {
  nodes: [
    { id: 'ok', type: 'approval', config: {} },
    { id: 'after', type: 'transform', config: { expression: 'nodes.ok.output' } },
  ],
  edges: [{ from: 'ok', to: 'after' }],
};
const FLOW_TRANSFORM = { nodes: [{ id: 'only', type: 'transform', config: { expression: '"B ran"' } }] };
const AGENT = { name: 'iso agent', instructions: 'Help.', tools: [{ type: 'builtin', name: 'listTasks' }] };
const TOOL = { runtime: 'python3', code: 'def main(input):\n    return "ran"\n', inputSchema: true };

async function post(t: TestTenant, path: string, body: unknown = {}): Promise<Json> {
  return expectJson(await call(path, { token: t.accessToken, body }), 201);
}

async function flow(t: TestTenant, definition: unknown = FLOW_WITH_APPROVAL): Promise<string> {
  return (await post(t, '/v1/flows', { name: `iso-${crypto.randomUUID().slice(0, 8)}`, definition })).id;
}

/** Starts a run of `flowId` and drives its FlowRun's alarms until the run index shows one of `statuses`. */
async function run(t: TestTenant, flowId: string, statuses: string[]): Promise<string> {
  const runId: string = (await post(t, `/v1/flows/${flowId}/runs`, { input: {} })).id;
  await driveAlarms(
    flowRun(runId),
    async () => {
      const r = await expectJson(await call(`/v1/runs/${runId}`, { token: t.accessToken }));
      return statuses.includes(r.status) ? true : undefined;
    },
    { what: `run ${runId} to reach ${statuses.join('/')}` },
  );
  return runId;
}

async function tool(t: TestTenant): Promise<string> {
  return (await post(t, '/v1/tools', { ...TOOL, name: `iso-${crypto.randomUUID().slice(0, 8)}` })).id;
}

async function invocation(t: TestTenant, toolId: string): Promise<string> {
  const res = await expectJson(await call(`/v1/tools/${toolId}/invoke`, { token: t.accessToken, body: { input: null } }), 200);
  expect(res).toMatchObject({ ok: true, output: 'ran' });
  return res.invocationId;
}

/** A webhook of `t` with one delivered (succeeded) task.created delivery. */
async function delivered(t: TestTenant): Promise<{ hookId: string; deliveryId: string }> {
  const hook = await createHook(t, { tag: 'iso', eventTypes: ['task.created'] });
  await createTask(t, { title: 'iso webhook' });
  const [d] = await eventually(
    async () => {
      const list = await deliveries(t, hook.id);
      return list[0]?.status === 'succeeded' ? list : undefined;
    },
    { what: 'a succeeded delivery' },
  );
  return { hookId: hook.id, deliveryId: d!.id };
}

// ---------------------------------------------------------------------------------------------
// the table
// ---------------------------------------------------------------------------------------------

const RUN_SUB_ACTIONS = (id: string): Probe[] => [
  { method: 'POST', path: `/v1/runs/${id}/signal`, body: { payload: { approved: true } } },
  { method: 'POST', path: `/v1/runs/${id}/signal`, body: { node: 'ok', payload: 1 } },
  { method: 'POST', path: `/v1/runs/${id}/rerun`, body: { fromNode: 'after', input: {} } },
  { method: 'POST', path: `/v1/runs/${id}/resume` },
  { method: 'POST', path: `/v1/runs/${id}/cancel`, body: { reason: 'pwned' } },
];

const RESOURCES: IsolationRow[] = [
  {
    resource: 'members',
    create: async (a) => ({ id: (await addMember(a, 'member')).userId }),
    probes: ({ id }) => [
      { method: 'GET', path: `/v1/members/${id}` },
      { method: 'PATCH', path: `/v1/members/${id}`, body: { role: 'viewer' } },
      { method: 'DELETE', path: `/v1/members/${id}` },
    ],
    lists: () => ['/v1/members?limit=100'],
    view: ({ id }) => `/v1/members/${id}`,
  },
  {
    resource: 'invitations',
    create: async (a) => ({ id: (await post(a, '/v1/invitations', { email: uniqueEmail('iso-inv'), role: 'member' })).id }),
    probes: ({ id }) => [
      { method: 'GET', path: `/v1/invitations/${id}` },
      { method: 'DELETE', path: `/v1/invitations/${id}` },
    ],
    lists: () => ['/v1/invitations?limit=100'],
    view: ({ id }) => `/v1/invitations/${id}`,
  },
  {
    resource: 'api-keys',
    create: async (a) => ({ id: (await createApiKey(a, 'admin')).id }),
    probes: ({ id }) => [
      { method: 'GET', path: `/v1/api-keys/${id}` },
      { method: 'DELETE', path: `/v1/api-keys/${id}` },
    ],
    lists: () => ['/v1/api-keys?limit=100'],
    view: ({ id }) => `/v1/api-keys/${id}`,
  },
  {
    // Tasks live in the tenant's TenantHub; a recurring one with a reminder, so /complete and /reopen have work to do.
    resource: 'tasks',
    create: async (a) => {
      const body = { title: 'iso task', dueAt: '2031-01-01T09:00:00Z', recurrence: 'FREQ=DAILY', reminders: [{ before: 'PT15M' }] };
      return { id: (await post(a, '/v1/tasks', body)).id };
    },
    probes: ({ id }) => [
      { method: 'GET', path: `/v1/tasks/${id}` },
      { method: 'GET', path: `/v1/tasks/${id}/history` },
      { method: 'PATCH', path: `/v1/tasks/${id}`, body: { title: 'pwned', priority: 1 } },
      { method: 'POST', path: `/v1/tasks/${id}/complete` },
      { method: 'POST', path: `/v1/tasks/${id}/reopen` },
      { method: 'DELETE', path: `/v1/tasks/${id}` },
    ],
    lists: () => ['/v1/tasks?limit=100', '/v1/tasks?q=iso', '/v1/sync?since=0&limit=1000', '/v1/sync/snapshot?limit=100'],
    view: ({ id }) => `/v1/tasks/${id}`,
  },
  {
    // Delivered by the hub's alarm (driven, not awaited); no item GET, so A's view is its list.
    resource: 'notifications',
    create: async (a) => ({ id: (await deliveredNotification(a, 'A private reminder')).notification.id }),
    probes: ({ id }) => [
      { method: 'POST', path: `/v1/notifications/${id}/read` },
      { method: 'GET', path: `/v1/notifications/${id}/deliveries` },
    ],
    lists: () => ['/v1/notifications?limit=100', '/v1/notifications?unread=true', '/v1/sync/snapshot?limit=100'],
    view: () => '/v1/notifications?limit=100',
  },
  {
    resource: 'webhooks',
    create: async (a) => ({ id: (await createHook(a, { tag: 'iso' })).id }),
    probes: ({ id }) => [
      { method: 'GET', path: `/v1/webhooks/${id}` },
      { method: 'PATCH', path: `/v1/webhooks/${id}`, body: { url: 'https://attacker.example/steal', enabled: true } },
      { method: 'POST', path: `/v1/webhooks/${id}/rotate-secret` },
      { method: 'POST', path: `/v1/webhooks/${id}/test` },
      { method: 'POST', path: `/v1/webhooks/${id}/recover`, body: { since: new Date(Date.now() - 3600_000).toISOString() } },
      { method: 'GET', path: `/v1/webhooks/${id}/deliveries` },
      { method: 'DELETE', path: `/v1/webhooks/${id}` },
    ],
    lists: () => ['/v1/webhooks?limit=100'],
    view: ({ id }) => `/v1/webhooks/${id}`,
  },
  {
    // Nested under A's webhook: probed under A's webhook and under B's own (a lookup by id must stay within B's).
    resource: 'deliveries',
    create: async (a) => {
      const { hookId, deliveryId } = await delivered(a);
      return { id: deliveryId, hookId };
    },
    own: async (b) => ({ hookId: (await createHook(b, { tag: 'iso-b' })).id }),
    probes: ({ id, hookId }, own) => [
      { method: 'GET', path: `/v1/webhooks/${hookId}/deliveries/${id}` },
      { method: 'POST', path: `/v1/webhooks/${hookId}/deliveries/${id}/replay` },
      { method: 'GET', path: `/v1/webhooks/${own.hookId}/deliveries/${id}` },
      { method: 'POST', path: `/v1/webhooks/${own.hookId}/deliveries/${id}/replay` },
    ],
    lists: (_ids, own) => [`/v1/webhooks/${own.hookId}/deliveries?limit=100`],
    view: ({ id, hookId }) => `/v1/webhooks/${hookId}/deliveries/${id}`,
  },
  {
    // Written by the dead-letter queue's consumer (an event of A's that exhausted its retries); no item route.
    resource: 'dead letters',
    create: async (a) => {
      const event = {
        id: newId('evt'),
        type: 'task.created',
        tenantId: a.tenantId,
        occurredAt: new Date().toISOString(),
        sequence: 1,
        data: {},
      };
      expect((await runBatch([event], {}, DLQ)).explicitAcks).toHaveLength(1);
      const page = await expectJson(await call('/v1/dead-letters', { token: a.accessToken }));
      expect(page.data.map((d: Json) => d.id)).toEqual([`evt:${event.id}`]);
      return { id: `evt:${event.id}` };
    },
    probes: () => [],
    lists: () => ['/v1/dead-letters?limit=100', '/v1/dead-letters?status=pending'],
    view: () => '/v1/dead-letters',
  },
  {
    resource: 'llm providers',
    create: async (a) => {
      const body = {
        name: `iso-${crypto.randomUUID().slice(0, 8)}`,
        kind: 'openai',
        baseUrl: 'https://llm.example.com/v1',
        apiKey: 'sk-iso-a-0123456789abcdef',
        models: { fast: { model: 'm' } },
      };
      return { id: (await post(a, '/v1/llm/providers', body)).id };
    },
    probes: ({ id }) => [
      { method: 'GET', path: `/v1/llm/providers/${id}` },
      { method: 'DELETE', path: `/v1/llm/providers/${id}` },
    ],
    lists: () => ['/v1/llm/providers?limit=100'],
    view: ({ id }) => `/v1/llm/providers/${id}`,
  },
  {
    // A's chunks must never reach B's queries; B's own knowledge base is the list its documents nest under.
    resource: 'knowledge bases',
    create: async (a) => {
      const id = (await post(a, '/v1/knowledge-bases', { name: 'iso kb' })).id as string;
      const up = await expectJson(
        await call(`/v1/knowledge-bases/${id}/documents`, {
          token: a.accessToken,
          body: { source: 'iso', content: 'isolation marker zebracorn' },
        }),
        202,
      );
      await eventually(async () => {
        const d = await expectJson(await call(`/v1/knowledge-bases/${id}/documents/${up.documentId}`, { token: a.accessToken }));
        return d.status === 'indexed' ? true : undefined;
      });
      return { id, docId: up.documentId };
    },
    own: async (b) => ({ kbId: (await post(b, '/v1/knowledge-bases', { name: 'b kb' })).id }),
    probes: ({ id, docId }, own) => [
      { method: 'GET', path: `/v1/knowledge-bases/${id}` },
      { method: 'PATCH', path: `/v1/knowledge-bases/${id}`, body: { name: 'pwned' } },
      { method: 'POST', path: `/v1/knowledge-bases/${id}/query`, body: { query: 'zebracorn' } },
      { method: 'POST', path: `/v1/knowledge-bases/${id}/documents`, body: { source: 'iso', content: 'overwritten' } },
      { method: 'GET', path: `/v1/knowledge-bases/${id}/documents` },
      { method: 'GET', path: `/v1/knowledge-bases/${id}/documents/${docId}`, swap: docId },
      { method: 'GET', path: `/v1/knowledge-bases/${own.kbId}/documents/${docId}`, swap: docId },
      { method: 'DELETE', path: `/v1/knowledge-bases/${own.kbId}/documents/${docId}`, swap: docId },
      { method: 'DELETE', path: `/v1/knowledge-bases/${id}/documents/${docId}`, swap: docId },
      { method: 'DELETE', path: `/v1/knowledge-bases/${id}` },
    ],
    lists: (_ids, own) => ['/v1/knowledge-bases?limit=100', `/v1/knowledge-bases/${own.kbId}/documents?limit=100`],
    view: ({ id, docId }) => `/v1/knowledge-bases/${id}/documents/${docId}`,
  },
  {
    // /invoke must not run A's code for B.
    resource: 'tools',
    create: async (a) => ({ id: await tool(a) }),
    probes: ({ id }) => [
      { method: 'GET', path: `/v1/tools/${id}` },
      { method: 'PATCH', path: `/v1/tools/${id}`, body: { code: 'def main(input):\n    return "pwned"\n' } },
      { method: 'POST', path: `/v1/tools/${id}/invoke`, body: { input: null } },
      { method: 'DELETE', path: `/v1/tools/${id}` },
    ],
    lists: () => ['/v1/tools?limit=100'],
    view: ({ id }) => `/v1/tools/${id}`,
  },
  {
    // Tool versions are addressed by (tool id, number): the row's id is the tool's.
    resource: 'tool versions',
    create: async (a) => ({ id: await tool(a) }),
    own: async (b) => ({ toolId: await tool(b) }),
    probes: ({ id }) => [
      { method: 'GET', path: `/v1/tools/${id}/versions` },
      { method: 'POST', path: `/v1/tools/${id}/invoke`, body: { input: null, version: 1 } },
    ],
    lists: (_ids, own) => [`/v1/tools/${own.toolId}/versions`],
    view: ({ id }) => `/v1/tools/${id}/versions`,
  },
  {
    // Invocations have ids but no item route: their one route is the log under A's tool.
    resource: 'tool invocations',
    create: async (a) => {
      const toolId = await tool(a);
      return { id: await invocation(a, toolId), toolId };
    },
    own: async (b) => {
      const toolId = await tool(b);
      await invocation(b, toolId);
      return { toolId };
    },
    probes: ({ toolId }) => [{ method: 'GET', path: `/v1/tools/${toolId}/invocations`, swap: toolId }],
    lists: (_ids, own) => [`/v1/tools/${own.toolId}/invocations`],
    view: ({ toolId }) => `/v1/tools/${toolId}/invocations`,
  },
  {
    resource: 'flows',
    create: async (a) => ({ id: await flow(a) }),
    probes: ({ id }) => [
      { method: 'GET', path: `/v1/flows/${id}` },
      { method: 'PUT', path: `/v1/flows/${id}`, body: { name: 'pwned', definition: FLOW_TRANSFORM } },
      { method: 'POST', path: `/v1/flows/${id}/runs`, body: { input: {} } },
      { method: 'DELETE', path: `/v1/flows/${id}` },
    ],
    lists: () => ['/v1/flows?limit=100'],
    view: ({ id }) => `/v1/flows/${id}`,
  },
  {
    // Flow versions are addressed by (flow id, number): A's flow has two.
    resource: 'flow versions',
    create: async (a) => {
      const id = await flow(a);
      await expectJson(
        await call(`/v1/flows/${id}`, { method: 'PUT', token: a.accessToken, body: { name: 'iso v2', definition: FLOW_TRANSFORM } }),
      );
      return { id };
    },
    own: async (b) => ({ flowId: await flow(b) }),
    probes: ({ id }) => [
      { method: 'GET', path: `/v1/flows/${id}?version=1` },
      { method: 'GET', path: `/v1/flows/${id}?version=2` },
      { method: 'GET', path: `/v1/flows/${id}/versions` },
    ],
    lists: (_ids, own) => [`/v1/flows/${own.flowId}/versions`],
    view: ({ id }) => `/v1/flows/${id}/versions`,
  },
  {
    // A's agent has two versions (B referencing it from B's own agent is a 422 like any unknown id: agents/resource.test.ts).
    resource: 'agents',
    create: async (a) => {
      const id = (await post(a, '/v1/agents', AGENT)).id as string;
      await expectJson(await call(`/v1/agents/${id}`, { method: 'PUT', token: a.accessToken, body: { ...AGENT, maxSteps: 3 } }));
      return { id };
    },
    own: async (b) => ({ agentId: (await post(b, '/v1/agents', AGENT)).id }),
    probes: ({ id }) => [
      { method: 'GET', path: `/v1/agents/${id}` },
      { method: 'GET', path: `/v1/agents/${id}?version=1` },
      { method: 'GET', path: `/v1/agents/${id}/versions` },
      { method: 'PUT', path: `/v1/agents/${id}`, body: { ...AGENT, name: 'pwned' } },
      { method: 'DELETE', path: `/v1/agents/${id}` },
    ],
    lists: (_ids, own) => ['/v1/agents?limit=100', `/v1/agents/${own.agentId}/versions`],
    view: ({ id }) => `/v1/agents/${id}/versions`,
  },
  {
    // A's chat waits for A to approve a delete, so a stop, a delete or a stream read by B would show.
    resource: 'chats',
    create: async (a) => {
      await post(a, '/v1/tasks', { title: 'iso dentist' });
      const id = `iso${crypto.randomUUID().replaceAll('-', '').slice(0, 16)}`;
      const res = await call('/v1/chat', {
        token: a.accessToken,
        body: { id, messages: [{ id: 'u1', role: 'user', parts: [{ type: 'text', text: 'delete iso dentist' }] }] },
      });
      expect(res.status).toBe(200);
      await res.text();
      await eventually(async () =>
        (await expectJson(await call(`/v1/chats/${id}`, { token: a.accessToken }))).lastTurn.status === 'waiting' ? true : undefined,
      );
      return { id };
    },
    probes: ({ id }): Probe[] => [
      { method: 'GET', path: `/v1/chats/${id}` },
      { method: 'DELETE', path: `/v1/chats/${id}` },
      { method: 'GET', path: `/v1/chat/${id}/stream` },
      { method: 'GET', path: `/v1/chat/${id}/stream`, headers: { 'last-event-id': '1' } },
      { method: 'POST', path: `/v1/chat/${id}/stop`, body: {} },
      { method: 'GET', path: `/v1/chat/${id}/ws`, headers: { upgrade: 'websocket' } },
    ],
    lists: () => ['/v1/chats?limit=100', '/v1/sync?since=0'],
    view: ({ id }) => `/v1/chats/${id}`,
  },
  {
    // A's run waits on an approval, so a signal, rerun or cancel by B would show.
    resource: 'runs',
    create: async (a) => {
      const flowId = await flow(a);
      return { id: await run(a, flowId, ['waiting']), flowId };
    },
    probes: ({ id }) => [{ method: 'GET', path: `/v1/runs/${id}` }, ...RUN_SUB_ACTIONS(id)],
    lists: ({ flowId }) => ['/v1/runs?limit=100', `/v1/runs?flowId=${flowId}`, '/v1/runs?status=waiting'],
    view: ({ id }) => `/v1/runs/${id}`,
  },
  {
    // The run's event log: read over SSE (from the start and resumed) or its WebSocket.
    resource: 'run events',
    create: async (a) => ({ id: await run(a, await flow(a), ['waiting']) }),
    own: async (b) => ({ runId: await run(b, await flow(b, FLOW_TRANSFORM), ['succeeded']) }),
    probes: ({ id }): Probe[] => [
      { method: 'GET', path: `/v1/runs/${id}/events`, headers: { accept: 'text/event-stream' } },
      { method: 'GET', path: `/v1/runs/${id}/events`, headers: { accept: 'text/event-stream', 'last-event-id': '0' } },
      { method: 'GET', path: `/v1/runs/${id}/ws`, headers: { upgrade: 'websocket' } },
    ],
    // B's own finished run's stream ends by itself; the list check reads it whole.
    lists: (_ids, own) => [`/v1/runs/${own.runId}/events`],
    view: ({ id }) => `/v1/runs/${id}`,
  },
  {
    // Feedback keys live in A's hub, addressed by name: B's namespace is its own.
    resource: 'feedback keys',
    create: async (a) => ({ id: (await post(a, '/v1/feedback-keys', { key: `iso${randomWord()}`, type: 'boolean' })).key }),
    probes: ({ id }) => [
      { method: 'GET', path: `/v1/feedback-keys/${id}` },
      { method: 'PATCH', path: `/v1/feedback-keys/${id}`, body: { description: 'pwned', higherIsBetter: false } },
      { method: 'DELETE', path: `/v1/feedback-keys/${id}` },
    ],
    lists: () => ['/v1/feedback-keys?limit=100'],
    view: ({ id }) => `/v1/feedback-keys/${id}`,
  },
  {
    resource: 'feedback',
    create: async (a) => {
      const runId = await run(a, await flow(a, FLOW_TRANSFORM), ['succeeded']);
      await post(a, '/v1/feedback-keys', { key: 'stars', type: 'numeric', min: 1, max: 5 });
      const f = await post(a, '/v1/feedback', { target: { type: 'run', id: runId }, key: 'stars', score: 4, comment: 'A private comment' });
      return { id: f.id, runId };
    },
    probes: ({ id }) => [
      { method: 'GET', path: `/v1/feedback/${id}` },
      { method: 'PATCH', path: `/v1/feedback/${id}`, body: { score: 1, comment: 'pwned' } },
      { method: 'DELETE', path: `/v1/feedback/${id}` },
    ],
    lists: ({ runId }) => [
      '/v1/feedback?limit=100',
      `/v1/feedback?targetId=${runId}`,
      '/v1/sync?since=0&limit=1000',
      '/v1/sync/snapshot?limit=100',
    ],
    view: ({ id }) => `/v1/feedback/${id}`,
  },
  {
    // A's outputs as targets of B's ratings and feedback tokens (the id travels in the body).
    resource: 'feedback targets',
    create: async (a) => {
      const toolId = await tool(a);
      return { id: await run(a, await flow(a, FLOW_TRANSFORM), ['succeeded']), invocationId: await invocation(a, toolId) };
    },
    own: async (b) => {
      await post(b, '/v1/feedback-keys', { key: 'helpful', type: 'boolean' });
      return {};
    },
    probes: ({ id, invocationId }) => [
      { method: 'POST', path: '/v1/feedback', body: { target: { type: 'run', id }, key: 'helpful', score: true } },
      { method: 'POST', path: '/v1/feedback', body: { target: { type: 'node', id, nodeId: 'only' }, key: 'helpful', score: false } },
      { method: 'POST', path: '/v1/feedback/tokens', body: { target: { type: 'run', id } } },
      {
        method: 'POST',
        path: '/v1/feedback',
        body: { target: { type: 'tool_invocation', id: invocationId }, key: 'helpful', score: true },
        swap: invocationId!,
      },
    ],
    lists: () => ['/v1/feedback?limit=100'],
    view: ({ id }) => `/v1/runs/${id}`,
  },
  {
    // A's assistant message as the target of B's ratings and tokens (message and chat ids travel in the body).
    resource: 'chat message feedback targets',
    create: async (a) => {
      const chatId = `iso${crypto.randomUUID().replaceAll('-', '').slice(0, 16)}`;
      const res = await call('/v1/chat', {
        token: a.accessToken,
        body: { id: chatId, messages: [{ id: 'u1', role: 'user', parts: [{ type: 'text', text: 'list my tasks' }] }] },
      });
      expect(res.status).toBe(200);
      await res.text();
      const chat = await eventually(async () => {
        const c = await expectJson(await call(`/v1/chats/${chatId}`, { token: a.accessToken }));
        return c.lastTurn?.status === 'completed' ? c : undefined;
      });
      return { id: chat.messages.find((m: { role: string }) => m.role === 'assistant').id as string, chatId };
    },
    own: async (b) => {
      await post(b, '/v1/feedback-keys', { key: 'helpful', type: 'boolean' });
      return {};
    },
    probes: ({ id, chatId }) => [
      { method: 'POST', path: '/v1/feedback', body: { target: { type: 'chat_message', id, chatId }, key: 'helpful', score: true } },
      {
        method: 'POST',
        path: '/v1/feedback',
        body: { target: { type: 'chat_message', id, chatId }, key: 'helpful', score: false },
        swap: chatId!,
      },
      { method: 'POST', path: '/v1/feedback/tokens', body: { target: { type: 'chat_message', id, chatId } } },
    ],
    lists: () => ['/v1/feedback?limit=100'],
    view: ({ chatId }) => `/v1/chats/${chatId}`,
  },
  {
    resource: 'datasets',
    create: async (a) => {
      const d = await post(a, '/v1/datasets', { name: 'iso dataset' });
      await post(a, `/v1/datasets/${d.id}/examples`, { input: { secret: 'A' }, expected: 'A' });
      return { id: d.id };
    },
    probes: ({ id }) => [
      { method: 'GET', path: `/v1/datasets/${id}` },
      { method: 'GET', path: `/v1/datasets/${id}/examples` },
      { method: 'POST', path: `/v1/datasets/${id}/examples`, body: { input: { pwned: true } } },
      { method: 'DELETE', path: `/v1/datasets/${id}` },
    ],
    lists: () => ['/v1/datasets?limit=100'],
    view: ({ id }) => `/v1/datasets/${id}/examples`,
  },
  {
    // A finished experiment over A's dataset and flow.
    resource: 'experiments',
    create: async (a) => {
      const flowId = await flow(a, FLOW_TRANSFORM);
      const d = await post(a, '/v1/datasets', { name: 'iso' });
      await post(a, `/v1/datasets/${d.id}/examples`, { input: {}, expected: 'B ran' });
      const e = await post(a, '/v1/experiments', { datasetId: d.id, target: { flowId }, evaluators: [{ type: 'exact' }] });
      await eventually(
        async () =>
          (await expectJson(await call(`/v1/experiments/${e.id}`, { token: a.accessToken }))).status === 'completed' ? true : undefined,
        {
          what: 'the experiment to complete',
          timeoutMs: 30_000,
        },
      );
      return { id: e.id };
    },
    probes: ({ id }) => [
      { method: 'GET', path: `/v1/experiments/${id}` },
      { method: 'GET', path: `/v1/experiments/${id}/events`, headers: { accept: 'text/event-stream' } },
      { method: 'POST', path: `/v1/experiments/${id}/cancel` },
      { method: 'GET', path: `/v1/experiments/compare?base=${id}&head=${id}` },
    ],
    lists: () => ['/v1/experiments?limit=100', '/v1/feedback?source=eval&limit=100'],
    view: ({ id }) => `/v1/experiments/${id}`,
  },
  {
    // A's runs, ratings, datasets, flows and agents as sources of B's examples and experiments (ids in the body).
    resource: 'dataset and experiment sources',
    create: async (a) => {
      const flowId = await flow(a, FLOW_TRANSFORM);
      const runId = await run(a, flowId, ['succeeded']);
      await post(a, '/v1/feedback-keys', { key: 'fix', type: 'text' });
      const f = await post(a, '/v1/feedback', { target: { type: 'run', id: runId }, key: 'fix', value: 'x', correction: 'A secret' });
      const d = await post(a, '/v1/datasets', { name: 'iso' });
      await post(a, `/v1/datasets/${d.id}/examples`, { input: {} });
      const agentId = (await post(a, '/v1/agents', AGENT)).id as string;
      return { id: d.id, runId, feedbackId: f.id, flowId, agentId };
    },
    own: async (b) => {
      const d = await post(b, '/v1/datasets', { name: 'B' });
      await post(b, `/v1/datasets/${d.id}/examples`, { input: {} });
      return { datasetId: d.id, flowId: await flow(b, FLOW_TRANSFORM) };
    },
    probes: ({ id, runId, feedbackId, flowId, agentId }, own) => [
      { method: 'POST', path: '/v1/experiments', body: { datasetId: id, target: { flowId: own.flowId }, evaluators: [{ type: 'exact' }] } },
      {
        method: 'POST',
        path: '/v1/experiments',
        body: { datasetId: own.datasetId, target: { flowId }, evaluators: [{ type: 'exact' }] },
        swap: flowId!,
      },
      {
        method: 'POST',
        path: '/v1/experiments',
        body: { datasetId: own.datasetId, target: { agentId }, evaluators: [{ type: 'exact' }] },
        swap: agentId!,
      },
      {
        method: 'POST',
        path: '/v1/experiments',
        body: { datasetId: own.datasetId, target: { agentId, version: 1 }, evaluators: [{ type: 'exact' }] },
        swap: agentId!,
      },
      { method: 'POST', path: `/v1/datasets/${own.datasetId}/examples`, body: { fromRunId: runId }, swap: runId! },
      { method: 'POST', path: `/v1/datasets/${own.datasetId}/examples`, body: { fromFeedbackId: feedbackId }, swap: feedbackId! },
    ],
    lists: (_ids, own) => ['/v1/experiments?limit=100', `/v1/datasets/${own.datasetId}/examples`],
    view: ({ id }) => `/v1/datasets/${id}/examples`,
  },
];

// ---------------------------------------------------------------------------------------------
// the check, the same for every row
// ---------------------------------------------------------------------------------------------

interface Attacker {
  label: string;
  token: (b: { admin: TestTenant; key: string }) => string;
}

const ATTACKERS: Attacker[] = [
  { label: "B's admin access token", token: (b) => b.admin.accessToken },
  { label: "B's admin API key", token: (b) => b.key },
];

/** An id shaped like `id` that exists nowhere. */
function unknownLike(id: string): string {
  return id.slice(0, -4) + (id.endsWith('zzzz') ? 'yyyy' : 'zzzz');
}

/** What a probe looks like to the caller, without what legitimately varies per request or id. */
function shape(body: Json, id: string): Json {
  const { requestId: _r, instance: _i, ...rest } = body;
  return JSON.parse(JSON.stringify(rest).replaceAll(id, '<id>'));
}

function randomWord(): string {
  return Array.from(crypto.getRandomValues(new Uint8Array(8)), (b) => 'abcdefghijklmnopqrstuvwxyz'[b % 26]).join('');
}

/**
 * Every D1 row A owns (each table with a tenant_id column), minus what moves on its own: event
 * plumbing (outbox, consumed events), the hub's alarm registry, and when an API key was last used.
 */
async function rowsOf(tenantId: string): Promise<Record<string, unknown[]>> {
  const skip = new Set(['event_outbox', 'consumed_events', 'hub_schedules']);
  const ignore: Record<string, string[]> = { api_keys: ['last_used_at'] };
  const { results: tables } = await env.DB.prepare(
    "SELECT name FROM sqlite_master WHERE type = 'table' AND sql LIKE '%tenant_id%' AND name NOT LIKE '\\_cf%' ESCAPE '\\' ORDER BY 1",
  ).all<{ name: string }>();
  const out: Record<string, unknown[]> = {};
  for (const { name } of tables) {
    if (skip.has(name)) continue;
    const { results } = await env.DB.prepare(`SELECT * FROM "${name}" WHERE tenant_id = ? ORDER BY 1, 2`)
      .bind(tenantId)
      .all<Record<string, unknown>>();
    out[name] = results.map((r) => Object.fromEntries(Object.entries(r).filter(([k]) => !ignore[name]?.includes(k))));
  }
  return out;
}

/** B's GET of a list; an event stream is read to its end. */
async function readList(path: string, token: string): Promise<string> {
  if (path.endsWith('/events')) return JSON.stringify(await (await openSse(path, token)).sse.rest());
  return JSON.stringify(await expectJson(await call(path, { token })));
}

describe.each(RESOURCES)('tenant isolation: $resource', (row) => {
  it.each(ATTACKERS)(
    "with $label: every route on A's id → 404 like an unknown id; B's lists never show it; A unchanged",
    async (attacker) => {
      const a = await signup('iso-a');
      const bAdmin = await signup('iso-b');
      const b = { admin: bAdmin, key: (await createApiKey(bAdmin, 'admin')).key };
      const ids = await row.create(a);
      const own = (await row.own?.(bAdmin)) ?? {};
      const token = attacker.token(b);
      // Control: the credential is valid and admin in B.
      expect((await call('/v1/tenant', { method: 'PATCH', token, body: { name: 'B control' } })).status).toBe(200);

      const aView = await expectJson(await call(row.view(ids), { token: a.accessToken }));
      const before = await rowsOf(a.tenantId);
      for (const p of row.probes(ids, own)) {
        const probe = `${p.method} ${p.path}`;
        const res = await call(p.path, { method: p.method, token, body: p.body, headers: p.headers });
        expect({ probe, status: res.status }).toEqual({ probe, status: 404 });
        const hit = await expectProblem(res, 404);
        // No oracle: A's id answers exactly like an id that exists nowhere.
        const real = p.swap ?? ids.id;
        expect(p.path + JSON.stringify(p.body ?? null)).toContain(real);
        const unknownBody = p.body === undefined ? undefined : JSON.parse(JSON.stringify(p.body).replaceAll(real, unknownLike(real)));
        const miss = await expectProblem(
          await call(p.path.replaceAll(real, unknownLike(real)), { method: p.method, token, body: unknownBody, headers: p.headers }),
          404,
        );
        expect(shape(hit, real), probe).toEqual(shape(miss, unknownLike(real)));
      }
      for (const path of row.lists(ids, own)) expect(await readList(path, token), path).not.toContain(ids.id);

      // A's rows and A's view are unchanged, and A still sees its own.
      expect(await rowsOf(a.tenantId)).toEqual(before);
      expect(await expectJson(await call(row.view(ids), { token: a.accessToken }))).toEqual(aView);
    },
  );
});
