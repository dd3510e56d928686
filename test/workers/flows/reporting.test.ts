/**
 * Durable run status reporting (durable-objects/flow-run/reports.ts, and the hub's D1 writes of the
 * runs' rows, durable-objects/tenant-hub/run-index.ts) and the sweeper's reconciler (src/flows/sweep.ts).
 * Faults are injected from outside, in the receivers' own storage: a SQLite trigger that aborts the
 * write a receiver would make (D1 `runs`, the hub's `run_slots` and run `changes`, a promoted run's
 * start), so each receiver fails until the test drops the trigger.
 */
import { runInDurableObject } from 'cloudflare:test';
import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import { reconcileRuns } from '../../../src/flows/sweep';
import { driveAlarms, flowRun, hub, runAlarm } from '../../support/workers/durable-objects';
import { signup, type TestTenant } from '../../support/workers/tenants';
import {
  allowLocalHttp,
  approval,
  createFlow,
  edge,
  endpoint,
  getRun,
  hits,
  http,
  inHub,
  newKey,
  ok,
  pendingRunIndex,
  release,
  setSettings,
  startRun,
  transform,
  until,
  waitFor,
} from './_engine-kit';

const GATED = { nodes: [approval('gate'), transform('after', 'nodes.gate.output')], edges: [edge('gate', 'after')] };

type Sql = SqlStorage;
const inRun = <T>(runId: string, fn: (sql: Sql) => T) =>
  runInDurableObject(flowRun(runId) as unknown as DurableObjectStub, (_i, s) => fn(s.storage.sql));

/** Makes the hub refuse run changes and slot releases, and D1 refuse the tenant's summaries. */
async function breakReceivers(t: TestTenant): Promise<void> {
  await inHub(t.tenantId, (sql) => {
    sql.exec(`CREATE TRIGGER fault_release BEFORE DELETE ON run_slots BEGIN SELECT RAISE(ABORT, 'injected: hub release'); END`);
    sql.exec(
      `CREATE TRIGGER fault_changes BEFORE INSERT ON changes WHEN NEW.entity = 'run' BEGIN SELECT RAISE(ABORT, 'injected: hub runChanged'); END`,
    );
  });
  await env.DB.exec(
    `CREATE TRIGGER fault_runs_${t.tenantId} BEFORE UPDATE ON runs WHEN OLD.tenant_id = '${t.tenantId}' BEGIN SELECT RAISE(ABORT, 'injected: d1'); END`,
  );
}

async function repairReceivers(t: TestTenant): Promise<void> {
  await inHub(t.tenantId, (sql) => {
    sql.exec(`DROP TRIGGER fault_release`);
    sql.exec(`DROP TRIGGER fault_changes`);
  });
  await env.DB.exec(`DROP TRIGGER fault_runs_${t.tenantId}`);
}

interface ReportRow {
  receiver: string;
  status: string;
  attempts: number;
  done_at: number | null;
  last_error: string | null;
  [k: string]: SqlStorageValue;
}
const reports = (runId: string) => inRun(runId, (sql) => sql.exec<ReportRow>(`SELECT * FROM reports ORDER BY id`).toArray());
const openHubReports = async (runId: string) => (await reports(runId)).filter((r) => r.receiver === 'hub' && r.done_at === null);
/** Runs the run's alarms until every report of it is delivered. */
const allDelivered = (runId: string) =>
  driveAlarms(flowRun(runId), async () => ((await reports(runId)).every((r) => r.done_at !== null) ? true : undefined));

/** A gated run, parked as waiting, whose two hub reports (running, waiting) failed together at least once; D1 refuses too. */
async function failingHubReports(tag: string) {
  const t = await signup(tag);
  const flowId = await createFlow(t, GATED);
  await breakReceivers(t);
  const a = await startRun(t, flowId);
  await waitFor(t, a.id, ['waiting']);
  const failed = await driveAlarms(flowRun(a.id), async () => {
    const open = await openHubReports(a.id);
    return open.length === 2 && open.every((r) => r.attempts >= 1) ? open : undefined;
  });
  return { t, a, failed };
}

const d1Status = async (runId: string) =>
  (await env.DB.prepare(`SELECT status FROM runs WHERE id = ?`).bind(runId).first<{ status: string }>())?.status;
