/**
 * Webhook receivers that misbehave: slow, hanging, answering 410 Gone, answering 429 with
 * Retry-After. The faults are the receiver's own (scripts/chaos/lib/receiver.mjs); the events are
 * real task events. Where the platform's recovery waits minutes (the retry schedule's 5 min step),
 * the cron sweeper is run with a `scheduledTime` minutes ahead, as if it ran that much later.
 */
import { seedTenant, sleep, until, writeTasks } from '../lib/api.mjs';
import { ms, stats } from '../lib/stats.mjs';
import { quiet } from './events.mjs';

const taskOf = (p) => p?.data?.task?.id;
const MINUTE = 60_000;

async function tenantWithHook(w, rx, name, behaviour) {
  const c = await seedTenant(w, name);
  const hook = await c.createHook(rx.hookUrl(name));
  rx.register(name, hook.secret, behaviour);
  return { c, hook };
}

export const receiverSlow = {
  name: 'receiver-slow',
  injects:
    'The receiver takes 2 s per request while events arrive in a burst, and the cron sweeper runs every 3 s as of 3 minutes later (so every attempt lease looks expired to it and it re-queues every pending delivery).',
  async run({ w, rx, quick }) {
    const n = quick ? 15 : 30;
    const { c } = await tenantWithHook(w, rx, 'slow', { kind: 'slow', ms: 2_000 });
    const burst = await writeTasks(c, { count: n, connections: 8, label: 'slow' });
    let sweeps = 0;
    const started = Date.now();
    await until(
      async () => {
        await w.sweep(Date.now() + 3 * MINUTE);
        sweeps += 1;
        return rx.tally('slow', burst.ids, taskOf).lost === 0 ? true : undefined;
      },
      { timeoutMs: 150_000, intervalMs: 3_000 },
    );
    // Anything wrongly re-sent by the last sweeps would arrive now.
    for (let i = 0; i < 2; i++) {
      await w.sweep(Date.now() + 3 * MINUTE);
      sweeps += 1;
      await sleep(2_500);
    }
    await quiet(rx, 'slow', { quietMs: 2_500 });
    const t = rx.tally('slow', burst.ids, taskOf);
    const okAt = [...rx.byId('slow').values()].map((e) => e.firstOkAt ?? 0);
    return {
      figures: `${n} events at 2 s per request, ${sweeps} sweeps as of +3 min: ${t.requests} requests, all in ${ms(Math.max(...okAt) - started)}`,
      lost: t.lost + burst.failures.length,
      duplicated: t.duplicated,
      unverified: t.unverified,
      details: { events: n, sweeps, tally: t },
    };
  },
};

export const receiverHanging = {
  name: 'receiver-hanging',
  injects:
    "Tenant A's receiver accepts connections and never answers for a window while both A and B write a task a second; then it answers again. Attempts time out (5 s inline, 10 s on WEBHOOKS) and back off; the sweeper (as of 6 min later, past the 5 min retry step) re-queues A's overdue deliveries.",
  async run({ w, rx, quick, log }) {
    const windowMs = quick ? 12_000 : 20_000;
    const a = await tenantWithHook(w, rx, 'hang-a', { kind: 'hang' });
    const b = await tenantWithHook(w, rx, 'hang-b', { kind: 'ok' });
    const hangStart = Date.now();
    const [wa, wb] = await Promise.all([
      writeTasks(a.c, { rate: 1, durationMs: windowMs, connections: 1, label: 'hang a' }),
      writeTasks(b.c, { rate: 1, durationMs: windowMs, connections: 1, label: 'hang b' }),
    ]);
    // B must not wait for A: every B event arrives while A is still hanging.
    await until(async () => (rx.tally('hang-b', wb.ids, taskOf).lost === 0 ? true : undefined), { timeoutMs: 20_000 });
    const bDuringHang = rx.tally('hang-b', wb.ids, taskOf).lost === 0;
    const byB = rx.byId('hang-b');
    const commitOf = new Map(wb.created.map((x) => [x.id, x.at]));
    const latency = stats(
      [...byB.values()].filter((e) => commitOf.has(taskOf(e.payload))).map((e) => e.firstOkAt - commitOf.get(taskOf(e.payload))),
    );
    const hungRequests = rx.records('hang-a').length;
    rx.behave('hang-a', { kind: 'ok' });
    const hangMs = Date.now() - hangStart;
    log(`receiver-hanging: A hung ${ms(hangMs)} (${hungRequests} requests left unanswered); now answering`);
    let sweeps = 0;
    await until(
      async () => {
        await w.sweep(Date.now() + 6 * MINUTE);
        sweeps += 1;
        return rx.tally('hang-a', wa.ids, taskOf).lost === 0 ? true : undefined;
      },
      { timeoutMs: 90_000, intervalMs: 5_000 },
    );
    await quiet(rx, ['hang-a', 'hang-b'], { quietMs: 3_000 });
    const ta = rx.tally('hang-a', wa.ids, taskOf);
    const tb = rx.tally('hang-b', wb.ids, taskOf);
    return {
      figures: `A hung ${ms(hangMs)}: its ${wa.ids.length} events delivered after it, ${sweeps} sweep(s); B's ${wb.ids.length} delivered during it, p50 ${ms(latency.p50)} / p99 ${ms(latency.p99)}`,
      lost: ta.lost + tb.lost + wa.failures.length + wb.failures.length,
      duplicated: ta.duplicated + tb.duplicated,
      unverified: ta.unverified + tb.unverified,
      goal: { text: "B's events all delivered while A hangs", met: bDuringHang },
      details: { windowMs, hungRequests, sweeps, bLatencyMs: latency, a: ta, b: tb },
    };
  },
};

