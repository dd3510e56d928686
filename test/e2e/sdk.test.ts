/**
 * @edgecrew/sdk (sdk/) against the bundled Worker on workerd over real HTTP: retries that never repeat a
 * side effect, pagination, a run stream resumed after a cut, token refresh, typed errors, webhook
 * verification of a real delivery, and the committed generated types matching the live document.
 */
import { readFile } from 'node:fs/promises';
import { createEdgecrew, EdgecrewError, type RunEvent, WebhookVerificationError, webhooks } from '@edgecrew/sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TYPES_FILE, typesFromDocument } from '../../scripts/sdk/generate.mjs';
import { signup } from '../support/node/api';
import { startFakeOpenAi } from '../support/node/fake-openai';
import { type FaultProxy, startFaultProxy } from '../support/node/fault-proxy';
import { startWebhookReceiver, type WebhookReceiver } from '../support/node/webhook-receiver';
import { type RunningWorker, startWorker } from '../support/node/worker';
import { eventually } from '../support/shared/time';

let worker: RunningWorker;
let proxy: FaultProxy;
let receiver: WebhookReceiver;
let fakeOpenAi: Awaited<ReturnType<typeof startFakeOpenAi>>;
beforeAll(async () => {
  worker = await startWorker();
  proxy = await startFaultProxy(worker.url);
  receiver = await startWebhookReceiver();
  fakeOpenAi = await startFakeOpenAi();
});
afterAll(async () => {
  await fakeOpenAi?.close();
  await receiver?.close();
  await proxy?.close();
  await worker?.dispose();
});

/** A client of a fresh tenant, reaching the Worker through the fault proxy. */
async function tenantClient(tag: string, through: 'proxy' | 'direct' = 'proxy') {
  const owner = await signup(worker, `sdk-${tag}`);
  const baseUrl = through === 'proxy' ? proxy.url : worker.url;
  return { owner, client: createEdgecrew({ baseUrl, auth: { accessToken: owner.accessToken, refreshToken: owner.refreshToken } }) };
}

