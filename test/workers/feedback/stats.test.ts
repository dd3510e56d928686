/**
 * GET /v1/feedback/stats equals a hand-computed fixture of 240 ratings (numbers computed once by
 * hand/script and written here as literals), per group; and the drift signal: a window whose mean
 * falls past the key's margin raises `feedback.drift` (a signed webhook) and an admins' notice, once.
 *
 * The fixture goes through the hub's own write path (`upsertFeedback`) with the clock passed in, so
 * the ratings can sit on past days; what the API adds (target resolution) is tested elsewhere.
 */
import { runInDurableObject } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { upsertFeedback } from '../../../durable-objects/tenant-hub/feedback';
import type { FeedbackWrite } from '../../../src/feedback/model';
import { NO_ATTRIBUTES } from '../../../src/feedback/model';
import { hub } from '../../support/workers/durable-objects';
import { call, expectProblem } from '../../support/workers/http';
import { signup, type TestTenant } from '../../support/workers/tenants';
import { createHook, receivedAtLeast } from '../events/_support';
import { createKey, echoRun, get, type Json, post } from './_support';

/** Writes ratings as the hub does, each at its own instant. */
async function seed(t: TestTenant, ratings: Array<{ at: number; write: FeedbackWrite }>): Promise<void> {
  await runInDurableObject(hub(t.tenantId), (_instance, state) => {
    for (const { at, write } of ratings) {
      const r = state.storage.transactionSync(() => upsertFeedback({ sql: state.storage.sql, tenantId: t.tenantId, now: at }, write));
      if (!r.ok) throw new Error(JSON.stringify(r));
    }
  });
}

const DAY = 86_400_000;
const BASE = Date.parse('2026-03-02T00:00:00Z'); // a Monday
const CYCLES: Record<string, number[]> = { p1: [5, 4, 5, 3, 4, 5, 2], p2: [2, 3, 1, 4, 2], p3: [3, 3, 4, 2, 5, 1] };

/** The fixture: 240 ratings of `stars` (1..5) over 17 days, three providers (p1 best), two flows, versions, models, nodes. */
function fixture(): Array<{ at: number; write: FeedbackWrite }> {
  return Array.from({ length: 240 }, (_, i) => {
    const p = ['p1', 'p2', 'p3'][i % 3]!;
    const cycle = CYCLES[p]!;
    return {
      at: BASE + ((i * 11) % 17) * DAY + ((i * 37) % 1400) * 60_000,
      write: {
        target: { type: 'run', id: `run_fixture_${i}` },
        attributes: {
          ...NO_ATTRIBUTES,
          runId: `run_fixture_${i}`,
          flowId: i % 4 < 3 ? 'flw_a' : 'flw_b',
          flowVersion: i % 5 === 0 ? 2 : 1,
          provider: i % 40 === 39 ? null : p,
          model: i % 2 ? 'm2' : 'm1',
          nodeId: i % 7 < 4 ? 'n1' : 'n2',
        },
        key: 'stars',
        score: cycle[Math.floor(i / 3) % cycle.length]!,
        source: 'user',
        actor: { type: 'user', id: 'usr_fixture' },
      },
    };
  });
}

/** A bucket from hand-computed figures: count, sum of scores, ratings of 4 or 5, median, distribution. */
function bucket(group: string | number | null, count: number, sum: number, positive: number, p50: number, distribution: number[]) {
  const dist: Record<string, number> = {};
  distribution.forEach((n, i) => {
    if (n > 0) dist[String(i + 1)] = n;
  });
  return { group, count, mean: sum / count, positiveRate: positive / count, p50, distribution: dist };
}

