/**
 * Webhooks in real time (issue 20): the tenant's hub makes first attempts itself right after a write
 * commits, without waiting for its queue send (durable-objects/tenant-hub/direct-webhooks.ts), and the
 * queue's fan-out of the same events then sends nothing; an endpoint with `ordering: 'none'` gets its
 * first attempts several at once.
 */
import { runInDurableObject } from 'cloudflare:test';
import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import { DirectWebhooks } from '../../../durable-objects/tenant-hub/direct-webhooks';
import { loadConfig } from '../../../src/config';
import { deliveryInserts, fanOut, RECORD_BATCH, RECORD_LINGER_MS } from '../../../src/events/fanout';
import { webhookSinkWith } from '../../../src/events/sinks';
import { newId } from '../../../src/lib/ids';
import { tenantHubStub } from '../../../src/lib/stubs';
import { eventually } from '../../support/shared/time';
import { call, expectJson, expectProblem } from '../../support/workers/http';
import { signup } from '../../support/workers/tenants';
import {
  createHook,
  deliveries,
  driveAttempt,
  hookName,
  interceptD1,
  onExecute,
  received,
  receivedAtLeast,
  receiverUrl,
  registerSecrets,
  runBatch,
} from './_support';

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

/**
 * Holds every EVENTS send of the tenant's hub until `release` (each send's messages seen by `onSend`
 * first); `restore` puts the real send back.
 */
async function holdQueueSends(tenantId: string, onSend: (messages: MessageSendRequest[]) => void = () => {}) {
  let release!: () => void;
  const held = new Promise<void>((resolve) => {
    release = resolve;
  });
  const restore = await runInDurableObject(tenantHubStub(env, tenantId), (instance) => {
    const queue = (instance as unknown as { env: Env }).env.EVENTS;
    const real = queue.sendBatch;
    queue.sendBatch = async (messages, options) => {
      const list = [...messages];
      onSend(list);
      await held;
      return real.call(queue, list, options);
    };
    return () => {
      queue.sendBatch = real;
    };
  });
  return { release, restore };
}

