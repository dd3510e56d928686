// The EVENTS consumer: a redelivered batch has the effect of one, events reach endpoints in sequence
// order, poison messages are retried (to the DLQ after max_retries), and stragglers are swept.
import {
  createExecutionContext,
  createMessageBatch,
  createScheduledController,
  getQueueResult,
  waitOnExecutionContext,
} from 'cloudflare:test';
import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config';
import worker from '../../../src/index';
import { newId } from '../../../src/lib/ids';
import { consumeEvents } from '../../../src/queue/consumer';
import { sleep } from '../../support/shared/time';
import { call } from '../../support/workers/http';
import { signup } from '../../support/workers/tenants';
import { createTask } from '../tasks/_support';
import { createHook, deliveries, interceptD1, onExecute, QUEUE, received, receivedAtLeast, runBatch, WEBHOOK_QUEUE } from './_support';

function eventFor(tenantId: string, sequence: number, type = 'task.created') {
  return { id: newId('evt'), type, tenantId, occurredAt: new Date().toISOString(), sequence, data: { n: sequence } };
}

describe('idempotent consumers', () => {
  it('the same batch delivered twice sends each webhook once and counts each event once', async () => {
    const owner = await signup('q-dup');
    const hook = await createHook(owner, { eventTypes: ['task.created'] });
    const events = [eventFor(owner.tenantId, 9001), eventFor(owner.tenantId, 9002)];
    const points: unknown[] = [];
    const ANALYTICS = { writeDataPoint: (p: unknown) => void points.push(p) } as unknown as AnalyticsEngineDataset;
    const first = await runBatch(events, { ANALYTICS });
    const second = await runBatch([...events].reverse(), { ANALYTICS });
    expect(first.explicitAcks).toHaveLength(2);
    expect(second.explicitAcks).toHaveLength(2);
    const got = await received(hook.name);
    expect(got.map((g) => g.payload!.sequence)).toEqual([9001, 9002]);
    expect(await deliveries(owner, hook.id)).toHaveLength(2);
    expect(points).toHaveLength(2);
  });

  it('a duplicate attempt job is a no-op (compare-and-set on the attempt number)', async () => {
    const owner = await signup('q-dup-job');
    const hook = await createHook(owner, { eventTypes: ['task.created'] });
    await runBatch([eventFor(owner.tenantId, 1)]);
    const [d] = await deliveries(owner, hook.id);
    const again = await runBatch(
      [
        { kind: 'webhook_attempt', deliveryId: d!.id, attempt: 1, trigger: 'auto' },
        { kind: 'webhook_attempt', deliveryId: 'dlv_missing', attempt: 1, trigger: 'auto' },
      ],
      {},
      WEBHOOK_QUEUE,
    );
    expect(again.explicitAcks).toHaveLength(2);
    expect(await received(hook.name)).toHaveLength(1);
  });
});