/** Waits until D1's row of the run says `status` (the hub writes it right after the report it acknowledged). */
const d1Says = (runId: string, status: string) =>
  until(`D1's ${status}`, async () => ((await d1Status(runId)) === status ? status : undefined));

/** The tenant's `run.*` outbox events and sync changes for one run. */
async function hubRecords(tenantId: string, runId: string) {
  return inHub(tenantId, (sql) => ({
    events: sql
      .exec<{ event: string }>(`SELECT event FROM outbox ORDER BY sequence`)
      .toArray()
      .map((r) => JSON.parse(r.event) as { id: string; type: string; data: { run?: { id: string } } })
      .filter((e) => e.data.run?.id === runId)
      .map((e) => e.type),
    changes: sql
      .exec<{ data: string }>(`SELECT data FROM changes WHERE entity = 'run' AND entity_id = ? ORDER BY version`, runId)
      .toArray()
      .map((r) => (JSON.parse(r.data) as { status: string }).status),
    slots: sql.exec<{ run_id: string; state: string }>(`SELECT run_id, state FROM run_slots`).toArray(),
  }));
}

const FAILS = 3;

describe('run status reports survive failing receivers', () => {
  it(`hub and D1 fail ${FAILS} times: the slot is freed, D1 is right, each run.* event lands once, the queued run starts`, async () => {
    const t = await signup('reports');
    await setSettings(t, { maxActiveRuns: 1 });
    const flowId = await createFlow(t, GATED);
    const a = await startRun(t, flowId, { n: 'a' });
    const b = await startRun(t, flowId, { n: 'b' });
    expect([a.status, b.status]).toEqual(['running', 'queued']);
    await waitFor(t, a.id, ['waiting']);
    await driveAlarms(flowRun(a.id), async () => ((await reports(a.id)).every((r) => r.done_at !== null) ? true : undefined));

    await breakReceivers(t);
    await ok(t, 'POST', `/v1/runs/${a.id}/signal`, { payload: 'go' });
    expect((await waitFor(t, a.id)).status).toBe('succeeded');
    // Every delivery fails; the alarm keeps retrying (driven here, as workerd would after the backoff).
    const failing = await driveAlarms(flowRun(a.id), async () => {
      const open = (await reports(a.id)).filter((r) => r.done_at === null);
      const failedEnough = (receiver: string) => open.some((r) => r.receiver === receiver && r.attempts >= FAILS);
      return ['hub', 'release'].every(failedEnough) ? open : undefined;
    });
    expect(failing.filter((r) => r.status === 'succeeded').map((r) => r.receiver)).toEqual(['hub', 'release']);
    expect(failing.map((r) => r.last_error ?? '').join()).toMatch(/injected/);
    expect(await d1Status(a.id)).toBe('waiting');
    expect((await getRun(t, b.id)).status).toBe('queued');

    // The hub takes the reports again, D1 still refuses: the run's outbox is done, the hub keeps the
    // summary and retries it from its alarm (driven here, each retry made due as its backoff would).
    await inHub(t.tenantId, (sql) => {
      sql.exec(`DROP TRIGGER fault_release`);
      sql.exec(`DROP TRIGGER fault_changes`);
    });
    await allDelivered(a.id);
    const held = await driveAlarms(hub(t.tenantId), async () => {
      const row = (await pendingRunIndex(t.tenantId)).find((r) => r.run_id === a.id);
      if (row && row.attempts >= FAILS) return row;
      await inHub(t.tenantId, (sql) => sql.exec(`UPDATE run_index SET next_at = 0`));
      return undefined;
    });
    // (b, promoted into a's slot, has its rows here too: D1 refuses the whole tenant.)
    expect(JSON.parse(held.summary!).status).toBe('succeeded');
    expect(held.last_error).toMatch(/injected: d1/);
    expect(await d1Status(a.id)).toBe('waiting');
    await env.DB.exec(`DROP TRIGGER fault_runs_${t.tenantId}`);
    await inHub(t.tenantId, (sql) => sql.exec(`UPDATE run_index SET next_at = 0`));
    await driveAlarms(hub(t.tenantId), async () => ((await pendingRunIndex(t.tenantId)).length === 0 ? true : undefined));
    expect(await d1Status(a.id)).toBe('succeeded');
    // The freed slot went to b, which was started through a's outbox.
    await waitFor(t, b.id, ['waiting']);
    const recs = await hubRecords(t.tenantId, a.id);
    expect(recs.slots).toEqual([{ run_id: b.id, state: 'active' }]);
    // Exactly one event and one sync change per hub report the run wrote, however often it was sent.
    const reported = (await reports(a.id)).filter((r) => r.receiver === 'hub').map((r) => r.status);
    expect(reported.at(-1)).toBe('succeeded');
    expect(recs.events).toEqual(reported.map((s) => `run.${s}`));
    expect(recs.changes).toEqual(reported);
    await ok(t, 'POST', `/v1/runs/${b.id}/signal`, { payload: 'b' });
    expect((await waitFor(t, b.id)).status).toBe('succeeded');
    await driveAlarms(flowRun(b.id), async () => ((await reports(b.id)).every((r) => r.done_at !== null) ? true : undefined));
    await d1Says(b.id, 'succeeded');
    const bReported = (await reports(b.id)).filter((r) => r.receiver === 'hub').map((r) => `run.${r.status}`);
    expect((await hubRecords(t.tenantId, b.id)).events).toEqual(bReported);
  });

  it("a failing receiver's reports all wait for its retry time: the alarm is not re-armed at once", async () => {
    const { t, a, failed } = await failingHubReports('reports-wait');
    const state = await inRun(a.id, (sql) => ({
      nextAt: sql
        .exec<{ next_at: number }>(`SELECT next_at FROM reports WHERE done_at IS NULL`)
        .toArray()
        .map((r) => r.next_at),
    }));
    const alarm = await runInDurableObject(flowRun(a.id) as unknown as DurableObjectStub, (_i, s) => s.storage.getAlarm());
    const now = Date.now();
    expect(failed.map((r) => r.status)).toEqual(['running', 'waiting']);
    expect(Math.min(...state.nextAt)).toBeGreaterThan(now);
    expect(alarm).not.toBeNull();
    expect(alarm!).toBeGreaterThan(now);
    await repairReceivers(t);
    await allDelivered(a.id);
    await d1Says(a.id, 'waiting');
    expect((await hubRecords(t.tenantId, a.id)).events).toEqual(['run.running', 'run.waiting']);
  });

  it('an alarm attempts a failing receiver once: its last pass leaves what its first pass failed to the retry time', async () => {
    const { t, a, failed: before } = await failingHubReports('reports-once');
    // One alarm, run now (its retry time is a second or more away): each failing report is tried once.
    expect(await runAlarm(flowRun(a.id))).toBe(true);
    const after = await openHubReports(a.id);
    expect(after.map((r) => r.attempts)).toEqual(before.map((r) => r.attempts + 1));
    await repairReceivers(t);
    await allDelivered(a.id);
    expect((await hubRecords(t.tenantId, a.id)).events).toEqual(['run.running', 'run.waiting']);
  });

  it('the hub applies a redelivered report once (its acknowledgement was lost)', async () => {
    const t = await signup('reports-dup');
    const flowId = await createFlow(t, GATED);
    const a = await startRun(t, flowId);
    await waitFor(t, a.id, ['waiting']);
    const summary = { ...(await getRun(t, a.id)), tenantId: t.tenantId };
    const before = await hubRecords(t.tenantId, a.id);
    const stub = hub(t.tenantId) as unknown as DurableObjectStub<import('../../../durable-objects/tenant-hub/tenant-hub').TenantHub>;
    for (let i = 0; i < 3; i++)
      await stub.runReported(t.tenantId, [{ kind: 'change', summary: { ...summary, status: 'waiting' }, eventId: `evt_${a.id}_r999` }]);
    const after = await hubRecords(t.tenantId, a.id);
    expect(after.events.length).toBe(before.events.length + 1);
    expect(after.changes.length).toBe(before.changes.length + 1);
  });
});

