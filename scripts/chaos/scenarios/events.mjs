/**
 * The events pipeline under infrastructure faults: queue batches delivered again, and D1 gone for a
 * window. Every event is a real one (a task or run committed through the API, published by the
 * tenant's hub); lost and duplicated are counted at the receiver, per `webhook-id`.
 */
import { seedTenant, sleep, until, writeTasks } from '../lib/api.mjs';
import { d1Switch } from '../lib/d1.mjs';
import { ms } from '../lib/stats.mjs';
import { checkRuns } from './runs.mjs';

const taskOf = (p) => p?.data?.task?.id;

const chunks = (xs, n = 100) => Array.from({ length: Math.ceil(xs.length / n) }, (_, i) => xs.slice(i * n, i * n + n));

/** Waits until the receiver has had no request for `quietMs` (at least `minMs` from now, at most `maxMs`). */
export async function quiet(rx, names, { quietMs = 3_000, minMs = 0, maxMs = 30_000 } = {}) {
  const start = Date.now();
  for (;;) {
    const last = Math.max(0, ...[names].flat().flatMap((n) => rx.records(n).map((r) => r.at)));
    const now = Date.now();
    if ((now - start >= minMs && now - last >= quietMs) || now - start >= maxMs) return;
    await sleep(250);
  }
}

export const queueRedelivery = {
  name: 'queue-redelivery',
  injects:
    'After a burst of task events was delivered, the same EVENTS batch is delivered 3 more times (sent again through the queue binding, as a lost ack would) and every first-attempt job 2 more times on WEBHOOKS.',
  async run({ w, rx, quick }) {
    const n = quick ? 30 : 100;
    const c = await seedTenant(w, 'redeliver');
    const hookName = 'redeliver';
    const hook = await c.createHook(rx.hookUrl(hookName));
    rx.register(hookName, hook.secret);
    const burst = await writeTasks(c, { count: n, connections: 8, label: 'redeliver' });
    await until(async () => (rx.tally(hookName, burst.ids, taskOf).lost === 0 ? true : undefined), { timeoutMs: 60_000 });
    // The messages exactly as the hub published them (the payload is the event: src/events/fanout.ts payloadOf).
    const messages = [...rx.byId(hookName).values()]
      .map((e) => e.payload)
      .filter((p) => p?.type === 'task.created')
      .map((p) => ({ id: p.id, type: p.type, tenantId: p.tenantId, occurredAt: p.timestamp, sequence: p.sequence, data: p.data }));
    const deliveries = await c.all(`/v1/webhooks/${hook.id}/deliveries`);
    const jobs = deliveries.map((d) => ({ kind: 'webhook_attempt', deliveryId: d.id, attempt: 1, trigger: 'auto' }));
    const events = await w.queue('EVENTS');
    const webhooks = await w.queue('WEBHOOKS');
    const before = rx.records(hookName).length;
    const send = (q, list) => chunks(list).map((ch) => q.sendBatch(ch.map((body) => ({ body, contentType: 'json' }))));
    await Promise.all([
      ...send(events, messages),
      ...send(events, messages),
      ...send(events, messages),
      ...send(webhooks, jobs),
      ...send(webhooks, jobs),
    ]);
    // A marker event committed after the redeliveries: once it arrives the queue has reached them.
    const marker = await writeTasks(c, { count: 1, connections: 1, label: 'redeliver marker' });
    await until(async () => (rx.tally(hookName, marker.ids, taskOf).lost === 0 ? true : undefined), { timeoutMs: 60_000 });
    await quiet(rx, hookName, { quietMs: 3_000, minMs: 3_000 });
    const t = rx.tally(hookName, [...burst.ids, ...marker.ids], taskOf);
    const extra = rx.records(hookName).length - before - 1;
    return {
      figures: `${n} events; batch re-sent 3× (${3 * messages.length} messages) + ${jobs.length} attempt jobs 2×: ${extra} extra requests`,
      lost: t.lost + burst.failures.length,
      duplicated: t.duplicated,
      unverified: t.unverified,
      details: {
        events: n,
        redeliveredMessages: 3 * messages.length,
        redeliveredJobs: 2 * jobs.length,
        extraRequests: extra,
        writeFailures: burst.failures.slice(0, 5),
        tally: t,
      },
    };
  },
};

