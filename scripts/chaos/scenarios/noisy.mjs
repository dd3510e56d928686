/**
 * A noisy tenant writing at 10× a quiet one's rate, both with a webhook: the quiet tenant's task
 * write p99 (and its delivery p99, commit → verified receipt) alone and next to the noisy one, in
 * alternating 3 s slices (ABBA), so drift and other processes' load hit both sides alike.
 */
import { seedTenant, until, writeTasks } from '../lib/api.mjs';
import { ms, stats } from '../lib/stats.mjs';
import { quiet } from './events.mjs';

const taskOf = (p) => p?.data?.task?.id;
const GOAL = 1.25;

export const noisyNeighbour = {
  name: 'noisy-neighbour',
  injects:
    "A noisy tenant writes tasks at 10× the quiet tenant's rate (80/s next to 8/s; CHAOS_QUIET_RATE), both with a webhook, in every other 3 s slice of the quiet tenant's run (ABBA); the quiet tenant's p99 alone and beside it.",
  async run({ w, rx, quick }) {
    const sliceMs = 3_000;
    const rounds = quick ? 3 : 6;
    const quietRate = Number(process.env.CHAOS_QUIET_RATE ?? 8);
    const q = await seedTenant(w, 'quiet');
    const n = await seedTenant(w, 'noisy');
    for (const [c, name] of [
      [q, 'noisy-q'],
      [n, 'noisy-n'],
    ]) {
      const hook = await c.createHook(rx.hookUrl(name));
      rx.register(name, hook.secret);
    }
    const quietSlice = (label) => writeTasks(q, { rate: quietRate, durationMs: sliceMs, connections: 2, label });
    // Alone (A) and next to the noisy tenant (B) in alternating slices, ABBA, so drift and other
    // processes' load hit both sides alike.
    const alone = [];
    const beside = [];
    const noisyRuns = [];
    for (let i = 0; i < rounds; i++) {
      for (const side of i % 2 === 0 ? ['A', 'B'] : ['B', 'A']) {
        if (side === 'A') alone.push(await quietSlice(`quiet alone ${i}`));
        else {
          const [qs, ns] = await Promise.all([
            quietSlice(`quiet beside ${i}`),
            writeTasks(n, { rate: 10 * quietRate, durationMs: sliceMs, connections: 8, label: `noisy ${i}` }),
          ]);
          beside.push(qs);
          noisyRuns.push(ns);
        }
      }
    }
    const merge = (list) => ({
      created: list.flatMap((x) => x.created),
      ids: list.flatMap((x) => x.ids),
      latencies: list.flatMap((x) => x.latencies),
      failures: list.flatMap((x) => x.failures),
    });
    const aloneAll = merge(alone);
    const withNoisy = merge(beside);
    const noisy = merge(noisyRuns);
    const qIds = [...aloneAll.ids, ...withNoisy.ids];
    await until(
      async () => (rx.tally('noisy-q', qIds, taskOf).lost === 0 && rx.tally('noisy-n', noisy.ids, taskOf).lost === 0 ? true : undefined),
      { timeoutMs: 60_000 },
    );
    await quiet(rx, ['noisy-q', 'noisy-n'], { quietMs: 2_000 });
    const okAt = new Map([...rx.byId('noisy-q').values()].map((e) => [taskOf(e.payload), e.firstOkAt]));
    const delivery = (phases) => stats(phases.flatMap((p) => p.created.filter((x) => okAt.get(x.id)).map((x) => okAt.get(x.id) - x.at)));
    const writeAlone = stats(aloneAll.latencies);
    const writeWith = stats(withNoisy.latencies);
    const deliveryAlone = delivery([aloneAll]);
    const deliveryWith = delivery([withNoisy]);
    const tq = rx.tally('noisy-q', qIds, taskOf);
    const tn = rx.tally('noisy-n', noisy.ids, taskOf);
    const ratio = writeAlone.p99 ? writeWith.p99 / writeAlone.p99 : null;
    const failures = aloneAll.failures.length + withNoisy.failures.length + noisy.failures.length;
    return {
      figures: `quiet write p99 ${ms(writeAlone.p99)} alone → ${ms(writeWith.p99)} next to 10× (${ratio === null ? '-' : `${ratio >= 1 ? '+' : ''}${Math.round((ratio - 1) * 100)} %`}); delivery p99 ${ms(deliveryAlone.p99)} → ${ms(deliveryWith.p99)}; noisy ${Math.round(noisy.ids.length / ((rounds * sliceMs) / 1000))}/s`,
      lost: tq.lost + tn.lost + failures,
      duplicated: tq.duplicated + tn.duplicated,
      unverified: tq.unverified + tn.unverified,
      goal: { text: "quiet tenant's write p99 next to the noisy one within +25 % of alone", met: ratio !== null && ratio <= GOAL },
      details: {
        sliceMs,
        rounds,
        quietRate,
        noisyRate: 10 * quietRate,
        quietWrites: { alone: writeAlone, withNoisy: writeWith, ratioP99: ratio },
        quietDelivery: { alone: deliveryAlone, withNoisy: deliveryWith },
        noisyWrites: { ...stats(noisy.latencies), committed: noisy.ids.length },
        failures: [...aloneAll.failures, ...withNoisy.failures, ...noisy.failures].slice(0, 5),
        quiet: tq,
        noisy: tn,
      },
    };
  },
};