export const receiver410 = {
  name: 'receiver-410',
  injects:
    'The receiver answers 410 Gone: the platform disables the endpoint at once (no more requests). The operator then fixes the receiver, re-enables the endpoint (PATCH enabled) and recovers its failed deliveries (POST /v1/webhooks/{id}/recover).',
  async run({ w, rx }) {
    const n = 10;
    const started = new Date().toISOString();
    const { c, hook } = await tenantWithHook(w, rx, 'gone', { kind: 'status', status: 410 });
    const burst = await writeTasks(c, { count: n, connections: 8, label: 'gone' });
    const disabled = await until(
      async () => {
        const h = (await c.req('GET', `/v1/webhooks/${hook.id}`)).body;
        if (h?.enabled !== false) return undefined;
        const pending = await c.all(`/v1/webhooks/${hook.id}/deliveries?status=pending`);
        return pending.length === 0 ? h : undefined;
      },
      // The deliveries already handed to the WEBHOOKS queue fail there ("endpoint disabled"), at most 3 of an endpoint per batch.
      { timeoutMs: 120_000, intervalMs: 1_000 },
    );
    if (!disabled) throw new Error('the endpoint was not disabled after answering 410');
    const goneRequests = rx.records('gone').length;
    // Events after the endpoint was disabled are not for it (by design); the others must all arrive once recovered.
    const disabledAt = Date.parse(disabled.disabledAt);
    const expected = burst.created.filter((x) => Date.parse(x.createdAt) < disabledAt).map((x) => x.id);
    rx.behave('gone', { kind: 'ok' });
    await c.must('PATCH', `/v1/webhooks/${hook.id}`, { enabled: true }, 200);
    const recovered = await c.must('POST', `/v1/webhooks/${hook.id}/recover`, { since: started }, 202);
    await until(async () => (rx.tally('gone', expected, taskOf).lost === 0 ? true : undefined), { timeoutMs: 60_000 });
    await quiet(rx, 'gone', { quietMs: 2_000 });
    const t = rx.tally('gone', expected, taskOf);
    const notices = (await c.all('/v1/notifications')).filter((x) => x.kind === 'system').length;
    return {
      figures: `410 → disabled (reason ${disabled.disabledReason}) after ${goneRequests} request(s); ${recovered.recovered} failed deliveries recovered, ${t.delivered}/${expected.length} delivered once`,
      lost: t.lost + burst.failures.length,
      duplicated: t.duplicated,
      unverified: t.unverified,
      details: {
        events: n,
        goneRequests,
        disabledReason: disabled.disabledReason,
        recovered: recovered.recovered,
        systemNotices: notices,
        afterDisable: n - expected.length,
        tally: t,
      },
    };
  },
};

export const receiver429 = {
  name: 'receiver-429',
  injects: 'The receiver answers 429 with Retry-After: 2 to the first two requests of every webhook-id, then 200.',
  async run({ w, rx, quick }) {
    const n = quick ? 10 : 20;
    const retryAfterS = 2;
    const { c } = await tenantWithHook(w, rx, 'throttled', { kind: 'status', status: 429, retryAfter: retryAfterS, times: 2 });
    const burst = await writeTasks(c, { count: n, connections: 4, label: 'throttled' });
    await until(async () => (rx.tally('throttled', burst.ids, taskOf).lost === 0 ? true : undefined), { timeoutMs: 120_000 });
    await quiet(rx, 'throttled', { quietMs: 3_000 });
    const t = rx.tally('throttled', burst.ids, taskOf);
    // The gap between a 429 and the next request for the same webhook-id: at least Retry-After.
    const gaps = [];
    const byId = new Map();
    for (const r of rx.records('throttled')) byId.set(r.webhookId, [...(byId.get(r.webhookId) ?? []), r]);
    for (const list of byId.values())
      for (let i = 1; i < list.length; i++) if (list[i - 1].status === 429) gaps.push(list[i].at - list[i - 1].answeredAt);
    const g = stats(gaps);
    const honoured = gaps.every((x) => x >= retryAfterS * 1000 - 50);
    return {
      figures: `${n} events, ${gaps.length} answered 429 (Retry-After: ${retryAfterS}); next attempt after min ${ms(g.n ? Math.min(...gaps) : null)} / p50 ${ms(g.p50)}`,
      lost: t.lost + burst.failures.length,
      duplicated: t.duplicated,
      unverified: t.unverified,
      goal: { text: `every retry waits ≥ Retry-After (${retryAfterS} s)`, met: honoured },
      details: { events: n, throttled: gaps.length, gapMs: { ...g, min: g.n ? Math.min(...gaps) : null }, tally: t },
    };
  },
};