describe('one read per batch', () => {
  it("a batch's tenants share one consumed-events write and one endpoints read, and each still gets its own", async () => {
    const [a, b, c] = await Promise.all([signup('q-batch-a'), signup('q-batch-b'), signup('q-batch-c')]);
    const hookA = await createHook(a, { eventTypes: ['task.created'], ordering: 'none' });
    const hookB = await createHook(b, { eventTypes: ['task.created'], ordering: 'sequence' });
    // Every execution, also of statements drizzle prepared once and runs again.
    const executed: string[] = [];
    const DB = interceptD1({ prepare: (real, [query]) => onExecute(real(query), () => void executed.push(String(query))) });
    const points: Array<{ indexes?: string[] }> = [];
    const ANALYTICS = { writeDataPoint: (p: { indexes?: string[] }) => void points.push(p) } as unknown as AnalyticsEngineDataset;
    const events = [
      eventFor(a.tenantId, 11),
      eventFor(b.tenantId, 21),
      eventFor(c.tenantId, 31),
      eventFor(a.tenantId, 12),
      eventFor(b.tenantId, 22),
    ];
    const result = await runBatch(events, { DB, ANALYTICS });
    expect(result.explicitAcks).toHaveLength(5);
    const count = (re: RegExp) => executed.filter((q) => re.test(q)).length;
    expect(count(/^insert into "consumed_events"/i)).toBe(1);
    expect(count(/from "webhook_endpoints" where \("webhook_endpoints"."tenant_id" in /i)).toBe(1);
    // Only the 'sequence' tenant reads its endpoints again, after its hub's fan-out (src/events/sinks.ts).
    expect(count(/from "webhook_endpoints" where \("webhook_endpoints"."tenant_id" = /i)).toBe(1);
    // Each tenant's endpoint got its own events, in order; the tenant without one got none; each event counted once.
    expect((await receivedAtLeast(hookA.name, 2)).map((g) => g.payload!.sequence)).toEqual([11, 12]);
    expect((await receivedAtLeast(hookB.name, 2)).map((g) => g.payload!.sequence)).toEqual([21, 22]);
    expect(points.map((p) => p.indexes?.[0]).sort()).toEqual([a.tenantId, a.tenantId, b.tenantId, b.tenantId, c.tenantId].sort());
    // Redelivered: nothing counted or sent again.
    await runBatch(events, { ANALYTICS });
    expect(points).toHaveLength(5);
    expect(await received(hookA.name)).toHaveLength(2);
    expect(await received(hookB.name)).toHaveLength(2);
  });
});

describe('ordering', () => {
  it('events of one tenant reach an endpoint in sequence order, gap-free across task and control-plane events', async () => {
    const owner = await signup('q-order');
    const hook = await createHook(owner);
    for (let i = 0; i < 6; i++) {
      await createTask(owner, { title: `t${i}` });
      if (i === 2)
        expect((await call('/v1/tenant', { method: 'PATCH', token: owner.accessToken, body: { name: 'Mid' } })).status).toBe(200);
    }
    const got = await receivedAtLeast(hook.name, 7);
    const seqs = got.map((g) => g.payload!.sequence as number);
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    expect(seqs.at(-1)! - seqs[0]!).toBe(seqs.length - 1); // contiguous: no gaps, no duplicates
    expect(got.map((g) => g.payload!.type)).toEqual([
      'task.created',
      'task.created',
      'task.created',
      'tenant.updated',
      'task.created',
      'task.created',
      'task.created',
    ]);
  });

  it('sorts a batch by sequence before fan-out, whatever order the queue delivered it in', async () => {
    const owner = await signup('q-sort');
    const hook = await createHook(owner, { eventTypes: ['task.created'] });
    await runBatch([eventFor(owner.tenantId, 503), eventFor(owner.tenantId, 501), eventFor(owner.tenantId, 502)]);
    expect((await received(hook.name)).map((g) => g.payload!.sequence)).toEqual([501, 502, 503]);
  });
});

describe('poison messages', () => {
  it('are retried with backoff, the others acked; after max_retries the queue moves them to the DLQ', async () => {
    const config = loadConfig(env);
    const failing = {
      name: 'boom',
      async handle(tenantId: string) {
        if (tenantId === 'tnt_poison') throw new Error('sink down');
      },
    };
    const batch = createMessageBatch<unknown>(QUEUE, [
      { id: 'ok', timestamp: new Date(), attempts: 1, body: eventFor('tnt_fine', 1) },
      { id: 'poison', timestamp: new Date(), attempts: 3, body: eventFor('tnt_poison', 1) },
      { id: 'garbage', timestamp: new Date(), attempts: 5, body: { kind: 'webhook_attempt', deliveryId: 42 } },
    ]);
    const ctx = createExecutionContext();
    await consumeEvents(batch, env, config, [failing]);
    const result = await getQueueResult(batch, ctx);
    expect(result.explicitAcks).toEqual(['ok']);
    expect(result.retryMessages.map((m) => m.msgId).sort()).toEqual(['garbage', 'poison']);
  });
});

describe('sweeper', () => {
  it('forwards control-plane events whose hand-over to the hub never happened', async () => {
    const owner = await signup('q-sweep');
    const hook = await createHook(owner, { eventTypes: ['tenant.updated'] });
    const id = newId('evt', Date.now() - 120_000);
    await env.DB.prepare(
      `INSERT INTO event_outbox (id, tenant_id, type, occurred_at, data) VALUES (?, ?, 'tenant.updated', ?, '{"name":"swept"}')`,
    )
      .bind(id, owner.tenantId, new Date(Date.now() - 120_000).toISOString())
      .run();
    const ctx = createExecutionContext();
    await worker.scheduled!(createScheduledController({ scheduledTime: new Date(), cron: '*/1 * * * *' }), env, ctx);
    await waitOnExecutionContext(ctx);
    const [got] = await receivedAtLeast(hook.name, 1);
    expect(got!.payload).toMatchObject({ id, type: 'tenant.updated', data: { name: 'swept' } });
    const row = await env.DB.prepare('SELECT forwarded_at FROM event_outbox WHERE id = ?')
      .bind(id)
      .first<{ forwarded_at: string | null }>();
    expect(row!.forwarded_at).not.toBeNull();
    // Forwarding again (a sweep racing a slow request) appends nothing: the hub knows the id.
    await env.DB.prepare('UPDATE event_outbox SET forwarded_at = NULL WHERE id = ?').bind(id).run();
    const ctx2 = createExecutionContext();
    await worker.scheduled!(createScheduledController({ scheduledTime: new Date(), cron: '*/1 * * * *' }), env, ctx2);
    await waitOnExecutionContext(ctx2);
    await sleep(1500);
    expect(await received(hook.name)).toHaveLength(1);
  });
});
