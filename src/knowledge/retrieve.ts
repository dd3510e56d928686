/**
 * Retrieval for flows and agents (the `retrieve` node, the agents' `knowledge` tool): the tenant's
 * knowledge base by id, searched like POST /v1/knowledge-bases/{id}/query. A base that does not
 * exist in the tenant is `KnowledgeBaseMissing` (the caller turns it into its own failure).
 */
import { eq } from 'drizzle-orm';
import { getDb } from '../db/client';
import { knowledgeBases } from '../db/schema';
import { TenantScope } from '../db/tenant-scope';
import { type SearchRequest, type SearchResult, searchKnowledge } from './search';

export class KnowledgeBaseMissing extends Error {
  constructor(readonly knowledgeBaseId: string) {
    super(`Knowledge base ${knowledgeBaseId} not found`);
    this.name = 'KnowledgeBaseMissing';
  }
}

export async function knowledgeBaseOf(
  env: Env,
  tenantId: string,
  knowledgeBaseId: string,
): Promise<typeof knowledgeBases.$inferSelect | undefined> {
  return (await new TenantScope(getDb(env.DB), tenantId).select(knowledgeBases, eq(knowledgeBases.id, knowledgeBaseId)).get()) as
    | typeof knowledgeBases.$inferSelect
    | undefined;
}

export async function retrieve(
  env: Env,
  tenantId: string,
  knowledgeBaseId: string,
  req: SearchRequest,
): Promise<{ results: SearchResult[]; usage: { embeddingTokens: number }; embedding: { provider: string; model: string } }> {
  const kb = await knowledgeBaseOf(env, tenantId, knowledgeBaseId);
  if (!kb) throw new KnowledgeBaseMissing(knowledgeBaseId);
  const out = await searchKnowledge(env, tenantId, kb, req);
  return { ...out, embedding: { provider: kb.embedding.provider, model: kb.embedding.model } };
}
