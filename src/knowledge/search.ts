/**
 * The query path (docs/knowledge.md "Query"): embed the query once, ask every shard in parallel
 * for its best `k` by BM25 and by cosine, merge each list across shards by score, and rank:
 * keyword by BM25, vector by cosine, hybrid by reciprocal rank fusion of the two merged lists.
 * Used by the HTTP route, the `retrieve` node and the agents' knowledge tool.
 */
import type { ShardChunk, ShardHit } from '../../durable-objects/knowledge-shard/knowledge-shard';
import type { knowledgeBases } from '../db/schema';
import { knowledgeShardStub } from '../lib/stubs';
import { embed } from './embedders';
import { ftsQuery, rrf } from './text';

type KbRow = typeof knowledgeBases.$inferSelect;

export interface SearchRequest {
  query: string;
  topK: number;
  mode: 'hybrid' | 'vector' | 'keyword';
  filter?: { metadata?: Record<string, string | number | boolean> | undefined } | undefined;
}

export interface SearchResult {
  chunkId: string;
  documentId: string;
  title: string;
  source: string;
  text: string;
  metadata: Record<string, string | number | boolean>;
  score: number;
  scores: { bm25: number | null; vector: number | null };
}

/** How many candidates each list contributes to the fusion (more than topK so fusion can reorder). */
const HYBRID_CANDIDATES = 50;

export async function searchKnowledge(
  env: Env,
  tenantId: string,
  kb: KbRow,
  req: SearchRequest,
): Promise<{ results: SearchResult[]; usage: { embeddingTokens: number } }> {
  const wantVector = req.mode !== 'keyword';
  const wantKeyword = req.mode !== 'vector';
  let vector: number[] | null = null;
  let embeddingTokens = 0;
  if (wantVector) {
    const e = await embed(env, tenantId, kb.embedding, [req.query]);
    vector = e.vectors[0]!;
    embeddingTokens = e.usage.embeddingTokens;
  }
  const fts = wantKeyword ? ftsQuery(req.query) : null;
  const k = req.mode === 'hybrid' ? Math.max(req.topK, HYBRID_CANDIDATES) : req.topK;
  const answers = await Promise.all(
    Array.from({ length: kb.shards }, (_, s) =>
      knowledgeShardStub(env, tenantId, kb.id, s).search({ vector, fts, k, metadata: req.filter?.metadata }),
    ),
  );
  const byScore = (a: ShardHit, b: ShardHit) => b.score - a.score || (a.chunkId < b.chunkId ? -1 : 1);
  const keyword = answers
    .flatMap((a) => a.keyword)
    .sort(byScore)
    .slice(0, k);
  const vectorHits = answers
    .flatMap((a) => a.vector)
    .sort(byScore)
    .slice(0, k);
  const chunks = new Map<string, ShardChunk>();
  for (const a of answers) for (const c of a.chunks) chunks.set(c.chunkId, c);
  const bm25 = new Map(keyword.map((h) => [h.chunkId, h.score]));
  const cos = new Map(vectorHits.map((h) => [h.chunkId, h.score]));

  let ranked: ShardHit[];
  if (req.mode === 'keyword') ranked = keyword;
  else if (req.mode === 'vector') ranked = vectorHits;
  else {
    const fused = rrf([keyword.map((h) => h.chunkId), vectorHits.map((h) => h.chunkId)]);
    ranked = [...fused].map(([chunkId, score]) => ({ chunkId, score })).sort(byScore);
  }
  const results: SearchResult[] = [];
  for (const h of ranked) {
    const c = chunks.get(h.chunkId);
    if (!c) continue;
    results.push({ ...c, score: h.score, scores: { bm25: bm25.get(h.chunkId) ?? null, vector: cos.get(h.chunkId) ?? null } });
    if (results.length >= req.topK) break;
  }
  return { results, usage: { embeddingTokens } };
}
