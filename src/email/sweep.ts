/**
 * Cron sweeper job of email (registered in src/cron/sweeper.ts): runs deliveries whose time has come
 * (quiet hours over, the daily digest, retries whose queue message was lost, attempts whose Worker
 * died), bounded per run. Digest deliveries of one member go out as one email.
 */

import { loadConfig } from '../config';
import type { SweepJob } from '../cron/job';
import { getDb } from '../db/client';
import { type Delivery, dueDeliveries, runDigest, runEmailAttempt } from './deliveries';

const BATCH = 50;

export async function sweepEmail(env: Env, now: Date): Promise<{ due: number; ran: number }> {
  const config = loadConfig(env);
  const rows = await dueDeliveries(getDb(env.DB), now.getTime(), BATCH);
  let ran = 0;
  const digests = new Map<string, Delivery[]>();
  for (const d of rows) {
    if (d.reason === 'digest') {
      const key = `${d.tenantId} ${d.userId} ${d.address}`;
      digests.set(key, [...(digests.get(key) ?? []), d]);
      continue;
    }
    const attempt = d.leaseUntil !== null ? d.attempts : d.attempts + 1;
    const r = await runEmailAttempt(env, config, { kind: 'email_attempt', deliveryId: d.id, attempt }, now.getTime());
    if (r.ran) ran += 1;
  }
  for (const group of digests.values()) if ((await runDigest(env, config, group, now.getTime())).ran) ran += group.length;
  return { due: rows.length, ran };
}

export const runDueEmail: SweepJob = { name: 'email-deliveries', run: (env, now) => sweepEmail(env, now) };

export const EMAIL_SWEEP_JOBS: SweepJob[] = [runDueEmail];