describe('@edgecrew/sdk', () => {
  it('a POST answered 503 + Retry-After twice is retried with the same Idempotency-Key and has one side effect', async () => {
    const { client } = await tenantClient('retry');
    const before = proxy.requests.length;
    proxy.replaceAnswers({ method: 'POST', path: '/v1/tasks', times: 2, status: 503, retryAfter: '1' });

    const task = await client.tasks.create({ title: 'exactly once' });
    expect(task.title).toBe('exactly once');

    const posts = proxy.requests.slice(before).filter((r) => r.method === 'POST' && r.path === '/v1/tasks');
    expect(posts.map((r) => r.status)).toEqual([503, 503, 201]);
    const keys = new Set(posts.map((r) => r.headers['idempotency-key']));
    expect(keys.size).toBe(1);
    expect([...keys][0]).toMatch(/^[0-9a-f-]{36}$/);

    const all = [];
    for await (const t of client.tasks.list()) all.push(t);
    expect(all.map((t) => t.id)).toEqual([task.id]);
  });

  it('an in-flight 409 (with Retry-After) is retried with the same key; a plain 409 is final and typed', async () => {
    const { client } = await tenantClient('conflict');
    const before = proxy.requests.length;
    proxy.replaceAnswers({ method: 'POST', path: '/v1/tasks', times: 1, status: 409, retryAfter: '1' });
    expect((await client.tasks.create({ title: 'in flight' })).title).toBe('in flight');
    const posts = proxy.requests.slice(before).filter((r) => r.method === 'POST' && r.path === '/v1/tasks');
    expect(posts.map((r) => r.status)).toEqual([409, 201]);
    expect(posts[0]!.headers['idempotency-key']).toBe(posts[1]!.headers['idempotency-key']);

    proxy.replaceAnswers({ method: 'POST', path: '/v1/tasks', times: 1, status: 409 });
    const conflict = await client.tasks.create({ title: 'conflicted' }).catch((e: unknown) => e);
    expect(conflict).toBeInstanceOf(EdgecrewError);
    expect(conflict).toMatchObject({ status: 409 });
    expect(proxy.requests.slice(before).filter((r) => r.method === 'POST' && r.path === '/v1/tasks')).toHaveLength(3);

    const titles = [];
    for await (const t of client.tasks.list()) titles.push(t.title);
    // The plain 409 was injected after the Worker created the task: the client reports it and does not repeat it.
    expect(titles.sort()).toEqual(['conflicted', 'in flight']);
  });

  it('iterating 250 tasks yields exactly 250, each once, over several pages', async () => {
    const { owner } = await tenantClient('pages');
    let pages = 0;
    const client = createEdgecrew({
      baseUrl: worker.url,
      auth: { accessToken: owner.accessToken, refreshToken: owner.refreshToken },
      fetch: (request) => {
        if (request.method === 'GET') pages += 1;
        return fetch(request);
      },
    });
    const created = new Set<string>();
    for (let batch = 0; batch < 25; batch++) {
      const tasks = await Promise.all(Array.from({ length: 10 }, (_, i) => client.tasks.create({ title: `task ${batch * 10 + i}` })));
      for (const t of tasks) created.add(t.id);
    }
    expect(created.size).toBe(250);

    const seen: string[] = [];
    for await (const t of client.tasks.list({ limit: 100 })) seen.push(t.id);
    expect(seen).toHaveLength(250);
    expect(new Set(seen)).toEqual(created);
    expect(pages).toBe(3);
  });

  it('runs.stream: a stream cut after sequence 7 resumes at 8 (Last-Event-ID), no gap, no duplicate, ends with the run', async () => {
    const { client } = await tenantClient('stream');
    const nodes = ['a', 'b', 'c', 'd'].map((id) => ({ id, type: 'transform' as const, config: { expression: 'input.n' } }));
    const flow = await client.flows.create({
      name: 'sdk stream',
      definition: { nodes, edges: [nodes.slice(0, -1).map((n, i) => ({ from: n.id, to: nodes[i + 1]!.id }))].flat() },
    });
    const run = await client.flows.run(flow.id, { input: { n: 1 } });

    proxy.cutStream({ path: `/v1/runs/${run.id}/events`, afterId: '7' });
    const before = proxy.requests.length;
    const events: RunEvent[] = [];
    for await (const event of client.runs.stream(run.id)) events.push(event);

    const seqs = events.map((e) => e.seq);
    expect(seqs.length).toBeGreaterThan(8);
    expect(seqs).toEqual(seqs.map((_, i) => i + 1));
    expect(events.at(-1)!.type).toBe('run.completed');
    const opened = proxy.requests.slice(before).filter((r) => r.path === `/v1/runs/${run.id}/events`);
    expect(opened.map((r) => r.headers['last-event-id'])).toEqual([undefined, '7']);

    const after: number[] = [];
    for await (const event of client.runs.stream(run.id, { after: 7 })) after.push(event.seq);
    expect(after).toEqual(seqs.slice(7));
  });

  it('flows.runStream: one POST starts the run and streams it; a cut resumes at the next sequence, a retried POST starts nothing twice', async () => {
    const { client } = await tenantClient('run-stream');
    const nodes = ['a', 'b', 'c', 'd'].map((id) => ({ id, type: 'transform' as const, config: { expression: 'input.n' } }));
    const flow = await client.flows.create({
      name: 'sdk run stream',
      definition: { nodes, edges: nodes.slice(0, -1).map((n, i) => ({ from: n.id, to: nodes[i + 1]!.id })) },
    });
    const startPath = `/v1/flows/${flow.id}/runs`;
    const runIdsOf = (from: number) =>
      proxy.requests
        .slice(from)
        .map((r) => /^\/v1\/runs\/(run_[^/]+)\/events$/.exec(r.path)?.[1])
        .filter((id): id is string => id !== undefined);

    // The POST's own stream is cut after sequence 3: the rest comes from GET …/events, from 4.
    let before = proxy.requests.length;
    proxy.cutStream({ path: startPath, afterId: '3' });
    const cut: RunEvent[] = [];
    for await (const event of client.flows.runStream(flow.id, { input: { n: 1 } })) cut.push(event);
    expect(cut.map((e) => e.seq)).toEqual(cut.map((_, i) => i + 1));
    expect(cut[0]!.type).toBe('run.created');
    expect(cut.at(-1)!.type).toBe('run.completed');
    const requests = proxy.requests.slice(before).filter((r) => r.path === startPath || r.path.startsWith('/v1/runs/'));
    expect(requests.map((r) => [r.method, r.path === startPath ? 'start' : 'events', r.headers['last-event-id']])).toEqual([
      ['POST', 'start', undefined],
      ['GET', 'events', '3'],
    ]);
    const [firstRun] = runIdsOf(before);
    expect((await client.runs.get(firstRun!)).status).toBe('succeeded');

    // The POST reaches the Worker but its answer is lost (a 503 instead): the retry carries the same key,
    // is answered the run's JSON (a replay), and the events come from GET …/events, from the start.
    before = proxy.requests.length;
    proxy.replaceAnswers({ method: 'POST', path: startPath, times: 1, status: 503, retryAfter: '1' });
    const replayed: RunEvent[] = [];
    for await (const event of client.flows.runStream(flow.id, { input: { n: 2 } })) replayed.push(event);
    expect(replayed.map((e) => e.seq)).toEqual(replayed.map((_, i) => i + 1));
    expect(replayed.at(-1)!.type).toBe('run.completed');
    const posts = proxy.requests.slice(before).filter((r) => r.method === 'POST' && r.path === startPath);
    expect(posts.map((r) => r.status)).toEqual([503, 201]);
    expect(posts[0]!.headers['idempotency-key']).toBe(posts[1]!.headers['idempotency-key']);
    const secondRuns = new Set(runIdsOf(before));
    expect(secondRuns.size).toBe(1);
    // The index lists exactly the two runs this test started: a second start by the retry would show
    // here once indexed (the workers test in test/workers/flows/sse.test.ts checks the replay's run id).
    await eventually(
      async () => {
        const runs = [];
        for await (const r of client.runs.list({ flowId: flow.id })) runs.push(r.id);
        return runs.length >= 2 ? runs : undefined;
      },
      { what: 'both runs in the index' },
    );
    const runs = [];
    for await (const r of client.runs.list({ flowId: flow.id })) runs.push(r.id);
    expect(runs.sort()).toEqual([firstRun!, [...secondRuns][0]!].sort());

    // Input the flow refuses: a typed 422 naming the field, as from flows.run, and nothing started.
    const strict = await client.flows.create({
      name: 'sdk run stream strict',
      definition: { input: { type: 'object', properties: { n: { type: 'number' } }, required: ['n'] }, nodes, edges: [] },
    });
    const refused = await (async () => {
      for await (const _ of client.flows.runStream(strict.id, { input: { n: 'one' } })) return 'streamed';
      return 'ended';
    })().catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(EdgecrewError);
    expect(refused).toMatchObject({ status: 422 });
    expect((refused as EdgecrewError).errors.map((e) => e.path)).toContain('input.n');
  });

  it('chat.send: a turn cut mid-answer resumes through /v1/chat/{id}/stream after the last chunk, every chunk once', async () => {
    const { client } = await tenantClient('chat');
    const tag = `sdk${Date.now().toString(36)}`;
    // The model lists tasks, then its answer is held at a barrier until the test releases it.
    const replies = [
      { toolCalls: [{ name: 'listTasks', arguments: { status: 'open' } }] },
      { text: 'Nothing is open: enjoy your day.', barrier: 'hold', parties: 2 },
      { text: 'released', barrier: 'hold', parties: 2 },
    ];
    expect((await fetch(`${fakeOpenAi.url}/__script/${tag}/main`, { method: 'PUT', body: JSON.stringify({ replies }) })).status).toBe(204);
    const { response } = await client.api.POST('/v1/llm/providers', {
      body: {
        name: 'main',
        kind: 'openai',
        baseUrl: `${fakeOpenAi.url}/t/${tag}/@main/v1`,
        apiKey: 'sk-test-0123456789abcdefWXYZ',
        models: { assistant: { model: 'fake-gpt', inputCostPer1M: 100, outputCostPer1M: 400 } },
      },
    });
    expect(response.status).toBe(201);

    const chatId = `c${Date.now().toString(36)}sdk`;
    proxy.cutStream({ path: '/v1/chat', afterId: '3' });
    const chunks: Array<{ type: string } & Record<string, unknown>> = [];
    const reading = (async () => {
      for await (const chunk of client.chat.send(chatId, 'what is open?')) chunks.push(chunk);
    })();
    const resumePath = `/v1/chat/${chatId}/stream`;
    await eventually(() => proxy.requests.find((r) => r.path === resumePath), { what: 'the resume request' });
    await eventually(() => ((fakeOpenAi.received.get(tag)?.length ?? 0) >= 2 ? true : undefined), { what: 'the held model call' });
    // Joins the barrier: the held answer streams on to the resumed connection.
    await (
      await fetch(`${fakeOpenAi.url}/t/${tag}/@main/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'fake-gpt', messages: [{ role: 'user', content: 'release' }], stream: false }),
      })
    ).text();
    await reading;

    expect(proxy.requests.filter((r) => r.path === resumePath).map((r) => r.headers['last-event-id'])).toEqual(['3']);
    const types = chunks.map((c) => c.type);
    expect(types.filter((t) => t === 'start')).toHaveLength(1);
    expect(types.filter((t) => t === 'tool-output-available')).toHaveLength(1);
    expect(types.at(-1)).toBe('finish');
    const text = chunks.flatMap((c) => (c.type === 'text-delta' ? [String(c.delta)] : [])).join('');
    expect(text).toBe('Nothing is open: enjoy your day.');
  });

  it('refreshes an expired or revoked access token once and repeats the request', async () => {
    const owner = await signup(worker, 'sdk-refresh');
    const rotated: string[] = [];
    const client = createEdgecrew({
      baseUrl: worker.url,
      auth: { accessToken: 'not-a-valid-token', refreshToken: owner.refreshToken, onTokens: (t) => void rotated.push(t.refreshToken) },
    });
    const task = await client.tasks.create({ title: 'after refresh' });
    expect(task.id).toMatch(/^tsk_/);
    expect(rotated).toHaveLength(1);
    expect(rotated[0]).not.toBe(owner.refreshToken);
    // The new session keeps working without another refresh.
    expect((await client.tasks.get(task.id)).title).toBe('after refresh');
    expect(rotated).toHaveLength(1);
  });

  it('errors are typed: problem type, code and field errors', async () => {
    const { client } = await tenantClient('errors', 'direct');
    const missing = await client.tasks.get('tsk_doesnotexist').catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(EdgecrewError);
    expect(missing).toMatchObject({ status: 404, code: 'not_found', type: 'https://edgecrew.dev/problems/not-found' });

    const invalid = (await client.tasks.create({ title: '' }).catch((e: unknown) => e)) as EdgecrewError;
    expect(invalid).toBeInstanceOf(EdgecrewError);
    expect(invalid.status).toBe(422);
    expect(invalid.code).toBe('validation_failed');
    expect(invalid.errors.map((e) => e.path)).toContain('title');
  });

  it('webhooks.verify accepts a real delivery and refuses a tampered one', async () => {
    const { client } = await tenantClient('webhooks', 'direct');
    const name = 'sdk-verify';
    const { data: hook } = await client.api.POST('/v1/webhooks', {
      body: { url: `${receiver.url}/hooks/${name}`, eventTypes: ['task.*'] },
    });
    expect(hook?.secret).toMatch(/^whsec_/);
    await client.tasks.create({ title: 'announce me' });

    const delivery = await eventually(() => receiver.received.find((r) => r.name === name), {
      what: 'a webhook delivery',
      timeoutMs: 15_000,
    });
    const headers = { 'webhook-id': delivery.webhookId, 'webhook-timestamp': delivery.timestamp, 'webhook-signature': delivery.signature };
    const event = webhooks.verify<{ type: string; data: { title?: string } }>(hook!.secret, delivery.body, headers);
    expect(event.type).toBe('task.created');
    expect(() => webhooks.verify(hook!.secret, delivery.body.replace('announce', 'denounce'), new Headers(headers))).toThrow(
      WebhookVerificationError,
    );
  });

  it('the committed generated types match the live /openapi.json (run npm run sdk:generate when this fails)', async () => {
    const document = await (await worker.fetch('/openapi.json')).json();
    const fresh = await typesFromDocument(document);
    const committed = await readFile(TYPES_FILE, 'utf8');
    expect(committed === fresh, 'sdk/src/openapi.d.ts is stale: run npm run sdk:generate').toBe(true);
  });
});
