/**
 * Events end to end over real HTTP: the bundled Worker on workerd (real D1, TenantHub, EVENTS queue
 * with its real delivery delays) delivers to a Node receiver that verifies with the official
 * standardwebhooks library; a failed first attempt is retried by the queue 5 s later.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signup } from '../support/node/api';
import { startWebhookReceiver, type WebhookReceiver } from '../support/node/webhook-receiver';
import { type RunningWorker, startWorker } from '../support/node/worker';
import { eventually } from '../support/shared/time';

let worker: RunningWorker;
let receiver: WebhookReceiver;
beforeAll(async () => {
  receiver = await startWebhookReceiver();
  worker = await startWorker();
});
afterAll(async () => {
  await worker?.dispose();
  await receiver?.close();
});

const post = (path: string, body: unknown, token?: string, headers: Record<string, string> = {}) =>
  worker.fetch(path, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}), ...headers },
    body: JSON.stringify(body),
  });

async function tenant(): Promise<string> {
  return (await signup(worker, 'e2e-wh')).accessToken;
}

async function webhook(token: string, name: string, query = ''): Promise<{ id: string; secret: string }> {
  const res = await post('/v1/webhooks', { url: `${receiver.url}/hooks/${name}${query}`, eventTypes: ['task.*'] }, token);
  expect(res.status, await res.clone().text()).toBe(201);
  const hook = (await res.json()) as { id: string; secret: string };
  await fetch(`${receiver.url}/__register`, { method: 'POST', body: JSON.stringify({ name, secrets: [hook.secret] }) });
  return hook;
}

describe('webhooks over HTTP', () => {
  it('delivers a task event; a failed first attempt is retried by the queue after the 5 s delay and verifies', async () => {
    const token = await tenant();
    const name = `e2e-${crypto.randomUUID().slice(0, 8)}`;
    const hook = await webhook(token, name, '?fail=1');
    expect((await post('/v1/tasks', { title: 'over the wire' }, token)).status).toBe(201);
    const got = await eventually(
      () => {
        const list = receiver.received.filter((r) => r.name === name);
        return list.length >= 2 ? list : undefined;
      },
      { what: 'two attempts at the receiver', timeoutMs: 20_000, intervalMs: 100 },
    );
    expect(got.map((r) => r.answered)).toEqual([500, 200]);
    expect(got[1]!.receivedAt - got[0]!.receivedAt).toBeGreaterThanOrEqual(4_500);
    expect(got.every((r) => r.verifiedWith.length === 1)).toBe(true);
    expect(got[1]!.payload).toMatchObject({ type: 'task.created', data: { task: { title: 'over the wire' } } });
    const settled = await eventually(
      async () => {
        const d = (await (
          await worker.fetch(`/v1/webhooks/${hook.id}/deliveries`, { headers: { authorization: `Bearer ${token}` } })
        ).json()) as { data: Array<Record<string, any>> };
        return d.data[0]?.status === 'succeeded' ? d.data : undefined;
      },
      { what: 'the delivery to succeed', timeoutMs: 5_000, intervalMs: 100 },
    );
    expect(settled).toHaveLength(1);
    expect(settled[0]!.attemptLog.map((a: { statusCode: number; trigger: string }) => [a.trigger, a.statusCode])).toEqual([
      ['auto', 500],
      ['retry', 200],
    ]);
  });

  it('replays a POST with the same Idempotency-Key and refuses it with another body', async () => {
    const token = await tenant();
    const headers = { 'idempotency-key': crypto.randomUUID() };
    const a = await post('/v1/tasks', { title: 'once' }, token, headers);
    const b = await post('/v1/tasks', { title: 'once' }, token, headers);
    expect(a.status).toBe(201);
    expect(b.status).toBe(201);
    expect(b.headers.get('idempotent-replayed')).toBe('true');
    expect(await b.text()).toBe(await a.text());
    expect((await post('/v1/tasks', { title: 'twice' }, token, headers)).status).toBe(422);
  });
});
