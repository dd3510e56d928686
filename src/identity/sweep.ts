/** Identity's backstop sweep jobs (listed in src/cron/sweeper.ts). */
import { and, isNotNull, lt, or } from 'drizzle-orm';
import type { SweepJob } from '../cron/job';
import { getDb } from '../db/client';
import { invitations, refreshTokens } from '../db/schema';

/** Refresh tokens and invitations past expiry (plus a grace day for reuse detection) are deleted. */
export const purgeExpiredCredentials: SweepJob = {
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

export const IDENTITY_SWEEP_JOBS: SweepJob[] = [purgeExpiredCredentials];