export const d1Outage = {
  name: 'd1-outage',
  injects:
    'D1 is unavailable for a window (every table renamed away through the D1 binding: every query fails) while tasks are written (5/s) and flow runs finish; then it returns. Queue consumers retry after 1 minute, run reports back off, the sweeper runs each 30 s at real time.',
  async run({ w, rx, quick, log }) {
    const windowMs = quick ? 10_000 : 30_000;
    const c = await seedTenant(w, 'd1', { maxActiveRuns: 20 });
    const hookName = 'd1';
    const hook = await c.createHook(rx.hookUrl(hookName), ['task.created', 'run.succeeded']);
    rx.register(hookName, hook.secret);
    const flowId = await c.createFlow('chaos d1', {
      nodes: [
        { id: 'nap', type: 'delay', config: { ms: 2_000 } },
        { id: 'done', type: 'transform', config: { expression: '"done"' } },
      ],
      edges: [{ from: 'nap', to: 'done' }],
    });
    const runIds = [];
    for (let i = 0; i < (quick ? 5 : 10); i++) runIds.push((await c.startRun(flowId, { i })).id);
    await c.must('GET', '/v1/tenant'); // the API key is now in the isolate's credential cache (30 s)
    const d1 = await d1Switch(w.db);
    await d1.down();
    const downAt = Date.now();
    log(`d1-outage: D1 down (${d1.tables.length} tables renamed away) for ${windowMs / 1000} s`);
    const during = await writeTasks(c, { rate: 5, durationMs: windowMs, connections: 2, label: 'during outage' });
    await sleep(downAt + windowMs - Date.now());
    await d1.up();
    const upAt = Date.now();
    log(`d1-outage: D1 back; ${during.ids.length} writes committed during the outage, ${during.failures.length} refused`);
    const after = await writeTasks(c, { count: 5, connections: 1, label: 'after outage' });
    const ids = [...during.ids, ...after.ids];
    const deadline = upAt + 150_000;
    let sweeps = 0;
    let lastSweep = upAt;
    for (;;) {
      const t = rx.tally(hookName, ids, taskOf);
      const runsDone =
        rx.tally(hookName, runIds, (p) => p?.data?.run?.id).lost === 0 &&
        (await c.all(`/v1/runs?flowId=${flowId}`)).every((r) => r.status === 'succeeded');
      if ((t.lost === 0 && runsDone) || Date.now() > deadline) break;
      if (Date.now() - lastSweep >= 30_000) {
        await w.sweep(Date.now()); // the cron's own cadence, no time compression
        sweeps += 1;
        lastSweep = Date.now();
      }
      await sleep(500);
    }
    const allIn = Math.max(0, ...[...rx.byId(hookName).values()].map((e) => e.firstOkAt ?? 0));
    await quiet(rx, hookName, { quietMs: 2_000 });
    const t = rx.tally(hookName, ids, taskOf);
    const runs = await checkRuns({ w, rx, c, hook: hookName, flowIds: [flowId], runIds });
    // A write answered 5xx that committed anyway would be done twice by the client's retry.
    const titles = new Set((await c.all('/v1/tasks')).map((x) => x.title));
    const phantoms = during.failures.filter((f) => titles.has(f.title)).length;
    const dead = await w.db
      .prepare(`SELECT status, count(*) AS n FROM dead_letters WHERE tenant_id = ? GROUP BY status`)
      .bind(c.tenantId)
      .all();
    return {
      figures: `D1 down ${windowMs / 1000} s: ${during.ids.length} writes committed in it (${during.failures.length} refused), ${runIds.length} runs finished in it; all delivered ${ms(allIn - upAt)} after D1 returned`,
      lost: t.lost + runs.lost,
      duplicated: t.duplicated + runs.duplicated + phantoms,
      unverified: t.unverified,
      details: {
        windowMs,
        committedDuring: during.ids.length,
        refusedDuring: during.failures.length,
        refusedStatuses: [...new Set(during.failures.map((f) => f.status))],
        refused: during.failures.map((f) => ({ title: f.title, status: f.status, atMs: f.atMs })),
        answered5xxButCommitted: phantoms,
        runs: runIds.length,
        deliveredAfterMs: allIn - upAt,
        sweeps,
        deadLetters: dead.results,
        tally: t,
        runProblems: runs.problems,
      },
    };
  },
};
