/**
 * The backstop sweeper, run by the cron trigger. Each job is small, bounded and
 * idempotent; one failing job never stops the others.
 */
import { and, isNotNull, lt, or } from 'drizzle-orm';
import type { Config } from '../config';
import { getDb } from '../db/client';
import { invitations, refreshTokens } from '../db/schema';
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
      db.delete(invitations).where(or(lt(invitations.expiresAt, cutoff), and(isNotNull(invitations.acceptedAt), lt(invitations.expiresAt, now.toISOString())))),
    ]);
    return { refreshTokens: tokens.meta.changes, invitations: invites.meta.changes };
  },
};

export const SWEEP_JOBS: SweepJob[] = [purgeExpiredCredentials];

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
