/**
 * The runs' D1 rows, written by their tenant's hub (durable-objects/tenant-hub/run-index.ts): runs that
 * report together share one D1 batch, a run that reports again while its write is in flight has its
 * newer summary written next, a row that failed is retried alone so it holds no other run back, and
 * the verbs that name a run find it before its D1 row lands. D1 is real; its write is held or refused
 * from outside (a gate on the hub's own D1 binding, a SQLite trigger in D1).
 */
import { runInDurableObject } from 'cloudflare:test';
import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import type { TenantHub } from '../../../durable-objects/tenant-hub/tenant-hub';
import type { RunReport, RunSummary } from '../../../src/flows/run-model';
import { driveAlarms, hub } from '../../support/workers/durable-objects';
import { signup, type TestTenant } from '../../support/workers/tenants';
import { api, createFlow, inHub, ok, pendingRunIndex, startRun, transform, until, waitFor } from './_engine-kit';

const hubStub = (tenantId: string) => hub(tenantId) as unknown as DurableObjectStub<TenantHub>;

interface Gate {
  batches: number[];
  hold(): void;
  release(): void;
}

/**
 * Wraps the hub's D1 binding: every `batch` is recorded (its statement count), and while `held` the
 * next one waits for `release()` (the write is in flight for as long as the test wants).
 */