describe('feedback stats', () => {
  it('equal the hand-computed fixture of 240 ratings, overall and per group', async () => {
    const t = await signup('fb-stats');
    await createKey(t, { key: 'stars', type: 'numeric', min: 1, max: 5 });
    await seed(t, fixture());
    const stats = (q: string) => get(t, `/v1/feedback/stats?key=stars${q}`);

    expect(await stats('')).toEqual({
      key: 'stars',
      groupBy: null,
      from: null,
      to: null,
      total: 240,
      truncated: false,
      buckets: [bucket(null, 240, 754, 100, 3, [29, 56, 55, 52, 48])],
    });
    expect((await stats('&groupBy=provider')).buckets).toEqual([
      bucket('p1', 78, 316, 57, 4, [0, 10, 11, 22, 35]),
      bucket('p2', 78, 186, 16, 2, [16, 32, 14, 16, 0]),
      bucket('p3', 78, 235, 26, 3, [13, 12, 27, 13, 13]),
      bucket(null, 6, 17, 1, 3, [0, 2, 3, 1, 0]),
    ]);
    expect((await stats('&groupBy=flowId')).buckets).toEqual([
      bucket('flw_a', 180, 585, 82, 3, [19, 38, 41, 43, 39]),
      bucket('flw_b', 60, 169, 18, 3, [10, 18, 14, 9, 9]),
    ]);
    expect((await stats('&groupBy=flowVersion')).buckets).toEqual([
      bucket(1, 192, 576, 67, 3, [26, 52, 47, 30, 37]),
      bucket(2, 48, 178, 33, 4, [3, 4, 8, 22, 11]),
    ]);
    expect((await stats('&groupBy=model')).buckets).toEqual([
      bucket('m1', 120, 415, 63, 4, [8, 22, 27, 33, 30]),
      bucket('m2', 120, 339, 37, 3, [21, 34, 28, 19, 18]),
    ]);
    expect((await stats('&groupBy=nodeId')).buckets).toEqual([
      bucket('n1', 138, 441, 59, 3, [18, 26, 35, 29, 30]),
      bucket('n2', 102, 313, 41, 3, [11, 30, 20, 23, 18]),
    ]);
    // No agent produced these: one null bucket (agentId fills in when agents land).
    expect((await stats('&groupBy=agentId')).buckets).toEqual([bucket(null, 240, 754, 100, 3, [29, 56, 55, 52, 48])]);

    const weeks = (await stats('&groupBy=week')).buckets;
    expect(weeks.map(({ delta: _d, drift: _x, ...b }: Json) => b)).toEqual([
      bucket('2026-03-02', 99, 310, 41, 3, [12, 24, 22, 21, 20]),
      bucket('2026-03-09', 99, 309, 40, 3, [12, 23, 24, 21, 19]),
      bucket('2026-03-16', 42, 135, 19, 3, [5, 9, 9, 10, 9]),
    ]);
    expect(weeks.map((b: Json) => b.delta)).toEqual([null, 309 / 99 - 310 / 99, 135 / 42 - 309 / 99]);
    const days = (await stats('&groupBy=day')).buckets;
    expect(days).toHaveLength(17);
    expect(days.reduce((n: number, b: Json) => n + b.count, 0)).toBe(240);
    expect(days[0]).toMatchObject(bucket('2026-03-02', 15, 47, 6, 3, [2, 4, 3, 2, 4]));
    expect(days[12]).toMatchObject(bucket('2026-03-14', 14, 48, 7, 3, [1, 2, 4, 4, 3]));
    expect(days[16]).toMatchObject(bucket('2026-03-18', 14, 43, 6, 3, [2, 3, 3, 4, 2]));

    // A time range is [from, to): exactly the second week.
    const week2 = await stats('&from=2026-03-09T00:00:00Z&to=2026-03-16T00:00:00Z');
    expect(week2).toMatchObject({ total: 99, buckets: [bucket(null, 99, 309, 40, 3, [12, 23, 24, 21, 19])] });
    // Day buckets drift when the mean falls past the margin against the day before.
    const drifting = (await stats('&groupBy=day&margin=0.3')).buckets.filter((b: Json) => b.drift).map((b: Json) => b.group);
    const expected = days.filter((b: Json) => b.delta !== null && b.delta < -0.3).map((b: Json) => b.group);
    expect(drifting).toEqual(expected);
    expect(drifting).toContain('2026-03-15'); // 48/14 → 40/14
  });

  it('boolean keys: mean is the rate, distribution true/false; categorical: counts per value; text: counts only', async () => {
    const t = await signup('fb-stats-types');
    await createKey(t, { key: 'ok', type: 'boolean' });
    await createKey(t, { key: 'bad', type: 'boolean', higherIsBetter: false });
    await createKey(t, { key: 'tone', type: 'categorical', categories: ['formal', 'casual'] });
    await createKey(t, { key: 'note', type: 'text' });
    const w = (i: number, key: string, m: Partial<FeedbackWrite>): { at: number; write: FeedbackWrite } => ({
      at: BASE + i * 1000,
      write: {
        target: { type: 'run', id: `run_t_${i}` },
        attributes: NO_ATTRIBUTES,
        key,
        source: 'api',
        actor: { type: 'api_key', id: 'key_x' },
        ...m,
      },
    });
    await seed(t, [
      ...[1, 1, 0, 1].map((s, i) => w(i, 'ok', { score: s })),
      ...[1, 0, 0, 0, 0].map((s, i) => w(i, 'bad', { score: s })),
      ...['formal', 'casual', 'casual'].map((v, i) => w(i, 'tone', { value: v })),
      w(0, 'note', { value: 'nice' }),
    ]);
    expect((await get(t, '/v1/feedback/stats?key=ok')).buckets).toEqual([
      { group: null, count: 4, mean: 0.75, positiveRate: 0.75, p50: 1, distribution: { true: 3, false: 1 } },
    ]);
    // Lower is better: a `true` is the bad side.
    expect((await get(t, '/v1/feedback/stats?key=bad')).buckets).toEqual([
      { group: null, count: 5, mean: 0.2, positiveRate: 0.8, p50: 0, distribution: { true: 1, false: 4 } },
    ]);
    expect((await get(t, '/v1/feedback/stats?key=tone')).buckets).toEqual([
      { group: null, count: 3, mean: null, positiveRate: null, p50: null, distribution: { formal: 1, casual: 2 } },
    ]);
    expect((await get(t, '/v1/feedback/stats?key=note')).buckets).toEqual([
      { group: null, count: 1, mean: null, positiveRate: null, p50: null, distribution: null },
    ]);
    await expectProblem(await call('/v1/feedback/stats?key=nope', { token: t.accessToken }), 404);
    await expectProblem(await call('/v1/feedback/stats?key=ok&groupBy=hour', { token: t.accessToken }), 422);
    await expectProblem(await call('/v1/feedback/stats', { token: t.accessToken }), 422);
    await expectProblem(
      await call('/v1/feedback/stats?key=ok&from=2026-03-03T00:00:00Z&to=2026-03-02T00:00:00Z', { token: t.accessToken }),
      422,
    );
  });
});

