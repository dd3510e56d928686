/**
 * Multi-tenant fairness: the tenant's TenantHub admits at most `settings.maxActiveRuns` active runs;
 * the rest wait as 'queued' in arrival order and start one by one as slots free. Run status changes
 * also reach the tenant's sync stream (GET /v1/sync, entity 'run').
 */
import { describe, expect, it } from 'vitest';
import { signup, type TestTenant } from '../../support/workers/tenants';
import { approval, createFlow, edge, getRun, ok, setSettings, startRun, transform, until, waitFor } from './_engine-kit';

const GATED = { nodes: [approval('gate'), transform('after', 'nodes.gate.output')], edges: [edge('gate', 'after')] };

async function statuses(t: TestTenant, ids: string[]): Promise<string[]> {
  return Promise.all(ids.map(async (id) => (await getRun(t, id)).status as string));
}

/** Waits until the runs settle into `expected` (runs start asynchronously after a slot frees). */
async function expectStatuses(t: TestTenant, ids: string[], expected: string[]) {
  try {
    await until(
      `statuses ${expected.join(',')}`,
      async () => ((await statuses(t, ids)).join() === expected.join() ? true : undefined),
      5000,
    );
  } catch {
    expect(await statuses(t, ids)).toEqual(expected);
  }
}

describe('fairness: per-tenant limit on active runs', () => {
  it('maxActiveRuns 2: two run, two queue; each freed slot starts the next queued run, in order', async () => {
    const t = await signup('fair');
    await setSettings(t, { maxActiveRuns: 2 });
    const flowId = await createFlow(t, GATED);
    const started = [];
    for (let i = 0; i < 4; i++) started.push(await startRun(t, flowId, { i }));
    const ids = started.map((r) => r.id as string);
    expect(started.map((r) => r.status)).toEqual(['running', 'running', 'queued', 'queued']);
    await waitFor(t, ids[0]!, ['waiting']);
    await waitFor(t, ids[1]!, ['waiting']);
    expect(await statuses(t, ids)).toEqual(['waiting', 'waiting', 'queued', 'queued']);
    // The D1 index shows the queue too.
    const queued = (await ok(t, 'GET', `/v1/runs?status=queued&flowId=${flowId}`)).data.map((r: any) => r.id).sort();
    expect(queued).toEqual([ids[2], ids[3]].sort());

    // One slot frees: exactly one queued run starts, the oldest.
    await ok(t, 'POST', `/v1/runs/${ids[0]}/signal`, { payload: 'first' });
    expect((await waitFor(t, ids[0]!)).status).toBe('succeeded');
    await expectStatuses(t, ids, ['succeeded', 'waiting', 'waiting', 'queued']);

    // Another: the last one starts.
    await ok(t, 'POST', `/v1/runs/${ids[1]}/signal`, { payload: 'second' });
    await expectStatuses(t, ids, ['succeeded', 'succeeded', 'waiting', 'waiting']);

    // A cancelled run frees its slot as well.
    const fifth = await startRun(t, flowId, { i: 5 });
    expect(fifth.status).toBe('queued');
    await ok(t, 'POST', `/v1/runs/${ids[2]}/cancel`, {});
    await expectStatuses(t, [...ids, fifth.id], ['succeeded', 'succeeded', 'cancelled', 'waiting', 'waiting']);
    for (const id of [ids[3]!, fifth.id]) await ok(t, 'POST', `/v1/runs/${id}/signal`, { payload: id });
    for (const id of [ids[3]!, fifth.id]) expect((await waitFor(t, id)).status).toBe('succeeded');
  });

  it('a queued run can be cancelled; it never starts and holds no slot', async () => {
    const t = await signup('fair-cancel-queued');
    await setSettings(t, { maxActiveRuns: 1 });
    const flowId = await createFlow(t, GATED);
    const a = await startRun(t, flowId);
    const b = await startRun(t, flowId);
    const c = await startRun(t, flowId);
    expect([a.status, b.status, c.status]).toEqual(['running', 'queued', 'queued']);
    expect((await ok(t, 'POST', `/v1/runs/${b.id}/cancel`, {})).status).toBe('cancelled');
    await waitFor(t, a.id, ['waiting']);
    await ok(t, 'POST', `/v1/runs/${a.id}/signal`, { payload: 1 });
    // b was cancelled while queued: c takes the slot.
    await expectStatuses(t, [a.id, b.id, c.id], ['succeeded', 'cancelled', 'waiting']);
    expect((await getRun(t, b.id)).startedAt).toBeNull();
  });

  it("one tenant's queue does not hold another tenant's runs", async () => {
    const busy = await signup('fair-busy');
    const other = await signup('fair-other');
    await setSettings(busy, { maxActiveRuns: 1 });
    const f1 = await createFlow(busy, GATED);
    const f2 = await createFlow(other, GATED);
    await startRun(busy, f1);
    expect((await startRun(busy, f1)).status).toBe('queued');
    expect((await startRun(other, f2)).status).toBe('running');
  });
});

describe('run status changes reach the tenant sync stream', () => {
  it("GET /v1/sync shows entity 'run' changes in order: running → waiting → running → succeeded", async () => {
    const t = await signup('run-sync');
    const since = (await ok(t, 'GET', '/v1/sync?since=0')).version as number;
    const flowId = await createFlow(t, GATED);
    const run = await startRun(t, flowId);
    await waitFor(t, run.id, ['waiting']);
    await ok(t, 'POST', `/v1/runs/${run.id}/signal`, { payload: 'ok' });
    await waitFor(t, run.id);
    const changes = await until('the succeeded change', async () => {
      const page = await ok(t, 'GET', `/v1/sync?since=${since}`);
      const mine = (page.changes as any[]).filter((c) => c.entity === 'run' && c.entityId === run.id);
      return mine.some((c) => c.data?.status === 'succeeded') ? mine : undefined;
    });
    const seen = changes.map((c) => c.data.status as string);
    // Versions increase; the run's path is reflected in order.
    expect(changes.map((c) => c.version)).toEqual([...changes.map((c) => c.version)].sort((a, b) => a - b));
    expect(seen[0]).toBe('running');
    expect(seen).toContain('waiting');
    expect(seen.at(-1)).toBe('succeeded');
    expect(seen.indexOf('waiting')).toBeLessThan(seen.lastIndexOf('succeeded'));
    expect(changes.at(-1)).toMatchObject({ op: 'upsert', data: { id: run.id, flowId, status: 'succeeded' } });
    // Another tenant's sync never sees it.
    const stranger = await signup('run-sync-b');
    expect(JSON.stringify(await ok(stranger, 'GET', '/v1/sync?since=0'))).not.toContain(run.id);
  });
});