/** The D1 batches that record attempts, as the number of attempt records in each, and when each was written. */
function recordBatches() {
  const attemptStmts = new WeakSet<object>();
  const batches: { records: number; at: number }[] = [];
  const db = interceptD1({
    prepare: (real, args) => {
      const stmt = real(...args);
      if (!/^INSERT INTO webhook_attempts/.test(String(args[0]))) return stmt;
      return new Proxy(stmt, {
        get(target, prop) {
          const v = Reflect.get(target, prop, target);
          if (prop !== 'bind') return typeof v === 'function' ? v.bind(target) : v;
          return (...a: unknown[]) => {
            const bound = v.apply(target, a);
            attemptStmts.add(bound);
            return bound;
          };
        },
      });
    },
    batch: async (real, [stmts]) => {
      const records = (stmts as object[]).filter((x) => attemptStmts.has(x)).length;
      const out = await real(stmts);
      if (records > 0) batches.push({ records, at: Date.now() });
      return out;
    },
  });
  return { db, batches };
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

  it('a page larger than one insert statement reaches every endpoint once, in order; a repeat creates nothing', async () => {
    const owner = await signup('rt-many');
    const a = await createHook(owner, { tag: 'a', eventTypes: ['task.created'] });
    const b = await createHook(owner, { tag: 'b', eventTypes: ['task.created'] });
    // 23 events × 2 endpoints: 46 rows, six INSERT statements of up to eight rows.
    const list = eventsFor(owner.tenantId, 9601, 23);
    const sequences = list.map((e) => e.sequence);
    const direct = new DirectWebhooks(env, () => owner.tenantId);
    direct.deliver(list);
    await direct.idle();
    expect((await received(a.name)).map((r) => r.payload!.sequence)).toEqual(sequences);
    expect((await received(b.name)).map((r) => r.payload!.sequence)).toEqual(sequences);
    // The queue path's fan-out of the same page: every row exists, nothing is inserted or sent again.
    expect(await fanOut(env, loadConfig(env), owner.tenantId, list)).toBe(0);
    expect(await received(a.name)).toHaveLength(23);
    expect(await received(b.name)).toHaveLength(23);
    for (const hook of [a, b]) {
      const rows = await deliveries(owner, hook.id);
      expect(rows).toHaveLength(23);
      expect(rows.every((d) => d.status === 'succeeded' && d.attempts === 1)).toBe(true);
    }
  });

  it('no delivery insert binds more than the 100 parameters D1 allows per statement', async () => {
    const row = (i: number) => ({
      id: `dlv_${i}`,
      tenantId: 'tnt_x',
      endpointId: 'whe_x',
      eventId: `evt_${i}`,
      eventType: 'task.created',
      sequence: i,
      payload: '{}',
      status: 'pending' as const,
      // As fanOut inserts a row for an endpoint it will try inline: already claimed (the widest row).
      attempts: 1,
      roundStart: 0,
      leaseUntil: 'later',
      nextAttemptAt: 'now',
      lastStatusCode: null,
      lastError: null,
      createdAt: 'now',
      updatedAt: 'now',
    });
    const inserts = deliveryInserts(Array.from({ length: 50 }, (_, i) => row(i)));
    // Several rows to a statement (fewer statements to build than rows), none over D1's limit, and
    // each statement's placeholders match its parameters (D1 runs it).
    expect(inserts.length).toBeLessThan(50);
    for (const q of inserts) {
      expect(q.params.length).toBeLessThanOrEqual(100);
      expect(q.sql.split('?').length - 1).toBe(q.params.length);
    }
    const ran = await env.DB.prepare(inserts[0]!.sql)
      .bind(...inserts[0]!.params)
      .all()
      .catch((e: Error) => e.message);
    // The table's foreign keys refuse these made-up rows: the statement itself parsed and bound.
    expect(String(ran)).toMatch(/FOREIGN KEY/);
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

  it('pages published while a fan-out runs are merged into the next one, still in order', async () => {
    const owner = await signup('rt-merge');
    const hook = await createHook(owner, { eventTypes: ['task.created'] });
    // Counts the endpoint queries run (prepared once) and the delivery inserts (one per fan-out here).
    let endpointQueries = 0;
    let inserts = 0;
    const db = interceptD1({
      prepare: (real, [query]) => {
        const stmt = real(query);
        if (/^insert into "webhook_deliveries"/i.test(query)) inserts++;
        if (!(/from "webhook_endpoints"/i.test(query) && /"enabled" = \?/.test(query))) return stmt;
        return onExecute(stmt, () => {
          endpointQueries++;
        });
      },
    });
    const direct = new DirectWebhooks({ ...env, DB: db }, () => owner.tenantId);
    direct.deliver(eventsFor(owner.tenantId, 9301, 1));
    direct.deliver(eventsFor(owner.tenantId, 9302, 2));
    direct.deliver(eventsFor(owner.tenantId, 9304, 1));
    await direct.idle();
    expect((await received(hook.name)).map((r) => r.payload!.sequence)).toEqual([9301, 9302, 9303, 9304]);
    // Two fan-outs (the first page, then the three merged); the second used the endpoints the first read.
    expect(inserts).toBe(2);
    expect(endpointQueries).toBe(1);
  });

  it('the endpoints read for one page serve the next; a change through the API is used by the very next page', async () => {
    const owner = await signup('rt-known');
    const first = await createHook(owner, { tag: 'first', eventTypes: ['task.created'] });
    let endpointQueries = 0;
    const db = interceptD1({
      prepare: (real, [query]) => {
        const stmt = real(query);
        if (!(/from "webhook_endpoints"/i.test(query) && /"enabled" = \?/.test(query))) return stmt;
        return onExecute(stmt, () => {
          endpointQueries++;
        });
      },
    });
    // The hub as the API reaches it: webhooksChanged tells this instance.
    const direct = new DirectWebhooks({ ...env, DB: db }, () => owner.tenantId);
    for (const seq of [9601, 9602, 9603]) {
      direct.deliver(eventsFor(owner.tenantId, seq, 1));
      await direct.idle();
    }
    expect((await received(first.name)).map((r) => r.payload!.sequence)).toEqual([9601, 9602, 9603]);
    expect(endpointQueries).toBe(1);
    // Pointed elsewhere through the API (PATCH): the next page goes to the new URL, not the kept one.
    const moved = hookName('moved');
    await registerSecrets(moved, [first.secret]);
    const res = await call(`/v1/webhooks/${first.id}`, {
      method: 'PATCH',
      token: owner.accessToken,
      body: { url: `${receiverUrl()}/hooks/${moved}` },
    });
    expect(res.status).toBe(200);
    direct.forgetEndpoints(); // what TenantHub.webhooksChanged does on this change (checked below through the hub)
    direct.deliver(eventsFor(owner.tenantId, 9604, 1));
    await direct.idle();
    expect((await received(moved)).map((r) => r.payload!.sequence)).toEqual([9604]);
    expect((await received(first.name)).map((r) => r.payload!.sequence)).toEqual([9601, 9602, 9603]);
    expect(endpointQueries).toBe(2);
  });

  it("through the hub: a task written right after an endpoint's change is delivered as changed (moved, rotated, disabled)", async () => {
    const owner = await signup('rt-told');
    const hook = await createHook(owner, { eventTypes: ['task.created'] });
    const write = async (title: string) => expectJson(await call('/v1/tasks', { token: owner.accessToken, body: { title } }), 201);
    const titles = async (name: string) => (await received(name)).map((r) => r.payload!.data.task.title as string);
    // The hub reads the endpoint for this page and keeps it (ENDPOINTS_TTL_MS).
    await write('one');
    await receivedAtLeast(hook.name, 1);
    // Moved: the next task goes to the new URL at once, never to the old one.
    const moved = hookName('moved');
    await registerSecrets(moved, [hook.secret]);
    await expectJson(
      await call(`/v1/webhooks/${hook.id}`, {
        method: 'PATCH',
        token: owner.accessToken,
        body: { url: `${receiverUrl()}/hooks/${moved}` },
      }),
      200,
    );
    await write('two');
    await receivedAtLeast(moved, 1);
    // Rotated with no overlap: the next task is signed with the new secret only.
    const rotated = await expectJson<{ secret: string }>(
      await call(`/v1/webhooks/${hook.id}/rotate-secret`, { token: owner.accessToken, body: { overlapSeconds: 0 } }),
      200,
    );
    await registerSecrets(moved, [rotated.secret]);
    await write('three');
    const [, third] = await receivedAtLeast(moved, 2);
    expect(third!.verifiedWith).toEqual([0]);
    // Disabled: nothing more is sent.
    await expectJson(await call(`/v1/webhooks/${hook.id}`, { method: 'PATCH', token: owner.accessToken, body: { enabled: false } }), 200);
    await write('four');
    await new Promise((r) => setTimeout(r, 1_500));
    expect(await titles(hook.name)).toEqual(['one']);
    expect(await titles(moved)).toEqual(['two', 'three']);
  });

  it("the hub's own lanes keep going past the queue consumer's 1 s inline budget", async () => {
    const owner = await signup('rt-budget');
    // Each answer takes 600 ms: the third send starts after 1.2 s.
    const hook = await createHook(owner, { eventTypes: ['task.created'], query: 'delayMs=600' });
    const direct = new DirectWebhooks(env, () => owner.tenantId);
    direct.deliver(eventsFor(owner.tenantId, 9401, 3));
    await direct.idle();
    // All three sent inline, in order (the consumer's lanes would have handed the third to the queue).
    expect((await received(hook.name)).map((r) => r.payload!.sequence)).toEqual([9401, 9402, 9403]);
  });

  it("a write's webhooks go out while the hub's queue send is held; writes meanwhile share the next send", async () => {
    const owner = await signup('rt-held');
    const hook = await createHook(owner, { eventTypes: ['task.created'] });
    const write = async (title: string) => expectJson(await call('/v1/tasks', { token: owner.accessToken, body: { title } }), 201);
    // A hub's first publish reads its table and hands that page over once sent: a first write and its
    // delivery get that out of the way, and whatever else it had to publish.
    await write('zero');
    await receivedAtLeast(hook.name, 1);
    await new Promise((r) => setTimeout(r, 300));
    /** The task.created events of each send the hub made, as titles. */
    const sends: string[][] = [];
    const { release, restore } = await holdQueueSends(owner.tenantId, (list) => {
      const titles = list
        .map((m) => m.body as { type: string; data: { task: { title: string } } })
        .filter((e) => e.type === 'task.created')
        .map((e) => e.data.task.title);
      if (titles.length > 0) sends.push(titles);
    });
    try {
      await write('one');
      await receivedAtLeast(hook.name, 2);
      await write('two');
      await write('three');
      // All three delivered with the first send still held, and no second send started beside it.
      const got = await receivedAtLeast(hook.name, 4);
      expect(got.map((r) => r.payload!.data.task.title)).toEqual(['zero', 'one', 'two', 'three']);
      expect(sends).toEqual([['one']]);
      release();
      await eventually(async () => (sends.length === 2 ? sends : undefined), { what: 'the second send' });
      expect(sends).toEqual([['one'], ['two', 'three']]);
    } finally {
      release();
      restore();
    }
    await new Promise((r) => setTimeout(r, 1_500));
    expect(await received(hook.name)).toHaveLength(4);
  });

  it("through the hub: a tenant's first endpoint, created after writes with none, gets the next write directly", async () => {
    const owner = await signup('rt-first-hook');
    const write = async (title: string) => expectJson(await call('/v1/tasks', { token: owner.accessToken, body: { title } }), 201);
    // No endpoint: the hub's fan-out finds none and remembers it, so the writes after it keep nothing to hand over.
    await write('before');
    await new Promise((r) => setTimeout(r, 300));
    await write('before, known none');
    await new Promise((r) => setTimeout(r, 300));
    const hook = await createHook(owner, { eventTypes: ['task.created'] });
    const { release, restore } = await holdQueueSends(owner.tenantId);
    try {
      // Creating the endpoint told the hub (webhooksChanged): this write's event is handed over at once,
      // and delivered while the hub's queue send is still held, so not by the queue's copy.
      await write('after');
      await eventually(async () => (await received(hook.name)).find((r) => r.payload!.data.task.title === 'after'), {
        what: "the write's delivery with the hub's queue send held",
      });
    } finally {
      release();
      restore();
    }
    // The queue's copy of it then sends nothing again (the earlier writes' queue copies may still reach
    // the new endpoint: the queue's fan-out reads the endpoints when it runs).
    await new Promise((r) => setTimeout(r, 1_500));
    expect((await received(hook.name)).filter((r) => r.payload!.data.task.title === 'after')).toHaveLength(1);
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

describe("one sender per 'sequence' endpoint", () => {
  /** The hub's namespace with `fanOutWebhooks` replaced, counting its calls (an outage, a hub far behind). */
  function hubWith(fanOutWebhooks: () => Promise<void>) {
    const calls = { n: 0 };
    const namespace = {
      idFromName: (name: string) => env.TENANT_HUB.idFromName(name),
      get: () => ({
        fanOutWebhooks: () => {
          calls.n++;
          return fanOutWebhooks();
        },
      }),
    } as unknown as Env['TENANT_HUB'];
    return { namespace, calls };
  }

  /** The consumer's webhook sink (a 200 ms wait for the hub) over `n` events from `first`, with `hub` as the tenant's hub. */
  function sinkWithHub(hub: ReturnType<typeof hubWith>, tenantId: string, first: number, n: number) {
    return webhookSinkWith({ hubWaitMs: 200 }).handle(
      tenantId,
      eventsFor(tenantId, first, n),
      { ...env, TENANT_HUB: hub.namespace },
      loadConfig(env),
    );
  }

  it("the queue's copy of events the hub is still sending waits for the hub: received once each, in order", async () => {
    const owner = await signup('rt-one-sender');
    const hook = await createHook(owner, { eventTypes: ['task.created'], query: 'delayMs=80' });
    const list = eventsFor(owner.tenantId, 9701, 8);
    const hub = tenantHubStub(env, owner.tenantId);
    // The hub's direct path: a first page, and a second one published while the first is still being sent.
    const pages = [hub.fanOutWebhooks(owner.tenantId, list.slice(0, 4))];
    await receivedAtLeast(hook.name, 1);
    pages.push(hub.fanOutWebhooks(owner.tenantId, list.slice(4)));
    // The queue's copy of all eight, meanwhile: the consumer's webhook sink hands it to the hub and waits.
    const batch = await runBatch(list);
    expect(batch.explicitAcks).toHaveLength(8);
    // By then the hub had sent all of them, alone: in sequence order, each once.
    expect((await received(hook.name)).map((r) => r.payload!.sequence)).toEqual(list.map((e) => e.sequence));
    await Promise.all(pages);
    const rows = await deliveries(owner, hook.id);
    expect(rows).toHaveLength(8);
    expect(rows.every((d) => d.status === 'succeeded' && d.attempts === 1)).toBe(true);
  });

  it("what the hub's kept copy of the endpoints lacks (a widened filter) the queue's copy still delivers", async () => {
    const owner = await signup('rt-stale');
    const hook = await createHook(owner, { eventTypes: ['task.updated'] });
    // The hub reads the endpoint for a first page and keeps it: it does not take task.created.
    const hub = tenantHubStub(env, owner.tenantId);
    await hub.fanOutWebhooks(owner.tenantId, eventsFor(owner.tenantId, 9801, 1));
    expect(await received(hook.name)).toHaveLength(0);
    // Widened behind the hub's back (not through the API, which would tell it).
    await env.DB.prepare(`UPDATE webhook_endpoints SET event_types = '["task.created"]' WHERE id = ?`).bind(hook.id).run();
    const list = eventsFor(owner.tenantId, 9802, 3);
    const batch = await runBatch(list);
    expect(batch.explicitAcks).toHaveLength(3);
    expect((await received(hook.name)).map((r) => r.payload!.sequence)).toEqual([9802, 9803, 9804]);
  });

  // An outage of the hub's object (answered at once), and a hub whose answer never comes (stuck behind a
  // backlog: the sink goes ahead after its wait, 200 ms here, HUB_FAN_OUT_WAIT_MS in the consumer).
  it.each([
    ['cannot be reached', () => Promise.reject(new Error('Durable Object reset because its code was updated.')), 0],
    ['is not done within the wait', () => new Promise<void>(() => {}), 200],
  ])("when the hub %s, the queue's copy reaches every endpoint itself and the group succeeds", async (_, answer, waitsMs) => {
    const owner = await signup('rt-no-hub');
    const hook = await createHook(owner, { eventTypes: ['task.created'] });
    const hub = hubWith(answer);
    const started = Date.now();
    // It must not throw, or the consumer would retry the tenant's whole group.
    await sinkWithHub(hub, owner.tenantId, 9901, 3);
    expect(hub.calls.n).toBe(1);
    expect(Date.now() - started).toBeGreaterThanOrEqual(waitsMs);
    expect((await received(hook.name)).map((r) => r.payload!.sequence)).toEqual([9901, 9902, 9903]);
  });

  it("a tenant whose endpoints are all 'none' is not handed to the hub", async () => {
    const owner = await signup('rt-none-only');
    const hook = await createHook(owner, { eventTypes: ['task.created'], ordering: 'none' });
    const hub = hubWith(() => Promise.resolve());
    await sinkWithHub(hub, owner.tenantId, 9931, 2);
    expect(hub.calls.n).toBe(0);
    expect((await received(hook.name)).map((r) => r.payload!.sequence).sort()).toEqual([9931, 9932]);
  });

  it('events the hub fanned out already are answered from memory; new ones among them are fanned out, in order', async () => {
    const owner = await signup('rt-memory');
    const hook = await createHook(owner, { eventTypes: ['task.created'] });
    let inserts = 0;
    const db = interceptD1({
      prepare: (real, [query]) => {
        if (/^insert into "webhook_deliveries"/i.test(query)) inserts++;
        return real(query);
      },
    });
    const direct = new DirectWebhooks({ ...env, DB: db }, () => owner.tenantId);
    const list = eventsFor(owner.tenantId, 9951, 4);
    direct.deliver(list.slice(0, 2));
    await direct.idle();
    expect(inserts).toBe(1);
    // The queue's copy of the first two: no fan-out of its own; the same page published again: none either.
    await direct.fanOutAndWait(list.slice(0, 2));
    direct.deliver(list.slice(0, 2));
    await direct.idle();
    expect(inserts).toBe(1);
    // Out of order, with two new ones: only those are fanned out, and sent in sequence order.
    await direct.fanOutAndWait([list[3]!, list[0]!, list[2]!]);
    expect(inserts).toBe(2);
    expect((await received(hook.name)).map((r) => r.payload!.sequence)).toEqual([9951, 9952, 9953, 9954]);
  });

  it("a hub that knows its tenant has no endpoint answers the wait at once, and the queue's copy still delivers", async () => {
    const owner = await signup('rt-none-known');
    const direct = new DirectWebhooks(env, () => owner.tenantId);
    direct.deliver(eventsFor(owner.tenantId, 9971, 1));
    await direct.idle();
    // An endpoint this instance is not told about (as if its webhooksChanged were lost).
    const hook = await createHook(owner, { eventTypes: ['task.created'] });
    const list = eventsFor(owner.tenantId, 9972, 2);
    await direct.fanOutAndWait(list);
    expect(await received(hook.name)).toHaveLength(0);
    // The consumer's fan-out after the wait reaches it.
    await fanOut(env, loadConfig(env), owner.tenantId, list);
    expect((await received(hook.name)).map((r) => r.payload!.sequence)).toEqual([9972, 9973]);
  });

  it('a fan-out that fails still answers the wait, and its events are not remembered as done', async () => {
    const owner = await signup('rt-failed');
    const hook = await createHook(owner, { eventTypes: ['task.created'] });
    let failing = true;
    const db = interceptD1({
      batch: (real, args) => (failing ? Promise.reject(new Error('D1_ERROR: simulated failure')) : real(...args)),
    });
    const direct = new DirectWebhooks({ ...env, DB: db }, () => owner.tenantId);
    const list = eventsFor(owner.tenantId, 9961, 2);
    await direct.fanOutAndWait(list);
    expect(await received(hook.name)).toHaveLength(0);
    // D1 is back: the next copy of the same events is fanned out, not answered from memory.
    failing = false;
    await direct.fanOutAndWait(list);
    expect((await received(hook.name)).map((r) => r.payload!.sequence)).toEqual([9961, 9962]);
  });
});

describe('pipelined lanes', () => {
  it('the next delivery is sent while the previous one is still being recorded, and arrives after it', async () => {
    const owner = await signup('rt-overlap');
    const hook = await createHook(owner, { eventTypes: ['task.created'] });
    const list = eventsFor(owner.tenantId, 9101, 3);
    // The first attempt's record (the second batch: the first creates the rows) takes 600 ms to write.
    let batches = 0;
    let firstRecordWritten = 0;
    const db = interceptD1({
      batch: async (real, args) => {
        if (++batches !== 2) return real(...args);
        await new Promise((r) => setTimeout(r, 600));
        const out = await real(...args);
        firstRecordWritten = Date.now();
        return out;
      },
    });
    await fanOut({ ...env, DB: db }, loadConfig(env), owner.tenantId, list);
    const got = await received(hook.name);
    expect(got.map((r) => r.payload!.sequence)).toEqual([9101, 9102, 9103]);
    expect(got[1]!.receivedAt).toBeLessThan(firstRecordWritten);
    const rows = await deliveries(owner, hook.id);
    expect(rows.every((d) => d.status === 'succeeded' && d.attempts === 1)).toBe(true);
  });

  it("an attempt's record is written while the next is sent, in order; a write that fails stops the lane and hands the rest on", async () => {
    const owner = await signup('rt-pipeline');
    // Each answer takes longer than a record waits for company: one record per write.
    const hook = await createHook(owner, { eventTypes: ['task.created'], query: `delayMs=${RECORD_LINGER_MS * 12}` });
    const list = eventsFor(owner.tenantId, 9001, 4);
    // D1 whose third batch fails: the first creates the delivery rows, the second records attempt 1 of
    // the first delivery, the third would record the second delivery's.
    let batches = 0;
    const db = interceptD1({
      batch: (real, args) => (++batches === 3 ? Promise.reject(new Error('D1_ERROR: simulated failure')) : real(...args)),
    });
    await expect(fanOut({ ...env, DB: db }, loadConfig(env), owner.tenantId, list)).rejects.toThrow('simulated failure');
    // In order, and nothing sent after the failed write but what was already on its way.
    const got = (await received(hook.name)).map((r) => r.payload!.sequence);
    expect(got.slice(0, 2)).toEqual([9001, 9002]);
    expect(got.length).toBeLessThanOrEqual(3);
    const rows = (await deliveries(owner, hook.id)).sort((a, b) => a.sequence - b.sequence);
    expect(rows.map((d) => d.sequence)).toEqual([9001, 9002, 9003, 9004]);
    expect(rows[0]).toMatchObject({ status: 'succeeded', attempts: 1 });
    // Its record was lost: still pending with attempt 1 made, retried once its lease expires.
    expect(rows[1]).toMatchObject({ status: 'pending', attempts: 1 });
    // The last one was never sent: unclaimed, handed to the WEBHOOKS queue.
    expect(rows[3]).toMatchObject({ status: 'pending', attempts: 0 });
  });
});

describe('records written together', () => {
  it("a 'sequence' lane's answers wait for each other: RECORD_BATCH per D1 batch, the rest when the lane ends, each once, in order", async () => {
    const owner = await signup('rt-linger');
    const hook = await createHook(owner, { eventTypes: ['task.created'] });
    const { db, batches } = recordBatches();
    const total = RECORD_BATCH + 8;
    const list = eventsFor(owner.tenantId, 9801, total);
    // A linger longer than the lane: only the batch size and the lane's end write (whatever this machine's speed).
    const config = loadConfig(env);
    expect(await fanOut({ ...env, DB: db }, config, owner.tenantId, list, { recordLingerMs: 60_000 })).toBe(total);
    expect((await received(hook.name)).map((r) => r.payload!.sequence)).toEqual(list.map((e) => e.sequence));
    // One write per answer before this (a batch of one per delivery).
    const sizes = batches.map((b) => b.records);
    expect(sizes[0], `records per batch: ${sizes.join(', ')}`).toBe(RECORD_BATCH);
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(total);
    expect(sizes.length).toBeLessThanOrEqual(3);
    const rows = await deliveries(owner, hook.id);
    expect(rows.map((d) => [d.status, d.attempts])).toEqual(list.map(() => ['succeeded', 1]));
  });

  it('a slow lane does not hold its records until it ends: each is written while the next delivery is on its way', async () => {
    const owner = await signup('rt-linger-slow');
    const hook = await createHook(owner, { eventTypes: ['task.created'], query: 'delayMs=150' });
    const { db, batches } = recordBatches();
    const list = eventsFor(owner.tenantId, 9851, 3);
    expect(await fanOut({ ...env, DB: db }, loadConfig(env), owner.tenantId, list)).toBe(3);
    const got = await received(hook.name);
    expect(got.map((r) => r.payload!.sequence)).toEqual([9851, 9852, 9853]);
    expect(batches.map((b) => b.records)).toEqual([1, 1, 1]);
    // The first attempt was recorded before the third delivery was even received.
    expect(batches[0]!.at).toBeLessThan(got[2]!.receivedAt);
  });
});

describe('claimed, not sent', () => {
  it('a failure stops the lane: the deliveries inserted claimed that it did not send are given back unclaimed and sent later by the queue', async () => {
    const owner = await signup('rt-release');
    // The first request fails (500), later ones succeed.
    const hook = await createHook(owner, { query: 'fail=1&status=500', eventTypes: ['task.created'] });
    const list = eventsFor(owner.tenantId, 9201, 4);
    await fanOut(env, loadConfig(env), owner.tenantId, list);
    expect((await received(hook.name)).map((r) => r.payload!.sequence)).toEqual([9201]);
    const rows = (await deliveries(owner, hook.id)).sort((a, b) => a.sequence - b.sequence);
    expect(rows[0]).toMatchObject({ sequence: 9201, status: 'pending', attempts: 1 });
    // Claimed by their insert, never sent: as if never claimed.
    expect(rows.slice(1).map((d) => [d.sequence, d.status, d.attempts])).toEqual([
      [9202, 'pending', 0],
      [9203, 'pending', 0],
      [9204, 'pending', 0],
    ]);
    // Their handed-off jobs claim attempt 1 as usual.
    for (const d of rows.slice(1)) await driveAttempt(d.id, 1, 'auto');
    expect((await received(hook.name)).map((r) => r.payload!.sequence)).toEqual([9201, 9202, 9203, 9204]);
  });
});

describe('inserted claimed', () => {
  it('a healthy lane sends its rows with no claim statement: the insert that created them holds attempt 1', async () => {
    const owner = await signup('rt-preclaim');
    const hook = await createHook(owner, { eventTypes: ['task.created'] });
    const statements: string[] = [];
    const db = interceptD1({
      prepare: (real, args) => {
        statements.push(String(args[0]));
        return real(...args);
      },
    });
    const list = eventsFor(owner.tenantId, 9301, 3);
    expect(await fanOut({ ...env, DB: db }, loadConfig(env), owner.tenantId, list)).toBe(3);
    expect((await received(hook.name)).map((r) => r.payload!.sequence)).toEqual([9301, 9302, 9303]);
    // The insert, then only the attempts' records: no UPDATE … SET attempts (a claim) of its own.
    expect(statements.filter((q) => /^update "webhook_deliveries" set "attempts"/i.test(q))).toEqual([]);
    const rows = await deliveries(owner, hook.id);
    expect(rows.map((d) => [d.status, d.attempts])).toEqual([
      ['succeeded', 1],
      ['succeeded', 1],
      ['succeeded', 1],
    ]);
  });

  it("'none': after a failed attempt the rows not sent are given back unclaimed, and their queue jobs send each once", async () => {
    const owner = await signup('rt-preclaim-none');
    const hook = await createHook(owner, { query: 'fail=1&status=500', eventTypes: ['task.created'], ordering: 'none' });
    const list = eventsFor(owner.tenantId, 9401, 40);
    await fanOut(env, loadConfig(env), owner.tenantId, list);
    const rows = await deliveries(owner, hook.id);
    expect(rows).toHaveLength(40);
    // Attempts started before the failure was known ran (the pool has 16 in flight); none is left claimed.
    const sent = rows.filter((d) => d.attempts === 1);
    const released = rows.filter((d) => d.attempts === 0);
    expect(sent.length + released.length).toBe(40);
    expect(released.length).toBeGreaterThan(0);
    expect(rows.every((d) => d.status === 'pending' || d.status === 'succeeded')).toBe(true);
    expect((await received(hook.name)).length).toBe(sent.length);
    for (const d of released) await driveAttempt(d.id, 1, 'auto');
    const seqs = (await received(hook.name)).map((r) => r.payload!.sequence as number).sort((a, b) => a - b);
    expect(seqs).toEqual(list.map((e) => e.sequence));
  });

  it("'none': attempts answered while the lane's previous record is written go to D1 together, each recorded once", async () => {
    const owner = await signup('rt-group-commit');
    const hook = await createHook(owner, { eventTypes: ['task.created'], ordering: 'none', query: 'delayMs=300' });
    const { db, batches } = recordBatches();
    const list = eventsFor(owner.tenantId, 9701, 12);
    expect(await fanOut({ ...env, DB: db }, loadConfig(env), owner.tenantId, list)).toBe(12);
    expect(new Set((await received(hook.name)).map((r) => r.webhookId)).size).toBe(12);
    // Each attempt written once; the answers of one wave of sends share writes instead of one each.
    expect(batches.reduce((a, b) => a + b.records, 0)).toBe(12);
    expect(batches.length, `attempts per batch: ${batches.map((b) => b.records).join(', ')}`).toBeLessThanOrEqual(8);
    const rows = await deliveries(owner, hook.id);
    expect(rows.map((d) => [d.status, d.attempts])).toEqual(list.map(() => ['succeeded', 1]));
    const logged = await env.DB.prepare(
      `SELECT COUNT(*) AS n FROM webhook_attempts a JOIN webhook_deliveries d ON d.id = a.delivery_id WHERE d.endpoint_id = ?`,
    )
      .bind(hook.id)
      .first<{ n: number }>();
    expect(logged?.n).toBe(12);
  });

  it('rows for an endpoint already failing are inserted unclaimed and go to the queue', async () => {
    const owner = await signup('rt-preclaim-failing');
    const hook = await createHook(owner, { eventTypes: ['task.created'] });
    await env.DB.prepare(`UPDATE webhook_endpoints SET failing_since = ? WHERE id = ?`).bind(new Date().toISOString(), hook.id).run();
    await fanOut(env, loadConfig(env), owner.tenantId, eventsFor(owner.tenantId, 9501, 2));
    expect(await received(hook.name)).toEqual([]);
    const rows = await deliveries(owner, hook.id);
    expect(rows.map((d) => [d.status, d.attempts])).toEqual([
      ['pending', 0],
      ['pending', 0],
    ]);
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
