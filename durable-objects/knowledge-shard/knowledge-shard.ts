/**
 * KnowledgeShard: one shard of one knowledge base (addressed by tenant, knowledge base and
 * shard number, src/lib/stubs.ts). Its SQLite holds the documents routed to it (by source),
 * their chunks, an FTS5 index (BM25) and int8-quantized vectors searched by brute-force cosine
 * over an in-memory copy (rebuilt lazily after a write). Budget: SHARD_CHUNK_BUDGET chunks
 * (docs/knowledge.md "Capacity"). Every write is one transaction, so a re-upload swaps a
 * document's chunks atomically and a delete removes them from the next query on.
 */
import { DurableObject } from 'cloudflare:workers';
import { cosineQ, normalize, quantize } from '../../src/knowledge/text';
import { bindChunks } from '../../src/lib/bind-chunks';
import { migrateDoStorage } from '../shared/migrations';
import { KNOWLEDGE_MIGRATIONS } from './schema';

/** Chunks one shard holds: 50,000 × 768 dims int8 ≈ 38 MB of vectors in memory, well under an isolate's 128 MB. */
export const SHARD_CHUNK_BUDGET = 50_000;

export type MetadataValue = string | number | boolean;

export interface StageInput {
  docId: string;
  version: number;
  source: string;
  title: string;
  metadata: Record<string, MetadataValue>;
  contentType: string;
  text: string;
  now: string;
}

export interface PendingDoc {
  text: string;
  contentType: string;
  title: string;
  metadata: Record<string, MetadataValue>;
}

export type CommitOutcome = 'committed' | 'already' | 'stale' | 'gone' | 'full';

export interface SearchInput {
  /** Normalized query vector, or null for keyword only. */
  vector: number[] | null;
  /** A safe FTS5 expression (src/knowledge/text.ts ftsQuery), or null for vector only. */
  fts: string | null;
  k: number;
  metadata?: Record<string, MetadataValue>;
}

export interface ShardHit {
  chunkId: string;
  score: number;
}

export interface ShardChunk {
  chunkId: string;
  documentId: string;
  title: string;
  source: string;
  text: string;
  metadata: Record<string, MetadataValue>;
}

export interface SearchOutput {
  keyword: ShardHit[];
  vector: ShardHit[];
  chunks: ShardChunk[];
}

interface VectorCache {
  ids: string[];
  docs: string[];
  q: Int8Array;
  scales: Float32Array;
  dims: number;
}

