/**
 * The runs reconciler: repairs any disagreement between the D1 `runs`
 * summaries, the tenant hubs' run slots and the FlowRuns' own state (the
 * truth). Each FlowRun already delivers its reports until acknowledged
 * (durable-objects/flow-run/reports.ts); this is the second line, for what
 * no report covers: an alarm that was lost, a run admitted but never started,
 * a run promoted into a freed slot whose start() failed, a slot whose release
 * was lost, a queued run the hub never heard of. Every action is idempotent,
 * so repairing a healthy run is harmless.
 */

import { and, asc, inArray, lt } from 'drizzle-orm';
import type { SweepJob } from '../cron/job';
import { getDb } from '../db/client';
import { runs } from '../db/schema';
import { flowRunStub, tenantHubStub } from '../lib/stubs';
import { TERMINAL } from './run-model';
import { DEFAULT_MAX_ACTIVE_RUNS, tenantRunLimit } from './runs-service';

/** A summary unchanged for this long is checked against its run. */
export const STUCK_AFTER_MS = 5 * 60_000;
const PER_SWEEP = 100;
const SLOTS_PER_TENANT = 1000;

type Counts = Record<string, number>;

function bump(c: Counts, k: string, n = 1): void {
  c[k] = (c[k] ?? 0) + n;
}

/** Compares one tenant's hub slots with its runs: frees slots of finished runs, starts admitted ones. */
async function reconcileTenant(env: Env, tenantId: string, queued: string[], c: Counts): Promise<void> {
  const hub = tenantHubStub(env, tenantId);
  const slots = await hub.runSlots(tenantId, SLOTS_PER_TENANT);
  const start = async (runId: string) => {
    await flowRunStub(env, runId).start();
    bump(c, 'started');
  };
  for (const slot of slots.filter((s) => s.state === 'active')) {
    const truth = await flowRunStub(env, slot.runId).reconcile(null);
    if (truth?.status === 'queued') await start(slot.runId);
    else if (truth === null || (TERMINAL.has(truth.status) && !truth.releasePending)) {
      // Its own release was lost (or the run never existed): free exactly this admission's slot.
      const promoted = await hub.releaseRun(tenantId, slot.runId, DEFAULT_MAX_ACTIVE_RUNS, slot.seq);
      bump(c, 'released');
      for (const id of promoted) await start(id);
    }
  }
  const known = new Set(slots.map((s) => s.runId));
  const missing = queued.filter((id) => !known.has(id));
  if (missing.length === 0) return;
  const limit = await tenantRunLimit(env, tenantId);
  for (const runId of missing) {
    const truth = await flowRunStub(env, runId).reconcile(null);
    if (truth?.status !== 'queued') continue;
    // Queued in the run but unknown to the hub (admission never reached it): admit it now.
    bump(c, 'admitted');
    if ((await hub.admitRun(tenantId, runId, limit)) === 'start') await start(runId);
  }
}

export const reconcileRuns: SweepJob = {
  name: 'reconcile-runs',
  async run(env, now) {
    const stale = new Date(now.getTime() - STUCK_AFTER_MS).toISOString();
    const rows = await getDb(env.DB)
      .select({ id: runs.id, tenantId: runs.tenantId, status: runs.status, parentRunId: runs.parentRunId })
      .from(runs)
      .where(and(inArray(runs.status, ['queued', 'running', 'waiting']), lt(runs.updatedAt, stale)))
      .orderBy(asc(runs.updatedAt))
      .limit(PER_SWEEP)
      .all();
    const c: Counts = { checked: rows.length, failed: 0 };
    // Each run's truth: active runs and undelivered reports are re-armed; a D1 summary that disagrees
    // gets a fresh summary report; a summary whose run never got its state is failed.
    const results = await Promise.allSettled(
      rows.map(async (r) => {
        const truth = await flowRunStub(env, r.id).reconcile(r.status);
        if (truth === null) {
          await env.DB.prepare(`UPDATE runs SET status = 'failed', error = ?, updated_at = ? WHERE id = ? AND status = ?`)
            .bind('the run was never initialized', now.toISOString(), r.id, r.status)
            .run();
          bump(c, 'orphaned');
        } else if (truth.status !== r.status) bump(c, 'resummarized');
        return truth;
      }),
    );
    bump(c, 'failed', results.filter((r) => r.status === 'rejected').length);
    const queuedByTenant = new Map<string, string[]>();
    for (const r of rows) {
      if (r.status !== 'queued' || r.parentRunId) continue;
      queuedByTenant.set(r.tenantId, [...(queuedByTenant.get(r.tenantId) ?? []), r.id]);
    }
    for (const [tenantId, queued] of queuedByTenant) {
      try {
        await reconcileTenant(env, tenantId, queued, c);
      } catch {
        bump(c, 'failed');
      }
    }
    return c;
  },
};

export const FLOW_SWEEP_JOBS: SweepJob[] = [reconcileRuns];