describe('drift', () => {
  it("a window whose mean falls past the key's margin raises feedback.drift (webhook) and an admins' notice, once", async () => {
    const t = await signup('fb-drift');
    await createKey(t, { key: 'stars', type: 'numeric', min: 1, max: 5, drift: { window: '1d', margin: 0.5, minSamples: 5 } });
    const hook = await createHook(t, { tag: 'drift', eventTypes: ['feedback.drift'] });
    const now = Date.now();
    const at = (i: number, score: number, offsetMs: number) => ({
      at: now - offsetMs + i * 1000,
      write: {
        target: { type: 'run' as const, id: `run_d_${offsetMs}_${i}` },
        attributes: { ...NO_ATTRIBUTES, provider: 'p1' },
        key: 'stars',
        score,
        source: 'user' as const,
        actor: { type: 'user' as const, id: 'usr_d' },
      },
    });
    // Yesterday's window: ten 5s. Today's: four 2s so far (below minSamples: no drift yet).
    await seed(t, [
      ...Array.from({ length: 10 }, (_, i) => at(i, 5, 1.5 * DAY)),
      ...Array.from({ length: 4 }, (_, i) => at(i, 2, 3600_000)),
    ]);
    const notices = async () =>
      (await get(t, '/v1/notifications?limit=100')).data.filter((n: Json) => n.kind === 'system' && n.title.includes('drifted'));
    expect(await notices()).toEqual([]);

    // The fifth low rating today, through the API: 5 ratings with mean 2 against 10 with mean 5.
    const run = await echoRun(t);
    await post(t, '/v1/feedback', { target: { type: 'run', id: run.id }, key: 'stars', score: 2 });
    const [notice] = await notices();
    expect(notice).toMatchObject({ title: "Feedback 'stars' drifted" });
    expect(notice.body).toContain('is 2 (5 ratings), against 5 (10)');
    const [delivery] = await receivedAtLeast(hook.name, 1, 20_000);
    expect(delivery!.verifiedWith).toEqual([0]);
    expect(delivery!.payload).toMatchObject({
      type: 'feedback.drift',
      data: { key: 'stars', window: '1d', margin: 0.5, current: { count: 5, mean: 2 }, previous: { count: 10, mean: 5 } },
    });

    // More low ratings in the same window raise nothing new.
    await seed(t, [at(0, 1, 0)]);
    await post(t, '/v1/feedback', { target: { type: 'run', id: run.id }, key: 'stars', score: 1 }, 200);
    expect(await notices()).toHaveLength(1);
  });
});
