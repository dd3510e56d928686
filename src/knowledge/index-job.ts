/**
 * The `kb_index` job (EVENTS queue): read the staged text of one document version from its shard,
 * extract and chunk it, embed the chunks (batched), and commit them to the shard, which swaps the
 * document's chunks in one transaction. Then the D1 row becomes `indexed` by compare-and-set on
 * its version, with `kb.document.indexed` in the same batch (so a redelivered job emits nothing).
 * Idempotent at every step: a duplicate finds the version committed (`already`), an overtaken job
 * finds a newer version (`stale`), a deleted document is `gone`. If the Worker or the object dies
 * mid-job the staged text is still in the shard and the redelivered message starts over.
 * Retryable failures (provider 5xx/429, network) throw for the queue's retry; permanent ones, and
 * any failure on the last delivery, mark the version `failed` with `kb.document.failed`.
 */
import { and, eq, type SQL, sql } from 'drizzle-orm';
import { getDb } from '../db/client';
import { knowledgeBases, knowledgeDocuments } from '../db/schema';
import { TenantScope } from '../db/tenant-scope';
import { controlEvent, forwardEvents, outboxInsertWhere } from '../events/outbox';
import { knowledgeShardStub } from '../lib/stubs';
import type { KbIndexJob } from '../queue/messages';
import { EmbeddingError, embed } from './embedders';
import { shardOf } from './knowledge-service';
import { type ContentType, chunkText, extractText } from './text';

const changed: SQL = sql`changes() > 0`;

export async function runIndexJob(
  env: Env,
  job: KbIndexJob,
  opts: { attempt: number; lastAttempt: boolean },
  now = () => new Date(),
): Promise<string> {
  const db = getDb(env.DB);
  const scope = new TenantScope(db, job.tenantId);
  const kb = await scope.select(knowledgeBases, eq(knowledgeBases.id, job.knowledgeBaseId)).get();
  if (!kb) return 'gone';
  const doc = await scope
    .select(knowledgeDocuments, and(eq(knowledgeDocuments.id, job.documentId), eq(knowledgeDocuments.knowledgeBaseId, kb.id)))
    .get();
  if (!doc || doc.version !== job.version) return doc ? 'stale' : 'gone';
  const shard = knowledgeShardStub(env, job.tenantId, kb.id, shardOf(doc.source, kb.shards));

  const fail = async (error: string) => {
    const at = now();
    const ev = controlEvent(
      job.tenantId,
      'kb.document.failed',
      { knowledgeBaseId: kb.id, documentId: doc.id, source: doc.source, version: job.version, error },
      at,
    );
    await db.batch([
      scope.update(
        knowledgeDocuments,
        { status: 'failed', error, updatedAt: at.toISOString() },
        and(eq(knowledgeDocuments.id, doc.id), eq(knowledgeDocuments.version, job.version), eq(knowledgeDocuments.status, 'queued')),
      ),
      outboxInsertWhere(db, ev, changed),
    ]);
    await forwardEvents(env, [ev], at);
    return 'failed';
  };

  const pending = await shard.pending(doc.id, job.version);
  let chunkCount: number;
  let usage = { embeddingTokens: 0, requests: 0 };
  if (pending.status === 'gone' || pending.status === 'stale') return pending.status;
  if (pending.status === 'already' || pending.doc === null) {
    // Committed by an earlier delivery that died before the D1 update: finish that update now.
    chunkCount = pending.chunks ?? doc.chunks;
  } else {
    const staged = pending.doc;
    let pieces: string[];
    try {
      const text = extractText(staged.text, staged.contentType as ContentType);
      pieces = chunkText(text, kb.chunking.maxTokens, kb.chunking.overlap);
    } catch (err) {
      return fail(`could not read the document: ${err instanceof Error ? err.message : String(err)}`);
    }
    if (pieces.length === 0) return fail('the document has no text');
    let vectors: number[][];
    try {
      // The title is embedded with each chunk: it often carries the words a question uses.
      const e = await embed(
        env,
        job.tenantId,
        kb.embedding,
        pieces.map((p) => `${staged.title}\n${p}`),
      );
      vectors = e.vectors;
      usage = { embeddingTokens: e.usage.embeddingTokens, requests: e.usage.requests };
    } catch (err) {
      if (err instanceof EmbeddingError && (!err.retryable || opts.lastAttempt)) return fail(err.message);
      throw err;
    }
    const { outcome } = await shard.commit(
      doc.id,
      job.version,
      pieces.map((text, i) => ({ text, vector: vectors[i]! })),
    );
    if (outcome === 'gone' || outcome === 'stale') return outcome;
    if (outcome === 'full') return fail('the shard holding this document is full (50,000 chunks); use a knowledge base with more shards');
    chunkCount = pieces.length;
  }
  const at = now();
  const ev = controlEvent(
    job.tenantId,
    'kb.document.indexed',
    { knowledgeBaseId: kb.id, documentId: doc.id, source: doc.source, version: job.version, chunks: chunkCount, usage },
    at,
  );
  await db.batch([
    scope.update(
      knowledgeDocuments,
      {
        status: 'indexed',
        indexedVersion: job.version,
        chunks: chunkCount,
        error: null,
        indexedAt: at.toISOString(),
        updatedAt: at.toISOString(),
      },
      and(eq(knowledgeDocuments.id, doc.id), eq(knowledgeDocuments.version, job.version), eq(knowledgeDocuments.status, 'queued')),
    ),
    outboxInsertWhere(db, ev, changed),
  ]);
  await forwardEvents(env, [ev], at);
  return 'indexed';
}
