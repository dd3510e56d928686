/**
 * retrieve: searches one of the tenant's knowledge bases (docs/knowledge.md). `query` is a JSONata
 * expression over the run (e.g. `input.question`); the output is `{ results }` as the query API
 * answers them, best first. Embedding tokens are counted in the node's usage.
 */
import { z } from 'zod';
import { EmbeddingError } from '../../knowledge/embedders';
import { KnowledgeBaseMissing, retrieve } from '../../knowledge/retrieve';
import { MAX_TOP_K } from '../../knowledge/schemas';
import { defineNode, NodeError } from './types';

export const retrieveNode = defineNode({
  type: 'retrieve',
  config: z.strictObject({
    knowledgeBaseId: z.string().min(1).max(64),
    query: z.string().min(1).max(10_000).describe('JSONata expression giving the query text'),
    topK: z.number().int().min(1).max(MAX_TOP_K).default(5),
    mode: z.enum(['hybrid', 'vector', 'keyword']).default('hybrid'),
    filter: z.strictObject({ metadata: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])).optional() }).optional(),
  }),
  async run(config, ctx) {
    const value = await ctx.evaluate(config.query);
    const query = typeof value === 'string' ? value : value === undefined || value === null ? '' : JSON.stringify(value);
    if (query.trim() === '') throw new NodeError('expression', `retrieve: the query expression gave no text (${config.query})`, false);
    try {
      const out = await retrieve(ctx.env, ctx.tenantId, config.knowledgeBaseId, {
        query: query.slice(0, 4000),
        topK: config.topK,
        mode: config.mode,
        filter: config.filter,
      });
      if (out.usage.embeddingTokens > 0) {
        ctx.addUsage({
          provider: out.embedding.provider,
          model: out.embedding.model,
          inputTokens: out.usage.embeddingTokens,
          outputTokens: 0,
          costUsd: 0,
        });
      }
      return { status: 'succeeded', output: { results: out.results } };
    } catch (err) {
      if (err instanceof KnowledgeBaseMissing) throw new NodeError('error', `retrieve: ${err.message}`, false);
      if (err instanceof EmbeddingError) throw new NodeError('provider', `retrieve: ${err.message}`, err.retryable);
      throw err;
    }
  },
});
