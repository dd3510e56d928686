/**
 * Webhooks in real time (issue 20): the tenant's hub makes first attempts itself right after
 * publishing (durable-objects/tenant-hub/direct-webhooks.ts), and the queue's fan-out of the same
 * events then sends nothing; an endpoint with `ordering: 'none'` gets its first attempts several at once.
 */
import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import { DirectWebhooks } from '../../../durable-objects/tenant-hub/direct-webhooks';
import { newId } from '../../../src/lib/ids';
import { call, expectJson, expectProblem } from '../../support/workers/http';
import { signup } from '../../support/workers/tenants';
import { createHook, deliveries, received, receivedAtLeast, runBatch } from './_support';

function eventsFor(tenantId: string, from: number, n: number) {
  return Array.from({ length: n }, (_, i) => ({
    id: newId('evt'),
    type: 'task.created',
    tenantId,
    occurredAt: new Date().toISOString(),
    sequence: from + i,
    data: { n: from + i },
  }));
}

describe('direct first attempts', () => {
  it('the hub delivers a published page itself, in order; the queue then sends none of it again', async () => {
    const owner = await signup('rt-direct');
    const hook = await createHook(owner, { eventTypes: ['task.created'] });
    const list = eventsFor(owner.tenantId, 7001, 5);
    const direct = new DirectWebhooks(env, () => owner.tenantId);
    direct.deliver(list.slice(0, 3));
    direct.deliver(list.slice(3));
    await direct.idle();
    expect((await received(hook.name)).map((r) => r.payload!.sequence)).toEqual([7001, 7002, 7003, 7004, 7005]);
    const batch = await runBatch(list);
    expect(batch.explicitAcks).toHaveLength(5);
    expect(await received(hook.name)).toHaveLength(5);
    const rows = await deliveries(owner, hook.id);
    expect(rows.every((d) => d.status === 'succeeded' && d.attempts === 1)).toBe(true);
  });

  it('a tenant without endpoints is remembered, and creating one through the API makes the next page direct again', async () => {
    const owner = await signup('rt-none');
    const direct = new DirectWebhooks(env, () => owner.tenantId);
    direct.deliver(eventsFor(owner.tenantId, 8001, 1));
    await direct.idle();
    // Remembered: an endpoint written behind the hub's back gets nothing from this path (the queue path covers it).
    const hidden = await createHook(owner, { eventTypes: ['task.created'] });
    direct.deliver(eventsFor(owner.tenantId, 8002, 1));
    await direct.idle();
    expect(await received(hidden.name)).toHaveLength(0);
    // What webhooksChanged does when an endpoint is created or enabled through the API.
    direct.forgetEndpoints();
    direct.deliver(eventsFor(owner.tenantId, 8003, 1));
    await direct.idle();
    expect((await received(hidden.name)).map((r) => r.payload!.sequence)).toEqual([8003]);
  });

  it('a task written through the API reaches its endpoint once', async () => {
    const owner = await signup('rt-api');
    const hook = await createHook(owner, { eventTypes: ['task.created'] });
    await expectJson(await call('/v1/tasks', { token: owner.accessToken, body: { title: 'real time' } }), 201);
    const [got] = await receivedAtLeast(hook.name, 1);
    expect(got!.payload).toMatchObject({ type: 'task.created', data: expect.objectContaining({}) });
    // Whichever path made it, nothing is sent twice.
    await new Promise((r) => setTimeout(r, 1_500));
    expect(await received(hook.name)).toHaveLength(1);
  });
});

describe('ordering per endpoint', () => {
  it("is 'sequence' unless chosen; 'none' is kept, changeable, and anything else is a 422 naming the field", async () => {
    const owner = await signup('rt-ordering');
    const plain = await createHook(owner);
    expect(plain.body.ordering).toBe('sequence');
    const loose = await createHook(owner, { ordering: 'none' });
    expect(loose.body.ordering).toBe('none');
    const patched = await expectJson(
      await call(`/v1/webhooks/${plain.id}`, { method: 'PATCH', token: owner.accessToken, body: { ordering: 'none' } }),
    );
    expect(patched.ordering).toBe('none');
    const bad = await expectProblem(
      await call('/v1/webhooks', { token: owner.accessToken, body: { url: 'http://127.0.0.1:9/x', ordering: 'fifo' } }),
      422,
    );
    expect(bad.errors.map((e: { path: string }) => e.path)).toEqual(['ordering']);
  });

  it("'none': first attempts to one slow endpoint overlap instead of waiting for each other, each sent once", async () => {
    const owner = await signup('rt-none');
    const hook = await createHook(owner, { eventTypes: ['task.created'], ordering: 'none', query: 'delayMs=400' });
    await runBatch(eventsFor(owner.tenantId, 1, 6));
    const got = await receivedAtLeast(hook.name, 6, 20_000);
    expect(new Set(got.map((g) => g.webhookId)).size).toBe(6);
    // One at a time, the first three would arrive at least 2 × 400 ms (the receiver's answer time) apart
    // (after the lane's 1 s budget the rest would go to the WEBHOOKS queue, so only the first ones tell).
    const arrivals = got.map((g) => g.receivedAt).sort((a, b) => a - b);
    expect(arrivals[2]! - arrivals[0]!, `arrivals ${arrivals.map((a) => a - arrivals[0]!).join(', ')} ms`).toBeLessThan(400);
  });
});
