/**
 * The backstop sweeper, run by the cron trigger. Each job is small, bounded and
 * idempotent; one failing job never stops the others.
 */

import type { Config } from '../config';
import { RETENTION_SWEEP_JOBS } from '../db/sweep';
import { EMAIL_SWEEP_JOBS } from '../email/sweep';
import { EVENT_SWEEP_JOBS } from '../events/sweep';
import { FLOW_SWEEP_JOBS } from '../flows/sweep';
import { IDENTITY_SWEEP_JOBS } from '../identity/sweep';
import { KNOWLEDGE_SWEEP_JOBS } from '../knowledge/sweep';
import { createLogger, errorFields } from '../observability/log';
import { QUEUE_SWEEP_JOBS } from '../queue/sweep';
import { TASK_SWEEP_JOBS } from '../tasks/sweep';
import type { SweepJob } from './job';

export type { SweepJob } from './job';

/** Every domain's jobs, in run order. A domain adds a job in its own sweep.ts and lists it here; domains never import this file. */
export const SWEEP_JOBS: SweepJob[] = [
  ...IDENTITY_SWEEP_JOBS,
  ...TASK_SWEEP_JOBS,
  ...EVENT_SWEEP_JOBS,
  ...EMAIL_SWEEP_JOBS,
  ...QUEUE_SWEEP_JOBS,
  ...FLOW_SWEEP_JOBS,
  ...KNOWLEDGE_SWEEP_JOBS,
  ...RETENTION_SWEEP_JOBS,
];

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