export class KnowledgeShard extends DurableObject<Env> {
  #cache: VectorCache | null = null;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    void ctx.blockConcurrencyWhile(async () => {
      migrateDoStorage(ctx.storage, KNOWLEDGE_MIGRATIONS);
    });
  }

  get #sql() {
    return this.ctx.storage.sql;
  }

  /** Keeps an upload's text until its version is indexed. An older version than the stored one is ignored (false). */
  async stage(input: StageInput): Promise<boolean> {
    const row = this.#sql.exec<{ version: number }>('SELECT version FROM documents WHERE doc_id = ?', input.docId).toArray()[0];
    if (row && row.version > input.version) return false;
    const meta = JSON.stringify(input.metadata);
    if (row) {
      this.#sql.exec(
        `UPDATE documents SET version = ?, pending_text = ?, pending_type = ?, pending_title = ?, pending_metadata = ?, updated_at = ?
         WHERE doc_id = ?`,
        input.version,
        input.text,
        input.contentType,
        input.title,
        meta,
        input.now,
        input.docId,
      );
    } else {
      this.#sql.exec(
        `INSERT INTO documents (doc_id, source, title, metadata, version, indexed_version, pending_text, pending_type, pending_title, pending_metadata, updated_at)
         VALUES (?, ?, ?, ?, ?, NULL, ?, ?, ?, ?, ?)`,
        input.docId,
        input.source,
        input.title,
        meta,
        input.version,
        input.text,
        input.contentType,
        input.title,
        meta,
        input.now,
      );
    }
    return true;
  }

  /** The staged text of `version`; null when the document is gone, a newer version superseded it, or it is indexed already. */
  async pending(
    docId: string,
    version: number,
  ): Promise<{ status: 'pending' | 'already' | 'stale' | 'gone'; doc: PendingDoc | null; chunks?: number }> {
    const row = this.#sql
      .exec<{
        version: number;
        indexed_version: number | null;
        pending_text: string | null;
        pending_type: string | null;
        pending_title: string | null;
        pending_metadata: string | null;
      }>(
        'SELECT version, indexed_version, pending_text, pending_type, pending_title, pending_metadata FROM documents WHERE doc_id = ?',
        docId,
      )
      .toArray()[0];
    if (!row) return { status: 'gone', doc: null };
    if (row.indexed_version !== null && row.indexed_version >= version) {
      return {
        status: 'already',
        doc: null,
        chunks: this.#sql.exec<{ n: number }>('SELECT COUNT(*) AS n FROM chunks WHERE doc_id = ?', docId).one().n,
      };
    }
    if (row.version !== version || row.pending_text === null) return { status: 'stale', doc: null };
    return {
      status: 'pending',
      doc: {
        text: row.pending_text,
        contentType: row.pending_type ?? 'text',
        title: row.pending_title ?? '',
        metadata: JSON.parse(row.pending_metadata ?? '{}') as Record<string, MetadataValue>,
      },
    };
  }

  /**
   * Replaces the document's chunks with `version`'s in one transaction. Idempotent: a redelivered
   * job finds `already`; a job overtaken by a newer upload finds `stale`; a deleted document `gone`.
   */
  async commit(
    docId: string,
    version: number,
    chunks: Array<{ text: string; vector: number[] }>,
  ): Promise<{ outcome: CommitOutcome; total: number }> {
    const outcome = this.ctx.storage.transactionSync((): CommitOutcome => {
      const row = this.#sql
        .exec<{ version: number; indexed_version: number | null; pending_title: string | null; pending_metadata: string | null }>(
          'SELECT version, indexed_version, pending_title, pending_metadata FROM documents WHERE doc_id = ?',
          docId,
        )
        .toArray()[0];
      if (!row) return 'gone';
      if (row.indexed_version !== null && row.indexed_version >= version) return 'already';
      if (row.version !== version) return 'stale';
      const current = this.#sql.exec<{ n: number }>('SELECT COUNT(*) AS n FROM chunks').one().n;
      const mine = this.#sql.exec<{ n: number }>('SELECT COUNT(*) AS n FROM chunks WHERE doc_id = ?', docId).one().n;
      if (current - mine + chunks.length > SHARD_CHUNK_BUDGET) return 'full';
      this.#removeChunks(docId);
      chunks.forEach((c, i) => {
        const { q, scale } = quantize(normalize(c.vector));
        const chunkId = `${docId}:${version}:${i}`;
        const rowid = this.#sql
          .exec<{ seq: number }>(
            'INSERT INTO chunks (chunk_id, doc_id, ord, text, vector, scale) VALUES (?, ?, ?, ?, ?, ?) RETURNING seq',
            chunkId,
            docId,
            i,
            c.text,
            q.buffer,
            scale,
          )
          .one().seq;
        this.#sql.exec('INSERT INTO chunks_fts (rowid, text) VALUES (?, ?)', rowid, c.text);
      });
      this.#sql.exec(
        `UPDATE documents SET indexed_version = ?, title = COALESCE(pending_title, title), metadata = COALESCE(pending_metadata, metadata),
           pending_text = NULL, pending_type = NULL, pending_title = NULL, pending_metadata = NULL WHERE doc_id = ?`,
        version,
        docId,
      );
      return 'committed';
    });
    if (outcome === 'committed') this.#cache = null;
    return { outcome, total: this.#sql.exec<{ n: number }>('SELECT COUNT(*) AS n FROM chunks').one().n };
  }

  /** Removes the document and its chunks (the next query no longer sees them). */
  async deleteDocument(docId: string): Promise<boolean> {
    const existed = this.ctx.storage.transactionSync(() => {
      this.#removeChunks(docId);
      return this.#sql.exec('DELETE FROM documents WHERE doc_id = ?', docId).rowsWritten > 0;
    });
    this.#cache = null;
    return existed;
  }

  /** Everything this shard holds (its knowledge base was deleted). */
  async drop(): Promise<void> {
    this.#cache = null;
    await this.ctx.storage.deleteAll();
    // deleteAll drops the tables too; the object may be asked again (e.g. a stale job), so recreate them empty.
    migrateDoStorage(this.ctx.storage, KNOWLEDGE_MIGRATIONS);
  }

  /** The indexed chunks of a document in order (MCP fetch reassembles the text from them); empty when none. */
  async documentChunks(docId: string): Promise<Array<{ chunkId: string; text: string }>> {
    return this.#sql
      .exec<{ chunk_id: string; text: string }>('SELECT chunk_id, text FROM chunks WHERE doc_id = ? ORDER BY ord', docId)
      .toArray()
      .map((r) => ({ chunkId: r.chunk_id, text: r.text }));
  }

  async stats(): Promise<{ chunks: number; documents: number }> {
    return {
      chunks: this.#sql.exec<{ n: number }>('SELECT COUNT(*) AS n FROM chunks').one().n,
      documents: this.#sql.exec<{ n: number }>('SELECT COUNT(*) AS n FROM documents WHERE indexed_version IS NOT NULL').one().n,
    };
  }

  /** This shard's best `k` by BM25 and by cosine (each list best first), with the chunks either list names. */
  async search(input: SearchInput): Promise<SearchOutput> {
    const k = Math.max(1, Math.min(200, input.k));
    const { clause, params } = metadataClause(input.metadata);
    const keyword: ShardHit[] = [];
    if (input.fts !== null) {
      const rows = this.#sql
        .exec<{ chunk_id: string; rank: number }>(
          `SELECT c.chunk_id AS chunk_id, bm25(chunks_fts) AS rank FROM chunks_fts
           JOIN chunks c ON c.seq = chunks_fts.rowid
           WHERE chunks_fts MATCH ? ${clause ? `AND c.doc_id IN (SELECT doc_id FROM documents WHERE ${clause})` : ''}
           ORDER BY rank LIMIT ?`,
          input.fts,
          ...params,
          k,
        )
        .toArray();
      // bm25() is lower-is-better and negative; scores are reported positive.
      for (const r of rows) keyword.push({ chunkId: r.chunk_id, score: -r.rank });
    }
    const vector: ShardHit[] = [];
    if (input.vector !== null) {
      const cache = this.#vectors();
      const query = normalize(input.vector);
      if (cache.ids.length > 0 && query.length === cache.dims) {
        const allowed = clause
          ? new Set(
              this.#sql
                .exec<{ doc_id: string }>(`SELECT doc_id FROM documents WHERE ${clause}`, ...params)
                .toArray()
                .map((r) => r.doc_id),
            )
          : null;
        const top: ShardHit[] = [];
        for (let i = 0; i < cache.ids.length; i++) {
          if (allowed && !allowed.has(cache.docs[i]!)) continue;
          const score = cosineQ(query, cache.q, i * cache.dims, cache.scales[i]!);
          if (top.length < k || score > top[top.length - 1]!.score) {
            top.push({ chunkId: cache.ids[i]!, score });
            top.sort((a, b) => b.score - a.score);
            if (top.length > k) top.pop();
          }
        }
        vector.push(...top);
      }
    }
    const ids = [...new Set([...keyword, ...vector].map((h) => h.chunkId))];
    const chunks: ShardChunk[] = [];
    for (const slice of bindChunks(ids)) {
      const rows = this.#sql
        .exec<{ chunk_id: string; doc_id: string; text: string; title: string; source: string; metadata: string }>(
          `SELECT c.chunk_id, c.doc_id, c.text, d.title, d.source, d.metadata FROM chunks c JOIN documents d ON d.doc_id = c.doc_id
           WHERE c.chunk_id IN (${slice.map(() => '?').join(',')})`,
          ...slice,
        )
        .toArray();
      for (const r of rows) {
        chunks.push({
          chunkId: r.chunk_id,
          documentId: r.doc_id,
          title: r.title,
          source: r.source,
          text: r.text,
          metadata: JSON.parse(r.metadata) as Record<string, MetadataValue>,
        });
      }
    }
    return { keyword, vector, chunks };
  }

  #removeChunks(docId: string): void {
    this.#sql.exec('DELETE FROM chunks_fts WHERE rowid IN (SELECT seq FROM chunks WHERE doc_id = ?)', docId);
    this.#sql.exec('DELETE FROM chunks WHERE doc_id = ?', docId);
  }

  #vectors(): VectorCache {
    if (this.#cache) return this.#cache;
    const rows = this.#sql.exec<{ chunk_id: string; doc_id: string; vector: ArrayBuffer; scale: number }>(
      'SELECT chunk_id, doc_id, vector, scale FROM chunks ORDER BY seq',
    );
    const ids: string[] = [];
    const docs: string[] = [];
    const parts: Int8Array[] = [];
    const scales: number[] = [];
    let dims = 0;
    for (const r of rows) {
      const v = new Int8Array(r.vector);
      if (dims === 0) dims = v.length;
      if (v.length !== dims) continue;
      ids.push(r.chunk_id);
      docs.push(r.doc_id);
      parts.push(v);
      scales.push(r.scale);
    }
    const q = new Int8Array(ids.length * dims);
    parts.forEach((p, i) => {
      q.set(p, i * dims);
    });
    this.#cache = { ids, docs, q, scales: Float32Array.from(scales), dims };
    return this.#cache;
  }
}

/** `json_extract(metadata, '$."key"') = value` for each filter entry (booleans as SQLite's 1/0). */
function metadataClause(filter: Record<string, MetadataValue> | undefined): { clause: string; params: Array<string | number> } {
  const entries = Object.entries(filter ?? {});
  if (entries.length === 0) return { clause: '', params: [] };
  const params: Array<string | number> = [];
  const parts = entries.map(([key, value]) => {
    // Keys are [A-Za-z0-9_-] (src/knowledge/schemas.ts), so quoting needs no escaping.
    params.push(`$."${key}"`, typeof value === 'boolean' ? (value ? 1 : 0) : value);
    return 'json_extract(metadata, ?) = ?';
  });
  return { clause: parts.join(' AND '), params };
}
