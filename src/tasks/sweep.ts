/** Tasks' backstop sweep jobs (listed in src/cron/sweeper.ts). */
import { asc, lte } from 'drizzle-orm';
import type { SweepJob } from '../cron/job';
import { getDb } from '../db/client';
import { hubSchedules } from '../db/schema';
import { tenantHubStub } from '../lib/stubs';

/** Grace before the sweeper steps in: the hub's own alarm fires within milliseconds normally. */
export const HUB_GRACE_MS = 30_000;
const HUBS_PER_SWEEP = 200;
const WAKE_CONCURRENCY = 8;

/**
 * Wakes every TenantHub whose registry time (earliest pending reminder, or an
 * unpublished event) is past due by more than the grace: a lost or exhausted
 * alarm never loses a reminder. wake() is idempotent, like the alarm.
 */
export const wakeOverdueHubs: SweepJob = {
  name: 'wake-overdue-hubs',
  async run(env, now) {
    const db = getDb(env.DB);
    const due = await db
      .select({ tenantId: hubSchedules.tenantId })
      .from(hubSchedules)
      .where(lte(hubSchedules.nextDueAt, new Date(now.getTime() - HUB_GRACE_MS).toISOString()))
      .orderBy(asc(hubSchedules.nextDueAt))
      .limit(HUBS_PER_SWEEP)
      .all();
    let delivered = 0;
    let failed = 0;
    for (let i = 0; i < due.length; i += WAKE_CONCURRENCY) {
      const results = await Promise.allSettled(
        due.slice(i, i + WAKE_CONCURRENCY).map(({ tenantId }) => tenantHubStub(env, tenantId).wake(tenantId)),
      );
      for (const r of results) {
        if (r.status === 'fulfilled') delivered += r.value.delivered;
        else failed += 1;
      }
    }
    return { hubs: due.length, delivered, failed };
  },
};

export const TASK_SWEEP_JOBS: SweepJob[] = [wakeOverdueHubs];
