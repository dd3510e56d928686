/** Request and response schemas for /v1/knowledge-bases (zod → OpenAPI). docs/knowledge.md. */
import { z } from '@hono/zod-openapi';

/** Largest document body accepted (characters of `content`); the request body limit (1 MiB) also applies. */
export const MAX_DOCUMENT_CHARS = 512 * 1024;
export const MAX_SHARDS = 16;
export const MAX_TOP_K = 50;

const MetadataKey = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'Letters, digits, _ and -, at most 64 characters');
const MetadataValue = z.union([z.string().max(500), z.number().finite(), z.boolean()]);
const Metadata = z
  .record(MetadataKey, MetadataValue)
  .refine((m) => Object.keys(m).length <= 32, 'At most 32 metadata entries')
  .openapi({ example: { team: 'support', year: 2026 } });

export const EmbeddingSchema = z
  .strictObject({
    provider: z
      .string()
      .regex(/^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/)
      .openapi({ description: '`local` (deterministic, offline only) or the name of one of your LLM providers', example: 'local' }),
    model: z
      .string()
      .trim()
      .min(1)
      .max(200)
      .openapi({ description: "A model alias of the provider, or the provider's model id", example: 'hashed-ngrams' }),
    dimensions: z.number().int().min(8).max(4096).openapi({ example: 256 }),
  })
  .openapi('KnowledgeEmbedding');

export const ChunkingSchema = z
  .strictObject({
    maxTokens: z.number().int().min(16).max(2048).openapi({ example: 200 }),
    overlap: z.number().int().min(0).max(512).openapi({ example: 30 }),
  })
  .refine((c) => c.overlap < c.maxTokens, { message: 'overlap must be smaller than maxTokens', path: ['overlap'] })
  .openapi('KnowledgeChunking');

export const CreateKnowledgeBaseBody = z
  .strictObject({
    name: z.string().trim().min(1).max(200),
    embedding: EmbeddingSchema.default({ provider: 'local', model: 'hashed-ngrams', dimensions: 256 }),
    chunking: ChunkingSchema.default({ maxTokens: 200, overlap: 30 }),
    shards: z
      .number()
      .int()
      .min(1)
      .max(MAX_SHARDS)
      .default(1)
      .openapi({ description: 'Shards the documents are spread over (by source); fixed at creation. Each holds up to 50,000 chunks.' }),
  })
  .openapi('CreateKnowledgeBaseRequest');
export type CreateKnowledgeBaseInput = z.infer<typeof CreateKnowledgeBaseBody>;

export const UpdateKnowledgeBaseBody = z
  .strictObject({
    name: z.string().trim().min(1).max(200).optional(),
    chunking: ChunkingSchema.optional().openapi({ description: 'Applies to documents uploaded from now on' }),
  })
  .openapi('UpdateKnowledgeBaseRequest');
export type UpdateKnowledgeBaseInput = z.infer<typeof UpdateKnowledgeBaseBody>;

export const KnowledgeBaseSchema = z
  .object({
    id: z.string().openapi({ example: 'kb_01hzy0000000000000000000000' }),
    name: z.string(),
    embedding: EmbeddingSchema,
    chunking: ChunkingSchema,
    shards: z.number().int(),
    createdBy: z.string(),
    createdAt: z.string().openapi({ format: 'date-time' }),
    updatedAt: z.string().openapi({ format: 'date-time' }),
  })
  .openapi('KnowledgeBase');

export const UploadDocumentBody = z
  .strictObject({
    source: z
      .string()
      .trim()
      .min(1)
      .max(1000)
      .openapi({ description: 'Identifies the document: uploading the same source again replaces it', example: 'handbook/refunds.md' }),
    title: z.string().trim().min(1).max(500).optional(),
    contentType: z.enum(['text', 'markdown', 'html', 'json']).default('text'),
    content: z
      .string()
      .min(1)
      .max(MAX_DOCUMENT_CHARS)
      .openapi({ description: `The document, at most ${MAX_DOCUMENT_CHARS} characters` }),
    metadata: Metadata.default({}),
  })
  .refine(
    (d) => {
      if (d.contentType !== 'json') return true;
      try {
        JSON.parse(d.content);
        return true;
      } catch {
        return false;
      }
    },
    { message: 'content is not valid JSON', path: ['content'] },
  )
  .openapi('UploadKnowledgeDocumentRequest');
export type UploadDocumentInput = z.infer<typeof UploadDocumentBody>;

export const DocumentAcceptedSchema = z
  .object({ documentId: z.string(), version: z.number().int(), status: z.literal('queued') })
  .openapi('KnowledgeDocumentAccepted');

export const KnowledgeDocumentSchema = z
  .object({
    id: z.string().openapi({ example: 'kdoc_01hzy0000000000000000000000' }),
    knowledgeBaseId: z.string(),
    source: z.string(),
    title: z.string(),
    contentType: z.enum(['text', 'markdown', 'html', 'json']),
    metadata: z.record(z.string(), MetadataValue),
    status: z
      .enum(['queued', 'indexed', 'failed'])
      .openapi({ description: 'Of the latest upload; while a re-upload is queued the previous version stays searchable' }),
    version: z.number().int(),
    indexedVersion: z.number().int().nullable(),
    bytes: z.number().int(),
    chunks: z.number().int(),
    error: z.string().nullable(),
    createdAt: z.string().openapi({ format: 'date-time' }),
    updatedAt: z.string().openapi({ format: 'date-time' }),
    indexedAt: z.string().nullable().openapi({ format: 'date-time' }),
  })
  .openapi('KnowledgeDocument');

export const QueryBody = z
  .strictObject({
    query: z
      .string()
      .min(1)
      .max(4000)
      .openapi({ description: 'Any text; search syntax in it is treated as words', example: 'how do refunds work?' }),
    topK: z.number().int().min(1).max(MAX_TOP_K).default(5),
    mode: z.enum(['hybrid', 'vector', 'keyword']).default('hybrid'),
    filter: z
      .strictObject({ metadata: Metadata.optional() })
      .optional()
      .openapi({ description: 'Documents whose metadata has every given value' }),
  })
  .openapi('KnowledgeQueryRequest');
export type QueryInput = z.infer<typeof QueryBody>;

export const QueryResultSchema = z
  .object({
    chunkId: z.string(),
    documentId: z.string(),
    title: z.string(),
    source: z.string(),
    text: z.string(),
    metadata: z.record(z.string(), MetadataValue),
    score: z.number().openapi({ description: 'hybrid: reciprocal rank fusion; vector: cosine; keyword: BM25' }),
    scores: z.object({ bm25: z.number().nullable(), vector: z.number().nullable() }),
  })
  .openapi('KnowledgeQueryResult');

export const QueryResponseSchema = z
  .object({
    results: z.array(QueryResultSchema),
    usage: z.object({ embeddingTokens: z.number().int() }),
  })
  .openapi('KnowledgeQueryResponse');

export const KbIdParam = z.object({
  knowledgeBaseId: z
    .string()
    .min(1)
    .max(64)
    .openapi({ param: { name: 'knowledgeBaseId', in: 'path' }, example: 'kb_01hzy0000000000000000000000' }),
});
export const DocIdParam = KbIdParam.extend({
  documentId: z
    .string()
    .min(1)
    .max(64)
    .openapi({ param: { name: 'documentId', in: 'path' }, example: 'kdoc_01hzy0000000000000000000000' }),
});
