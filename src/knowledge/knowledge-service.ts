/**
 * Knowledge bases and their documents (docs/knowledge.md). The catalogue (bases, documents and
 * their status) is D1, read through the tenant scope; chunks, FTS and vectors live in the base's
 * KnowledgeShard objects (a document's shard is chosen by its source, so a re-upload lands on the
 * shard that holds the previous version and is swapped there in one transaction). An upload is
 * staged in its shard and indexed by a `kb_index` job on the EVENTS queue (src/knowledge/index-job.ts).
 */
import { and, desc, eq, lt } from 'drizzle-orm';
import { knowledgeBases, knowledgeDocuments } from '../db/schema';
import type { ServiceCtx } from '../lib/context';
import { newId } from '../lib/ids';
import { decodeCursor, type PageInput, toPage } from '../lib/pagination';
import { AppError } from '../lib/problem';
import { knowledgeShardStub } from '../lib/stubs';
import type { KbIndexJob } from '../queue/messages';
import { EmbeddingError } from './embedders';
import type { CreateKnowledgeBaseInput, UpdateKnowledgeBaseInput, UploadDocumentInput } from './schemas';
import { searchKnowledge } from './search';

type KbRow = typeof knowledgeBases.$inferSelect;
type DocRow = typeof knowledgeDocuments.$inferSelect;

export function kbView(row: KbRow) {
  return {
    id: row.id,
    name: row.name,
    embedding: row.embedding,
    chunking: row.chunking,
    shards: row.shards,
    createdBy: row.createdBy,
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
  };
}

export function documentView(row: DocRow) {
  return {
    id: row.id,
    knowledgeBaseId: row.knowledgeBaseId,
    source: row.source,
    title: row.title,
    contentType: row.contentType,
    metadata: row.metadata,
    status: row.status,
    version: row.version,
    indexedVersion: row.indexedVersion,
    bytes: row.bytes,
    chunks: row.chunks,
    error: row.error,
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
    indexedAt: row.indexedAt,
  };
}

/** The shard holding `source` (FNV-1a of the source modulo the base's shard count). */
export function shardOf(source: string, shards: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < source.length; i++) {
    h ^= source.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0) % shards;
}

export async function createKnowledgeBase(ctx: ServiceCtx, input: CreateKnowledgeBaseInput) {
  const now = ctx.now.toISOString();
  const row = {
    id: newId('kb', ctx.now.getTime()),
    name: input.name,
    embedding: input.embedding,
    chunking: input.chunking,
    shards: input.shards,
    createdBy: ctx.actor.id,
    createdAt: now,
    updatedAt: now,
  };
  await ctx.scope.insert(knowledgeBases, row).run();
  return kbView({ ...row, tenantId: ctx.tenantId });
}

export async function listKnowledgeBases(ctx: ServiceCtx, { limit, cursor }: PageInput) {
  const after = decodeCursor(cursor);
  const rows = (await ctx.scope
    .select(knowledgeBases, after ? lt(knowledgeBases.id, after) : undefined)
    .orderBy(desc(knowledgeBases.id))
    .limit(limit + 1)
    .all()) as KbRow[];
  const page = toPage(rows, limit, (r) => r.id);
  return { data: page.data.map(kbView), nextCursor: page.nextCursor };
}

export async function loadKnowledgeBase(ctx: Pick<ServiceCtx, 'scope'>, id: string): Promise<KbRow> {
  const row = (await ctx.scope.select(knowledgeBases, eq(knowledgeBases.id, id)).get()) as KbRow | undefined;
  if (!row) throw new AppError('not_found', `Knowledge base ${id} not found.`);
  return row;
}

export async function getKnowledgeBase(ctx: ServiceCtx, { id }: { id: string }) {
  return kbView(await loadKnowledgeBase(ctx, id));
}

