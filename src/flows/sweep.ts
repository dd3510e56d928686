/**
 * Backstop for runs: a run whose summary says running but has not changed for
 * a while gets its FlowRun re-armed (kick), so a run whose alarm was lost (or
 * exhausted its retries) resumes from persisted state. Kicking a healthy run is
 * harmless: its alarm re-drives, finds nothing new, and parks again.
 */

import { and, asc, inArray, lt } from 'drizzle-orm';
import type { SweepJob } from '../cron/job';
import { getDb } from '../db/client';
import { runs } from '../db/schema';
import { flowRunStub } from '../lib/stubs';

export const STUCK_AFTER_MS = 5 * 60_000;
const PER_SWEEP = 100;

export const kickStuckRuns: SweepJob = {
  name: 'kick-stuck-runs',
  async run(env, now) {
    const stale = new Date(now.getTime() - STUCK_AFTER_MS).toISOString();
    const rows = await getDb(env.DB)
      .select({ id: runs.id })
      .from(runs)
      .where(and(inArray(runs.status, ['running']), lt(runs.updatedAt, stale)))
      .orderBy(asc(runs.updatedAt))
      .limit(PER_SWEEP)
      .all();
    const results = await Promise.allSettled(rows.map((r) => flowRunStub(env, r.id).kick()));
    return {
      kicked: results.filter((r) => r.status === 'fulfilled').length,
      failed: results.filter((r) => r.status === 'rejected').length,
    };
  },
};

export const FLOW_SWEEP_JOBS: SweepJob[] = [kickStuckRuns];
