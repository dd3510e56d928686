/**
 * The backstop sweeper, run by the cron trigger. Each job is small, bounded and
 * idempotent; one failing job never stops the others.
 */

import { and, asc, isNotNull, lt, lte, or } from 'drizzle-orm';
import type { Config } from '../config';
import { getDb } from '../db/client';
import { hubSchedules, invitations, refreshTokens } from '../db/schema';
import { EVENT_SWEEP_JOBS } from '../events/sweep';
import { FLOW_SWEEP_JOBS } from '../flows/sweep';
import { tenantHubStub } from '../lib/stubs';
import { createLogger, errorFields } from '../observability/log';

export interface SweepJob {
  name: string;
  run(env: Env, now: Date): Promise<Record<string, number>>;
}

/** Refresh tokens and invitations past expiry (plus a grace day for reuse detection) are deleted. */
const purgeExpiredCredentials: SweepJob = {
  name: 'purge-expired-credentials',
  async run(env, now) {
    const db = getDb(env.DB);
    const cutoff = new Date(now.getTime() - 24 * 3600_000).toISOString();
    const [tokens, invites] = await db.batch([
      db.delete(refreshTokens).where(lt(refreshTokens.expiresAt, cutoff)),
      db
        .delete(invitations)
        .where(or(lt(invitations.expiresAt, cutoff), and(isNotNull(invitations.acceptedAt), lt(invitations.expiresAt, now.toISOString())))),
    ]);
    return { refreshTokens: tokens.meta.changes, invitations: invites.meta.changes };
  },
};

/** Grace before the sweeper steps in: the hub's own alarm fires within milliseconds normally. */
export const HUB_GRACE_MS = 30_000;
const HUBS_PER_SWEEP = 200;
const WAKE_CONCURRENCY = 8;

/**
 * Wakes every TenantHub whose registry time (earliest pending reminder, or an
 * unpublished event) is past due by more than the grace: a lost or exhausted
 * alarm never loses a reminder. wake() is idempotent, like the alarm.
 */
const wakeOverdueHubs: SweepJob = {
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

export const SWEEP_JOBS: SweepJob[] = [purgeExpiredCredentials, wakeOverdueHubs, ...EVENT_SWEEP_JOBS, ...FLOW_SWEEP_JOBS];

export async function runSweeper(env: Env, config: Config, now: Date, jobs = SWEEP_JOBS): Promise<Record<string, unknown>> {
  const log = createLogger({ handler: 'scheduled', env: config.ENVIRONMENT });
  const results: Record<string, unknown> = {};
  for (const job of jobs) {
    try {
      results[job.name] = await job.run(env, now);
    } catch (err) {
      results[job.name] = { error: true };
      log.error('sweep job failed', { job: job.name, ...errorFields(err) });
    }
  }
  log.info('sweep finished', { results });
  return results;
}