async function gateHubBatches(tenantId: string) {
  const key = `gate_${crypto.randomUUID()}`;
  await runInDurableObject(hub(tenantId), (instance) => {
    const self = instance as unknown as { env: Env };
    const real = self.env.DB;
    let held: { promise: Promise<void>; resolve: () => void } | null = null;
    const batches: number[] = [];
    const gate: Gate = {
      batches,
      hold() {
        let resolve!: () => void;
        const promise = new Promise<void>((r) => (resolve = r));
        held = { promise, resolve };
      },
      release() {
        held?.resolve();
        held = null;
      },
    };
    const db = new Proxy(real, {
      get(target, prop) {
        if (prop === 'batch')
          return async (statements: D1PreparedStatement[]) => {
            batches.push(statements.length);
            if (held) await held.promise;
            return target.batch(statements);
          };
        const value = Reflect.get(target, prop);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
    self.env = { ...self.env, DB: db };
    (globalThis as unknown as Record<string, unknown>)[key] = gate;
  });
  const call = <T>(fn: (g: Gate) => T) =>
    runInDurableObject(hub(tenantId), () => fn((globalThis as unknown as Record<string, Gate>)[key]!));
  return {
    hold: () => call((g) => g.hold()),
    release: () => call((g) => g.release()),
    batches: () => call((g) => [...g.batches]),
  };
}

/** A run's reports as a FlowRun sends them: its index row and a status change. */
function reportsOf(t: TestTenant, runId: string, status: RunSummary['status'], withIndex: boolean, seq: number): RunReport[] {
  const createdAt = new Date().toISOString();
  const summary: RunSummary = {
    id: runId,
    tenantId: t.tenantId,
    flowId: 'flw_index',
    flowVersion: 1,
    status,
    startedAt: createdAt,
    finishedAt: status === 'succeeded' ? createdAt : null,
    durationMs: status === 'succeeded' ? 5 : null,
    inputTokens: 0,
    outputTokens: 0,
    costUsd: 0,
    error: null,
  };
  const change: RunReport = { kind: 'change', summary, eventId: `evt_${runId}_r${seq}` };
  if (!withIndex) return [change];
  const row = {
    id: runId,
    tenantId: t.tenantId,
    flowId: 'flw_index',
    flowVersion: 1,
    parentRunId: null,
    rerunOf: null,
    createdBy: 'usr_index',
    createdAt,
  };
  return [{ kind: 'index', row }, change];
}

/** Two runs reported in one call, D1 refusing the first one's row (a trigger on its id; drop it when done). */
async function reportBadAndGood(t: TestTenant): Promise<{ bad: string; good: string }> {
  const bad = newRunId();
  const good = newRunId();
  await env.DB.exec(
    `CREATE TRIGGER fault_index_${bad} BEFORE INSERT ON runs WHEN NEW.id = '${bad}' BEGIN SELECT RAISE(ABORT, 'injected: d1 row'); END`,
  );
  await hubStub(t.tenantId).runReported(t.tenantId, [...reportsOf(t, bad, 'running', true, 1), ...reportsOf(t, good, 'running', true, 1)]);
  return { bad, good };
}

const newRunId = () => `run_${crypto.randomUUID().replaceAll('-', '').slice(0, 26)}`;
const d1Rows = async (ids: string[]) =>
  (
    await env.DB.prepare(`SELECT id, status FROM runs WHERE id IN (${ids.map(() => '?').join(', ')})`)
      .bind(...ids)
      .all<{ id: string; status: string }>()
  ).results;

describe("the hub writes its runs' D1 rows", () => {
  it('runs that report while a write is in flight share the next D1 batch', async () => {
    const t = await signup('run-index-group');
    const gate = await gateHubBatches(t.tenantId);
    await gate.hold();
    const first = newRunId();
    // A report is acknowledged once D1 has its rows: the first waits for the held write.
    const firstAck = hubStub(t.tenantId).runReported(t.tenantId, reportsOf(t, first, 'running', true, 1));
    await until('the first write in flight', async () => ((await gate.batches()).length === 1 ? true : undefined));
    // Twenty runs report while it is held: their rows are kept in the hub, and each waits for the next write.
    const others = Array.from({ length: 20 }, newRunId);
    const acks = others.map((id) => hubStub(t.tenantId).runReported(t.tenantId, reportsOf(t, id, 'running', true, 1)));
    await until('every row kept', async () => ((await pendingRunIndex(t.tenantId)).length === 21 ? true : undefined));
    expect(await d1Rows([first, ...others])).toEqual([]);
    await gate.release();
    await Promise.all([firstAck, ...acks]);
    // Acknowledged: D1 has every row. One batch for the first run (index row and summary), one for the
    // twenty that came meanwhile.
    expect(await pendingRunIndex(t.tenantId)).toEqual([]);
    expect(await gate.batches()).toEqual([2, 40]);
    const rows = await d1Rows([first, ...others]);
    expect(rows.length).toBe(21);
    expect(new Set(rows.map((r) => r.status))).toEqual(new Set(['running']));
  });

  it('a run that reports again while its write is in flight has its newer summary written next', async () => {
    const t = await signup('run-index-rev');
    const gate = await gateHubBatches(t.tenantId);
    await gate.hold();
    const id = newRunId();
    const first = hubStub(t.tenantId).runReported(t.tenantId, reportsOf(t, id, 'running', true, 1));
    await until('the write in flight', async () => ((await gate.batches()).length === 1 ? true : undefined));
    const second = hubStub(t.tenantId).runReported(t.tenantId, reportsOf(t, id, 'succeeded', false, 2));
    await until('the newer summary kept', async () =>
      (await pendingRunIndex(t.tenantId)).some((r) => r.summary !== null && JSON.parse(r.summary).status === 'succeeded')
        ? true
        : undefined,
    );
    await gate.release();
    await Promise.all([first, second]);
    expect(await pendingRunIndex(t.tenantId)).toEqual([]);
    // The second write carries only the summary: the index row went with the first.
    expect(await gate.batches()).toEqual([2, 1]);
    expect(await d1Rows([id])).toEqual([{ id, status: 'succeeded' }]);
  });

  it('a repeated index row whose write was in flight leaves nothing behind', async () => {
    const t = await signup('run-index-repeat');
    const gate = await gateHubBatches(t.tenantId);
    await gate.hold();
    const id = newRunId();
    const [index] = reportsOf(t, id, 'running', true, 1);
    const first = hubStub(t.tenantId).runReported(t.tenantId, [index!]);
    await until('the write in flight', async () => ((await gate.batches()).length === 1 ? true : undefined));
    // The run did not hear the acknowledgement and sends its index row again.
    const again = hubStub(t.tenantId).runReported(t.tenantId, [index!]);
    await until('the repeat kept', async () => ((await pendingRunIndex(t.tenantId))[0]?.rev === 2 ? true : undefined));
    await gate.release();
    await Promise.all([first, again]);
    expect(await pendingRunIndex(t.tenantId)).toEqual([]);
    expect(await gate.batches()).toEqual([1]);
    expect(await d1Rows([id])).toEqual([{ id, status: 'queued' }]);
  });

  it('a row D1 refuses while it takes other runs is set apart: the others land, it is retried alone', async () => {
    const t = await signup('run-index-poison');
    const gate = await gateHubBatches(t.tenantId);
    const { bad, good } = await reportBadAndGood(t);
    try {
      // Both went in one batch, which D1 refused as a whole: nothing says which row it refuses yet.
      const failed = await until('the batch refused', async () => {
        const rows = await pendingRunIndex(t.tenantId);
        return rows.length === 2 && rows.every((r) => r.attempts >= 1) ? rows : undefined;
      });
      expect(failed.map((r) => r.last_error).join()).toMatch(/injected: d1 row/);
      expect(failed.map((r) => r.alone)).toEqual([0, 0]);
      expect(await d1Rows([bad, good])).toEqual([]);
      // Their retry is the alarm's; its time is mirrored into the sweeper's registry in D1.
      await until('the retry in the registry', async () => {
        const rows = await pendingRunIndex(t.tenantId);
        const registry = await env.DB.prepare(`SELECT next_due_at FROM hub_schedules WHERE tenant_id = ?`)
          .bind(t.tenantId)
          .first<{ next_due_at: string }>();
        return registry && Date.parse(registry.next_due_at) === Math.min(...rows.map((r) => r.next_at)) ? true : undefined;
      });
      // Another run reports when both are due: D1 takes its batch and refuses theirs, so each is set apart.
      await inHub(t.tenantId, (sql) => sql.exec(`UPDATE run_index SET next_at = 0`));
      const other = newRunId();
      await hubStub(t.tenantId).runReported(t.tenantId, reportsOf(t, other, 'running', true, 1));
      const apart = await until('both set apart', async () => {
        const rows = await pendingRunIndex(t.tenantId);
        return rows.length === 2 && rows.every((r) => r.alone === 1) ? rows : undefined;
      });
      expect(apart.map((r) => r.run_id).sort()).toEqual([bad, good].sort());
      expect(await d1Rows([other])).toEqual([{ id: other, status: 'running' }]);
      // Retried alone (made due here as its backoff would): the good one lands, the bad one waits on its own.
      await inHub(t.tenantId, (sql) => sql.exec(`UPDATE run_index SET next_at = 0`));
      const left = await driveAlarms(hub(t.tenantId), async () => {
        const rows = await pendingRunIndex(t.tenantId);
        return rows.length === 1 ? rows : undefined;
      });
      expect(left.map((r) => r.run_id)).toEqual([bad]);
      expect(await d1Rows([bad, good])).toEqual([{ id: good, status: 'running' }]);
    } finally {
      await env.DB.exec(`DROP TRIGGER IF EXISTS fault_index_${bad}`);
    }
    await inHub(t.tenantId, (sql) => sql.exec(`UPDATE run_index SET next_at = 0`));
    await driveAlarms(hub(t.tenantId), async () => ((await pendingRunIndex(t.tenantId)).length === 0 ? true : undefined));
    expect(await d1Rows([bad])).toEqual([{ id: bad, status: 'running' }]);
    // Nothing is written twice in one write: every batch D1 was sent holds distinct rows.
    expect((await gate.batches()).every((n) => n > 0)).toBe(true);
  });

  it('on a hub with no other traffic, a row D1 keeps refusing is set apart after repeated refusals', async () => {
    const t = await signup('run-index-quiet');
    const { bad, good } = await reportBadAndGood(t);
    try {
      // Each retry made due at once, as its backoff would: the batch is refused until one row is set apart.
      const left = await driveAlarms(hub(t.tenantId), async () => {
        const rows = await pendingRunIndex(t.tenantId);
        if (rows.length === 1) return rows;
        await inHub(t.tenantId, (sql) => sql.exec(`UPDATE run_index SET next_at = 0`));
        return undefined;
      });
      expect(left.map((r) => r.run_id)).toEqual([bad]);
      expect(left[0]!.attempts).toBeGreaterThanOrEqual(6);
      expect(await d1Rows([bad, good])).toEqual([{ id: good, status: 'running' }]);
    } finally {
      await env.DB.exec(`DROP TRIGGER IF EXISTS fault_index_${bad}`);
    }
  });

  it('after D1 refused every write for a while, the backlog goes in one batch, not one call per run', async () => {
    const t = await signup('run-index-outage');
    const gate = await gateHubBatches(t.tenantId);
    await env.DB.exec(
      `CREATE TRIGGER fault_outage_${t.tenantId} BEFORE INSERT ON runs WHEN NEW.tenant_id = '${t.tenantId}' BEGIN SELECT RAISE(ABORT, 'injected: d1 down'); END`,
    );
    const ids = Array.from({ length: 8 }, newRunId);
    try {
      await hubStub(t.tenantId).runReported(
        t.tenantId,
        ids.flatMap((id) => reportsOf(t, id, 'running', true, 1)),
      );
      // Retried until every row has failed more often than a quiet hub's limit.
      await driveAlarms(hub(t.tenantId), async () => {
        const rows = await pendingRunIndex(t.tenantId);
        if (rows.every((r) => r.attempts >= 8)) return true;
        await inHub(t.tenantId, (sql) => sql.exec(`UPDATE run_index SET next_at = 0`));
        return undefined;
      });
    } finally {
      await env.DB.exec(`DROP TRIGGER IF EXISTS fault_outage_${t.tenantId}`);
    }
    const before = (await gate.batches()).length;
    const apart = (await pendingRunIndex(t.tenantId)).filter((r) => r.alone === 1).length;
    await inHub(t.tenantId, (sql) => sql.exec(`UPDATE run_index SET next_at = 0`));
    await driveAlarms(hub(t.tenantId), async () => ((await pendingRunIndex(t.tenantId)).length === 0 ? true : undefined));
    // The rows still together went in one batch; only the few set apart (one per refusal past the
    // quiet-hub limit) went alone.
    const recovery = (await gate.batches()).slice(before);
    expect(apart).toBeLessThan(ids.length / 2);
    expect(recovery.length).toBe(1 + apart);
    expect(Math.max(...recovery)).toBe(2 * (ids.length - apart));
    expect((await d1Rows(ids)).length).toBe(ids.length);
  });

  it("refuses another tenant's run rows, and stores nothing of that call", async () => {
    const a = await signup('run-index-a');
    const b = await signup('run-index-b');
    const id = newRunId();
    const refused = await hubStub(a.tenantId)
      .runReported(a.tenantId, reportsOf(b, id, 'running', true, 1))
      .then(
        () => null,
        (err: unknown) => err as Error,
      );
    expect(refused?.message).toMatch(/sent to the hub of/);
    // A status change alone is checked too (its summary names the run's tenant).
    const [, change] = reportsOf(b, id, 'running', true, 1);
    const refusedChange = await hubStub(a.tenantId)
      .runReported(a.tenantId, [change!])
      .then(
        () => null,
        (err: unknown) => err as Error,
      );
    expect(refusedChange?.message).toMatch(/sent to the hub of/);
    expect(await pendingRunIndex(a.tenantId)).toEqual([]);
    expect(await d1Rows([id])).toEqual([]);
  });
});

describe('a run before its D1 row lands', () => {
  it('is found by its own verbs, feedback and datasets; GET /v1/runs lists it once the hub has written it', async () => {
    const t = await signup('run-index-before');
    await env.DB.exec(
      `CREATE TRIGGER fault_index_${t.tenantId} BEFORE INSERT ON runs WHEN NEW.tenant_id = '${t.tenantId}' BEGIN SELECT RAISE(ABORT, 'injected: d1'); END`,
    );
    let run: { id: string };
    try {
      const flowId = await createFlow(t, { nodes: [transform('only', '"Paris"')], edges: [] });
      run = await startRun(t, flowId);
      expect((await waitFor(t, run.id)).status).toBe('succeeded');
      await until('the hub to hold its row', async () =>
        (await pendingRunIndex(t.tenantId)).some((r) => r.attempts > 0) ? true : undefined,
      );
      expect((await ok(t, 'GET', `/v1/runs/${run.id}`)).status).toBe('succeeded');
      expect((await ok(t, 'GET', '/v1/runs')).data).toEqual([]);
      await ok(t, 'POST', '/v1/feedback-keys', { key: 'helpful', type: 'boolean' }, 201);
      await ok(t, 'POST', '/v1/feedback', { target: { type: 'run', id: run.id }, key: 'helpful', score: true }, 201);
      const dataset = await ok(t, 'POST', '/v1/datasets', { name: 'before-d1' }, 201);
      await ok(t, 'POST', `/v1/datasets/${dataset.id}/examples`, { fromRunId: run.id }, 201);
      // Another tenant still finds nothing.
      const other = await signup('run-index-other');
      expect((await api(other, 'GET', `/v1/runs/${run.id}`)).status).toBe(404);
    } finally {
      await env.DB.exec(`DROP TRIGGER IF EXISTS fault_index_${t.tenantId}`);
    }
    await inHub(t.tenantId, (sql) => sql.exec(`UPDATE run_index SET next_at = 0`));
    await driveAlarms(hub(t.tenantId), async () => ((await pendingRunIndex(t.tenantId)).length === 0 ? true : undefined));
    expect((await ok(t, 'GET', '/v1/runs')).data.map((r: { id: string; status: string }) => [r.id, r.status])).toEqual([
      [run.id, 'succeeded'],
    ]);
  });
});
