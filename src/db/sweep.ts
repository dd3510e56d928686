/**
 * Retention of the platform's append-only D1 tables (defaults in docs/operations.md). Each run
 * deletes at most PER_TABLE rows per table, oldest first, through an index on the cut-off column,
 * so a backlog drains over a few sweeps without one long write on the platform's only database.
 * Webhook deliveries (with their attempts) and event bookkeeping expire in src/events/sweep.ts.
 */
import { and, inArray, isNotNull, lt } from 'drizzle-orm';
import type { SweepJob } from '../cron/job';
import { getDb } from './client';
import { auditLog, runs, toolInvocations } from './schema';

export const RETENTION_DAYS = {
  auditLog: 365,
  /** Finished runs' summaries; runs still queued, running or waiting are never deleted. */
  runs: 90,
  toolInvocations: 90,
} as const;
const PER_TABLE = 1000;
const DAY = 24 * 3600_000;

export const purgeExpiredRecords: SweepJob = {
  name: 'purge-expired-records',
  async run(env, now) {
    const db = getDb(env.DB);
    const ago = (days: number) => new Date(now.getTime() - days * DAY).toISOString();
    const [audit, finishedRuns, invocations] = await db.batch([
      db.delete(auditLog).where(
        inArray(
          auditLog.id,
          db
            .select({ id: auditLog.id })
            .from(auditLog)
            .where(lt(auditLog.createdAt, ago(RETENTION_DAYS.auditLog)))
            .limit(PER_TABLE),
        ),
      ),
      db.delete(runs).where(
        inArray(
          runs.id,
          db
            .select({ id: runs.id })
            .from(runs)
            // finished_at is set only on terminal states, so this never touches a live run.
            .where(and(isNotNull(runs.finishedAt), lt(runs.finishedAt, ago(RETENTION_DAYS.runs))))
            .limit(PER_TABLE),
        ),
      ),
      db.delete(toolInvocations).where(
        inArray(
          toolInvocations.id,
          db
            .select({ id: toolInvocations.id })
            .from(toolInvocations)
            .where(lt(toolInvocations.createdAt, ago(RETENTION_DAYS.toolInvocations)))
            .limit(PER_TABLE),
        ),
      ),
    ]);
    return { auditLog: audit.meta.changes, runs: finishedRuns.meta.changes, toolInvocations: invocations.meta.changes };
  },
};

export const RETENTION_SWEEP_JOBS: SweepJob[] = [purgeExpiredRecords];