describe('a run that finishes inside its alarm', () => {
  it('delivers its reports from that alarm and then arms only its retention, no second alarm now', async () => {
    const t = await signup('reports-one-alarm');
    const flowId = await createFlow(t, {
      nodes: [{ id: 'nap', type: 'delay', config: { ms: 2000 } }, transform('after', '1')],
      edges: [edge('nap', 'after')],
    });
    const run = await startRun(t, flowId);
    await waitFor(t, run.id, ['waiting']);
    // From here on, every alarm the object sets is recorded: the delay's wake-up alarm (2 s, time enough
    // to set the recorder up first) finishes the run.
    await runInDurableObject(flowRun(run.id) as unknown as DurableObjectStub, (instance, s) => {
      const set: number[] = [];
      const original = s.storage.setAlarm.bind(s.storage);
      s.storage.setAlarm = (at, options) => {
        set.push(typeof at === 'number' ? at : at.getTime());
        return original(at, options);
      };
      Object.assign(instance, { alarmsSet: set });
    });
    const done = await waitFor(t, run.id);
    expect(done.status).toBe('succeeded');
    expect(await allDelivered(run.id)).toBe(true);
    const set = await runInDurableObject(flowRun(run.id) as unknown as DurableObjectStub, (instance) => [
      ...(instance as unknown as { alarmsSet: number[] }).alarmsSet,
    ]);
    // Only the retention alarm (days after the finish); no alarm "now" for reports the alarm delivered itself.
    expect(set.length).toBeGreaterThan(0);
    expect(set.filter((at) => at < Date.parse(done.finishedAt) + 86_400_000)).toEqual([]);
    await d1Says(run.id, 'succeeded');
    expect((await hubRecords(t.tenantId, run.id)).events).toEqual(['run.running', 'run.waiting', 'run.succeeded']);
  });
});

