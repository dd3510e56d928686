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
import { driveAlarms, hub, runAlarm } from '../../support/workers/durable-objects';
import { signup, type TestTenant } from '../../support/workers/tenants';
import { api, createFlow, ok, startRun, transform, until, waitFor } from './_engine-kit';

const hubStub = (tenantId: string) => hub(tenantId) as unknown as DurableObjectStub<TenantHub>;
const inHub = <T>(tenantId: string, fn: (sql: SqlStorage) => T) => runInDurableObject(hub(tenantId), (_i, s) => fn(s.storage.sql));

interface IndexRow {
  run_id: string;
  summary: string | null;
  attempts: number;
  next_at: number;
  last_error: string | null;
  [k: string]: SqlStorageValue;
}
const pendingInHub = (tenantId: string) =>
  inHub(tenantId, (sql) => sql.exec<IndexRow>(`SELECT * FROM run_index ORDER BY run_id`).toArray());

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
    await hubStub(t.tenantId).runReported(t.tenantId, reportsOf(t, first, 'running', true, 1));
    await until('the first write in flight', async () => ((await gate.batches()).length === 1 ? true : undefined));
    // Twenty runs report while it is held: each call is acknowledged at once (its rows are in the hub).
    const others = Array.from({ length: 20 }, newRunId);
    await Promise.all(others.map((id) => hubStub(t.tenantId).runReported(t.tenantId, reportsOf(t, id, 'running', true, 1))));
    expect((await pendingInHub(t.tenantId)).length).toBe(21);
    await gate.release();
    await until('every row in D1', async () => ((await pendingInHub(t.tenantId)).length === 0 ? true : undefined));
    // One batch for the first run (index row and summary), one for the twenty that came meanwhile.
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
    await hubStub(t.tenantId).runReported(t.tenantId, reportsOf(t, id, 'running', true, 1));
    await until('the write in flight', async () => ((await gate.batches()).length === 1 ? true : undefined));
    await hubStub(t.tenantId).runReported(t.tenantId, reportsOf(t, id, 'succeeded', false, 2));
    await gate.release();
    await until('every row in D1', async () => ((await pendingInHub(t.tenantId)).length === 0 ? true : undefined));
    // The second write carries only the summary: the index row went with the first.
    expect(await gate.batches()).toEqual([2, 1]);
    expect(await d1Rows([id])).toEqual([{ id, status: 'succeeded' }]);
  });

  it('a row D1 keeps refusing is retried alone, with backoff from the alarm, and holds no other run back', async () => {
    const t = await signup('run-index-poison');
    const gate = await gateHubBatches(t.tenantId);
    const bad = newRunId();
    const good = newRunId();
    await env.DB.exec(
      `CREATE TRIGGER fault_index_${bad} BEFORE INSERT ON runs WHEN NEW.id = '${bad}' BEGIN SELECT RAISE(ABORT, 'injected: d1 row'); END`,
    );
    try {
      await hubStub(t.tenantId).runReported(t.tenantId, [
        ...reportsOf(t, bad, 'running', true, 1),
        ...reportsOf(t, good, 'running', true, 1),
      ]);
      // Both went in one batch, which D1 refused as a whole; both wait for their retry.
      const failed = await until('the batch refused', async () => {
        const rows = await pendingInHub(t.tenantId);
        return rows.length === 2 && rows.every((r) => r.attempts === 1) ? rows : undefined;
      });
      expect(failed.map((r) => r.last_error).join()).toMatch(/injected: d1 row/);
      expect(await d1Rows([bad, good])).toEqual([]);
      // The retry is the alarm's (at the backoff); the sweeper's registry in D1 carries its time too.
      const registry = await until('the retry in the registry', () =>
        env.DB.prepare(`SELECT next_due_at FROM hub_schedules WHERE tenant_id = ?`)
          .bind(t.tenantId)
          .first<{ next_due_at: string }>()
          .then((r) => r ?? undefined),
      );
      const retryAt = Math.min(...failed.map((r) => r.next_at));
      expect(Date.parse(registry.next_due_at)).toBe(retryAt);
      // First retry (the alarm's, made due here as its backoff would): the two again in one batch, as a
      // backlog after an outage is written; refused again.
      const retry = async () => {
        await inHub(t.tenantId, (sql) => sql.exec(`UPDATE run_index SET next_at = 0`));
        expect(await runAlarm(hub(t.tenantId))).toBe(true);
        return pendingInHub(t.tenantId);
      };
      expect((await retry()).map((r) => r.attempts)).toEqual([2, 2]);
      // Second retry: each row alone. The good one lands; the bad one fails on its own.
      const left = await retry();
      expect(left.map((r) => [r.run_id, r.attempts])).toEqual([[bad, 3]]);
      expect(await d1Rows([bad, good])).toEqual([{ id: good, status: 'running' }]);
      expect(await gate.batches()).toEqual([4, 4, 2, 2]);
    } finally {
      await env.DB.exec(`DROP TRIGGER IF EXISTS fault_index_${bad}`);
    }
    await inHub(t.tenantId, (sql) => sql.exec(`UPDATE run_index SET next_at = 0`));
    await driveAlarms(hub(t.tenantId), async () => ((await pendingInHub(t.tenantId)).length === 0 ? true : undefined));
    expect(await d1Rows([bad])).toEqual([{ id: bad, status: 'running' }]);
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
    expect(await pendingInHub(a.tenantId)).toEqual([]);
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
      await until('the hub to hold its row', async () => ((await pendingInHub(t.tenantId)).some((r) => r.attempts > 0) ? true : undefined));
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
    await driveAlarms(hub(t.tenantId), async () => ((await pendingInHub(t.tenantId)).length === 0 ? true : undefined));
    expect((await ok(t, 'GET', '/v1/runs')).data.map((r: { id: string; status: string }) => [r.id, r.status])).toEqual([
      [run.id, 'succeeded'],
    ]);
  });
});
