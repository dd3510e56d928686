/** Cron sweeper jobs of knowledge bases (registered in src/cron/sweeper.ts). */
import { and, asc, eq, lt } from 'drizzle-orm';
import type { SweepJob } from '../cron/job';
import { getDb } from '../db/client';
import { knowledgeDocuments } from '../db/schema';
import type { KbIndexJob } from '../queue/messages';

/** A document `queued` (unchanged) for this long gets its `kb_index` job sent again. */
export const REQUEUE_AFTER_MS = 5 * 60_000;
const PER_SWEEP = 100;

/**
 * Re-sends the `kb_index` job of documents left `queued`: an upload whose queue send failed after
 * the row was written and the text staged, or a job the queue lost. Sent before marked (the
 * `updated_at` bump only spaces the next re-send by REQUEUE_AFTER_MS); duplicates are harmless, as
 * the index job ignores a version already committed or overtaken. A document whose job keeps
 * failing is marked `failed` by that job on its last delivery, which ends the re-sends.
 */
export const requeueKnowledgeDocuments: SweepJob = {
  name: 'requeue-knowledge-documents',
  async run(env, now) {
    const db = getDb(env.DB);
    const stale = new Date(now.getTime() - REQUEUE_AFTER_MS).toISOString();
    const rows = await db
      .select({
        id: knowledgeDocuments.id,
        tenantId: knowledgeDocuments.tenantId,
        knowledgeBaseId: knowledgeDocuments.knowledgeBaseId,
        version: knowledgeDocuments.version,
      })
      .from(knowledgeDocuments)
      .where(and(eq(knowledgeDocuments.status, 'queued'), lt(knowledgeDocuments.updatedAt, stale)))
      .orderBy(asc(knowledgeDocuments.updatedAt))
      .limit(PER_SWEEP)
      .all();
    if (rows.length === 0) return { requeued: 0 };
    const jobs: KbIndexJob[] = rows.map((r) => ({
      kind: 'kb_index',
      tenantId: r.tenantId,
      knowledgeBaseId: r.knowledgeBaseId,
      documentId: r.id,
      version: r.version,
    }));
    await env.EVENTS.sendBatch(jobs.map((body) => ({ body, contentType: 'json' as const })));
    // Only the versions just sent, still queued: a document re-uploaded meanwhile keeps its own timestamp.
    const [first, ...rest] = rows.map((r) =>
      db
        .update(knowledgeDocuments)
        .set({ updatedAt: now.toISOString() })
        .where(and(eq(knowledgeDocuments.id, r.id), eq(knowledgeDocuments.version, r.version), eq(knowledgeDocuments.status, 'queued'))),
    );
    await db.batch([first!, ...rest]);
    return { requeued: rows.length };
  },
};

export const KNOWLEDGE_SWEEP_JOBS: SweepJob[] = [requeueKnowledgeDocuments];