export async function updateKnowledgeBase(ctx: ServiceCtx, { id, ...input }: UpdateKnowledgeBaseInput & { id: string }) {
  const row = await loadKnowledgeBase(ctx, id);
  const set = {
    ...(input.name !== undefined ? { name: input.name } : {}),
    ...(input.chunking !== undefined ? { chunking: input.chunking } : {}),
    updatedAt: ctx.now.toISOString(),
  };
  await ctx.scope.update(knowledgeBases, set, eq(knowledgeBases.id, id)).run();
  return kbView({ ...row, ...set });
}

/** Empties every shard, then removes the base and (by cascade) its documents. */
export async function deleteKnowledgeBase(ctx: ServiceCtx, { id }: { id: string }): Promise<void> {
  const row = await loadKnowledgeBase(ctx, id);
  await Promise.all(Array.from({ length: row.shards }, (_, s) => knowledgeShardStub(ctx.env, ctx.tenantId, id, s).drop()));
  await ctx.scope.delete(knowledgeBases, eq(knowledgeBases.id, id)).run();
}

/**
 * Accepts a document: the row (new, or the same source's next version), the text staged in its
 * shard, then the `kb_index` job. The previous version stays searchable until the new one is indexed.
 */
export async function uploadDocument(ctx: ServiceCtx, { knowledgeBaseId, ...input }: UploadDocumentInput & { knowledgeBaseId: string }) {
  const kb = await loadKnowledgeBase(ctx, knowledgeBaseId);
  const now = ctx.now.toISOString();
  const title = input.title ?? input.source;
  const bytes = new TextEncoder().encode(input.content).length;
  let doc: DocRow | undefined;
  for (let attempt = 0; attempt < 3 && !doc; attempt++) {
    const existing = (await ctx.scope
      .select(knowledgeDocuments, and(eq(knowledgeDocuments.knowledgeBaseId, kb.id), eq(knowledgeDocuments.source, input.source)))
      .get()) as DocRow | undefined;
    const set = {
      title,
      contentType: input.contentType,
      metadata: input.metadata,
      status: 'queued' as const,
      bytes,
      error: null,
      updatedAt: now,
    };
    if (existing) {
      // Compare-and-set on the version: two concurrent re-uploads get distinct versions.
      const res = await ctx.scope
        .update(
          knowledgeDocuments,
          { ...set, version: existing.version + 1 },
          and(eq(knowledgeDocuments.id, existing.id), eq(knowledgeDocuments.version, existing.version)),
        )
        .run();
      if (res.meta.changes === 1) doc = { ...existing, ...set, version: existing.version + 1 };
    } else {
      const row = {
        id: newId('kdoc', ctx.now.getTime()),
        knowledgeBaseId: kb.id,
        source: input.source,
        ...set,
        version: 1,
        indexedVersion: null,
        chunks: 0,
        createdAt: now,
        indexedAt: null,
      };
      try {
        await ctx.scope.insert(knowledgeDocuments, row).run();
        doc = { ...row, tenantId: ctx.tenantId };
      } catch (err) {
        if (!/UNIQUE constraint failed/i.test(String(err instanceof Error ? `${err.message} ${String(err.cause ?? '')}` : err))) throw err;
      }
    }
  }
  if (!doc) throw new AppError('conflict', `Document ${input.source} is being uploaded concurrently; try again.`);
  await knowledgeShardStub(ctx.env, ctx.tenantId, kb.id, shardOf(doc.source, kb.shards)).stage({
    docId: doc.id,
    version: doc.version,
    source: doc.source,
    title,
    metadata: input.metadata,
    contentType: input.contentType,
    text: input.content,
    now,
  });
  const job: KbIndexJob = { kind: 'kb_index', tenantId: ctx.tenantId, knowledgeBaseId: kb.id, documentId: doc.id, version: doc.version };
  await ctx.env.EVENTS.send(job, { contentType: 'json' });
  return { documentId: doc.id, version: doc.version, status: 'queued' as const };
}

