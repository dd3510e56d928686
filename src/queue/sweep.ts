/** Cron sweeper jobs of the queues (registered in src/cron/sweeper.ts). */
import { and, asc, eq, inArray, lt, lte, sql } from 'drizzle-orm';
import type { SweepJob } from '../cron/job';
import { getDb } from '../db/client';
import { deadLetters } from '../db/schema';

const PER_SWEEP = 100;

/**
 * Re-drives due dead letters to the queue they came from. Running at all means D1 answers again
 * (the usual cause); a message that dies again comes back later with a longer wait, and after
 * MAX_REDRIVES it stays `abandoned`. Sent before marked: a lost mark re-drives twice, which the
 * idempotent consumers absorb, while the other order could lose a message.
 */
export const redriveDeadLetters: SweepJob = {
  name: 'redrive-dead-letters',
  async run(env, now) {
    const db = getDb(env.DB);
    const due = await db
      .select({ id: deadLetters.id, queue: deadLetters.queue, body: deadLetters.body })
      .from(deadLetters)
      .where(and(eq(deadLetters.status, 'pending'), lte(deadLetters.nextRedriveAt, now.toISOString())))
      .orderBy(asc(deadLetters.nextRedriveAt))
      .limit(PER_SWEEP)
      .all();
    if (due.length === 0) return { redriven: 0 };
    for (const [queue, binding] of [
      ['events', env.EVENTS],
      ['webhooks', env.WEBHOOKS],
    ] as const) {
      const bodies = due.filter((d) => d.queue === queue).map((d) => ({ body: d.body, contentType: 'json' as const }));
      if (bodies.length > 0) await binding.sendBatch(bodies);
    }
    await db
      .update(deadLetters)
      .set({ status: 'redriven', redrives: sql`${deadLetters.redrives} + 1`, updatedAt: now.toISOString() })
      .where(
        and(
          eq(deadLetters.status, 'pending'),
          inArray(
            deadLetters.id,
            due.map((d) => d.id),
          ),
        ),
      )
      .run();
    return { redriven: due.length };
  },
};

/** Re-driven and abandoned dead letters are kept this long for the operator view (docs/operations.md). */
export const DEAD_LETTER_RETENTION_DAYS = 30;

export const purgeDeadLetters: SweepJob = {
  name: 'purge-dead-letters',
  async run(env, now) {
    const db = getDb(env.DB);
    const cutoff = new Date(now.getTime() - DEAD_LETTER_RETENTION_DAYS * 24 * 3600_000).toISOString();
    const res = await db
      .delete(deadLetters)
      .where(and(inArray(deadLetters.status, ['redriven', 'abandoned']), lt(deadLetters.updatedAt, cutoff)))
      .run();
    return { purged: res.meta.changes };
  },
};

export const QUEUE_SWEEP_JOBS: SweepJob[] = [redriveDeadLetters, purgeDeadLetters];