describe("the alarm's first delivery pass", () => {
  it('a run of local nodes that finishes inside its alarm sends each receiver its reports together, once per attempt', async () => {
    const t = await signup('reports-together');
    const flowId = await createFlow(t, {
      nodes: [transform('a', '1'), transform('b', 'nodes.a.output + 1')],
      edges: [edge('a', 'b')],
    });
    await breakReceivers(t);
    const run = await startRun(t, flowId);
    expect((await waitFor(t, run.id)).status).toBe('succeeded');
    // Every receiver refuses, so each attempt is counted on every row it carried. Had 'running' gone out
    // on its own while the run was driven, its row would count one attempt more than the final one's.
    const tried = await until('every report attempted', async () => {
      const rows = await reports(run.id);
      return rows.every((r) => r.attempts >= 1) ? rows : undefined;
    });
    // The hub's lane: the index row and both changes, one call per attempt.
    expect(tried.map((r) => [r.receiver, r.status])).toEqual([
      ['index', 'queued'],
      ['hub', 'running'],
      ['hub', 'succeeded'],
      ['release', 'succeeded'],
    ]);
    expect(new Set(tried.filter((r) => r.receiver !== 'release').map((r) => r.attempts)).size).toBe(1);
    await repairReceivers(t);
    await allDelivered(run.id);
    await d1Says(run.id, 'succeeded');
    expect((await hubRecords(t.tenantId, run.id)).events).toEqual(['run.running', 'run.succeeded']);
  });

  it("a node that waits outside the run does not hold 'running' back: D1 and the hub have it while the request is open", async () => {
    const t = await signup('reports-external');
    await allowLocalHttp(t);
    const key = newKey('held');
    const flowId = await createFlow(t, {
      nodes: [transform('first', '1'), http('slow', endpoint(key, { hold: 1 }))],
      edges: [edge('first', 'slow')],
    });
    const run = await startRun(t, flowId);
    try {
      // The drive cannot return while the request is held, so only the http node's launch can have
      // started the delivery of 'running'.
      await until('the request to arrive', async () => ((await hits(key)).length ? true : undefined));
      await until("D1's running", async () => ((await d1Status(run.id)) === 'running' ? true : undefined));
      expect((await hubRecords(t.tenantId, run.id)).events).toEqual(['run.running']);
      expect((await hits(key))[0]!.answered).toBeNull();
    } finally {
      await release(key);
    }
    expect((await waitFor(t, run.id)).status).toBe('succeeded');
  });

  it('a drive that throws still delivers the reports written before it, and the run goes on once it stops', async () => {
    const t = await signup('reports-throwing-drive');
    await setSettings(t, { maxActiveRuns: 1 });
    const a = await startRun(t, await createFlow(t, GATED));
    await waitFor(t, a.id, ['waiting']);
    const b = await startRun(t, await createFlow(t, { nodes: [transform('only', '1')], edges: [] }));
    expect(b.status).toBe('queued');
    await until('b queued in D1', async () => ((await d1Status(b.id)) === 'queued' ? true : undefined));
    // b's only node, a local one, cannot start (its start's write aborts): once a's slot passes to b,
    // every alarm of b throws in its drive, after b's start wrote its 'running' reports.
    await inRun(b.id, (sql) =>
      sql.exec(
        `CREATE TRIGGER fault_only BEFORE UPDATE ON nodes WHEN NEW.status = 'running' BEGIN SELECT RAISE(ABORT, 'injected: node start'); END`,
      ),
    );
    await ok(t, 'POST', `/v1/runs/${a.id}/signal`, { payload: 'go' });
    expect((await waitFor(t, a.id)).status).toBe('succeeded');
    await until("b's running in D1", async () => ((await d1Status(b.id)) === 'running' ? true : undefined));
    expect((await hubRecords(t.tenantId, b.id)).events).toEqual(['run.running']);
    await inRun(b.id, (sql) => sql.exec(`DROP TRIGGER fault_only`));
    await driveAlarms(flowRun(b.id), async () => ((await getRun(t, b.id)).status === 'succeeded' ? true : undefined));
    await allDelivered(b.id);
    await d1Says(b.id, 'succeeded');
  });
});