export async function listDocuments(ctx: ServiceCtx, { knowledgeBaseId, limit, cursor }: PageInput & { knowledgeBaseId: string }) {
  await loadKnowledgeBase(ctx, knowledgeBaseId);
  const after = decodeCursor(cursor);
  const rows = (await ctx.scope
    .select(
      knowledgeDocuments,
      and(eq(knowledgeDocuments.knowledgeBaseId, knowledgeBaseId), after ? lt(knowledgeDocuments.id, after) : undefined),
    )
    .orderBy(desc(knowledgeDocuments.id))
    .limit(limit + 1)
    .all()) as DocRow[];
  const page = toPage(rows, limit, (r) => r.id);
  return { data: page.data.map(documentView), nextCursor: page.nextCursor };
}

async function loadDocument(ctx: ServiceCtx, knowledgeBaseId: string, id: string): Promise<DocRow> {
  const row = (await ctx.scope
    .select(knowledgeDocuments, and(eq(knowledgeDocuments.knowledgeBaseId, knowledgeBaseId), eq(knowledgeDocuments.id, id)))
    .get()) as DocRow | undefined;
  if (!row) throw new AppError('not_found', `Document ${id} not found.`);
  return row;
}

export async function getDocument(ctx: ServiceCtx, { knowledgeBaseId, id }: { knowledgeBaseId: string; id: string }) {
  return documentView(await loadDocument(ctx, knowledgeBaseId, id));
}

/**
 * A document's indexed text, put back together from its chunks in order (the overlap between
 * neighbours is removed; where none is found they are joined by a newline). Whitespace inside a
 * chunk is kept; a chunk's leading and trailing whitespace is not.
 */
export async function readDocumentText(ctx: ServiceCtx, { knowledgeBaseId, id }: { knowledgeBaseId: string; id: string }) {
  const kb = await loadKnowledgeBase(ctx, knowledgeBaseId);
  const doc = await loadDocument(ctx, kb.id, id);
  const chunks = await knowledgeShardStub(ctx.env, ctx.tenantId, kb.id, shardOf(doc.source, kb.shards)).documentChunks(doc.id);
  return { document: documentView(doc), text: stitchChunks(chunks.map((c) => c.text)) };
}

/** Joins consecutive chunks, dropping the longest word-aligned suffix of one that starts the next. */
export function stitchChunks(chunks: string[]): string {
  let out = '';
  let prev = '';
  for (const chunk of chunks) {
    if (prev === '') {
      out = chunk;
    } else {
      let joined = false;
      for (let p = 1; p < prev.length; p++) {
        const len = prev.length - p;
        if (len > chunk.length || !/\s/.test(prev[p - 1]!)) continue;
        if (len < chunk.length && !/\s/.test(chunk[len]!)) continue;
        if (prev.slice(p) === chunk.slice(0, len)) {
          out += chunk.slice(len);
          joined = true;
          break;
        }
      }
      if (!joined) out += `\n${chunk}`;
    }
    prev = chunk;
  }
  return out;
}

/** Removes the chunks first (gone from the next query), then the row; a queued job for it finds nothing to do. */
export async function deleteDocument(ctx: ServiceCtx, { knowledgeBaseId, id }: { knowledgeBaseId: string; id: string }): Promise<void> {
  const kb = await loadKnowledgeBase(ctx, knowledgeBaseId);
  const doc = await loadDocument(ctx, kb.id, id);
  await knowledgeShardStub(ctx.env, ctx.tenantId, kb.id, shardOf(doc.source, kb.shards)).deleteDocument(doc.id);
  await ctx.scope.delete(knowledgeDocuments, eq(knowledgeDocuments.id, doc.id)).run();
}

export async function queryKnowledgeBase(
  ctx: ServiceCtx,
  input: {
    knowledgeBaseId: string;
    query: string;
    topK: number;
    mode: 'hybrid' | 'vector' | 'keyword';
    filter?: { metadata?: Record<string, string | number | boolean> } | undefined;
  },
) {
  const kb = await loadKnowledgeBase(ctx, input.knowledgeBaseId);
  try {
    return await searchKnowledge(ctx.env, ctx.tenantId, kb, input);
  } catch (err) {
    if (err instanceof EmbeddingError) {
      throw new AppError(err.retryable ? 'service_unavailable' : 'validation_failed', `Embedding the query failed: ${err.message}`);
    }
    throw err;
  }
}
