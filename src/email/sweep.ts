/**
 * Cron sweeper job of email (registered in src/cron/sweeper.ts): runs deliveries whose time has come
 * (quiet hours over, the daily digest, retries whose queue message was lost, attempts whose Worker
 * died), bounded per run. Digest deliveries of one member go out as one email. And retention:
 * finished deliveries after 30 days, verification links a day after they expired.
 */

import { and, inArray, lt } from 'drizzle-orm';
import { loadConfig } from '../config';
import type { SweepJob } from '../cron/job';
import { getDb } from '../db/client';
import { emailDeliveries, emailVerifications } from '../db/schema';
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

/** Finished deliveries are kept this long (a reply to an older reminder is then ignored); used or expired verification links a day. */
export const DELIVERY_RETENTION_DAYS = 30;
const PER_RUN = 1000;
const DAY = 24 * 3600_000;

export const purgeEmailRecords: SweepJob = {
  name: 'purge-email-records',
  async run(env, now) {
    const db = getDb(env.DB);
    const [deliveries, links] = await db.batch([
      db.delete(emailDeliveries).where(
        inArray(
          emailDeliveries.id,
          db
            .select({ id: emailDeliveries.id })
            .from(emailDeliveries)
            .where(
              and(
                inArray(emailDeliveries.status, ['sent', 'failed', 'suppressed']),
                lt(emailDeliveries.updatedAt, new Date(now.getTime() - DELIVERY_RETENTION_DAYS * DAY).toISOString()),
              ),
            )
            .limit(PER_RUN),
        ),
      ),
      db.delete(emailVerifications).where(
        inArray(
          emailVerifications.tokenHash,
          db
            .select({ h: emailVerifications.tokenHash })
            .from(emailVerifications)
            .where(lt(emailVerifications.expiresAt, new Date(now.getTime() - DAY).toISOString()))
            .limit(PER_RUN),
        ),
      ),
    ]);
    return { deliveries: deliveries.meta.changes, verificationLinks: links.meta.changes };
  },
};

export const EMAIL_SWEEP_JOBS: SweepJob[] = [runDueEmail, purgeEmailRecords];