describe('the reconciler repairs what no report covers', () => {
  it('a lost release and summary, and a promoted run whose start() failed: slot freed, D1 fixed, queued run started', async () => {
    const t = await signup('reconcile');
    await setSettings(t, { maxActiveRuns: 1 });
    const flowId = await createFlow(t, GATED);
    const a = await startRun(t, flowId, { n: 'a' });
    const b = await startRun(t, flowId, { n: 'b' });
    await waitFor(t, a.id, ['waiting']);
    await breakReceivers(t);
    await ok(t, 'POST', `/v1/runs/${a.id}/signal`, { payload: 'go' });
    await waitFor(t, a.id);
    await driveAlarms(flowRun(a.id), async () =>
      (await reports(a.id)).some((r) => r.receiver === 'release' && r.attempts >= 1) ? true : undefined,
    );
    // The outbox loses its rows (as if they had been acknowledged): nothing will report any more.
    await inRun(a.id, (sql) => sql.exec(`UPDATE reports SET done_at = 0 WHERE done_at IS NULL`));
    // b cannot start yet: its own state refuses to go to running.
    await inRun(b.id, (sql) =>
      sql.exec(
        `CREATE TRIGGER fault_start BEFORE UPDATE OF status ON run WHEN NEW.status = 'running' BEGIN SELECT RAISE(ABORT, 'injected: start'); END`,
      ),
    );
    await repairReceivers(t);
    expect(await d1Status(a.id)).toBe('waiting');
    expect((await hubRecords(t.tenantId, a.id)).slots.map((s) => s.run_id).sort()).toEqual([a.id, b.id].sort());

    const sweepLater = async () => {
      await env.DB.prepare(`UPDATE runs SET updated_at = '2000-01-01T00:00:00.000Z' WHERE tenant_id = ?`).bind(t.tenantId).run();
      return reconcileRuns.run(env, new Date());
    };
    // First sweep: a's slot is freed and b promoted, but b's start fails (the next sweep retries it).
    const first = await sweepLater();
    expect(first).toMatchObject({ released: 1, resummarized: 1 });
    await runAlarm(flowRun(a.id));
    await d1Says(a.id, 'succeeded');
    expect((await hubRecords(t.tenantId, a.id)).slots).toEqual([{ run_id: b.id, state: 'active' }]);
    expect((await getRun(t, b.id)).status).toBe('queued');

    // Admitted but never started: once b can start, the next sweep starts it.
    await inRun(b.id, (sql) => sql.exec(`DROP TRIGGER fault_start`));
    const second = await sweepLater();
    expect(second).toMatchObject({ started: 1 });
    await waitFor(t, b.id, ['waiting']);
    await ok(t, 'POST', `/v1/runs/${b.id}/signal`, { payload: 'b' });
    expect((await waitFor(t, b.id)).status).toBe('succeeded');
    // a's lost hub report is not invented by the reconciler: no run.* event appears twice.
    const events = (await hubRecords(t.tenantId, a.id)).events;
    expect(events).not.toContain('run.succeeded');
    expect(events).toEqual((await reports(a.id)).filter((r) => r.receiver === 'hub' && r.done_at !== 0).map((r) => `run.${r.status}`));
  });
});
