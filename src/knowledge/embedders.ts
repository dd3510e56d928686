/**
 * Embedders (docs/knowledge.md "Embedders"). A knowledge base names one:
 *   - `local`: deterministic hashed character trigrams and words → `dimensions`, L2-normalized.
 *     Offline only: it exists so upload → index → query runs under `npm start` and `npm test`
 *     with no network; it matches spelling, not meaning, and is not for production quality.
 *   - the name of one of the tenant's LLM providers: kind `openai` → POST {baseUrl}/embeddings
 *     (OpenAI wire format, key decrypted as for `llm` nodes); kind `workers-ai` → the AI binding
 *     (deployed environments only).
 * Calls are batched (EMBED_BATCH inputs per request), retried on retryable failures, and return
 * the tokens they used (reported by the provider, else estimated at 4 characters per token).
 */

import { getDb } from '../db/client';
import { llmKeyBox } from '../flows/llm/key-box';
import { loadProviders } from '../flows/llm/providers-service';
import type { AiRunner } from '../flows/llm/workers-ai';
import { normalize, tokens } from './text';

export interface EmbeddingConfig {
  provider: string;
  model: string;
  dimensions: number;
}

export interface Embedded {
  vectors: number[][];
  usage: { embeddingTokens: number; requests: number; estimated: boolean };
}

export const LOCAL_PROVIDER = 'local';
export const EMBED_BATCH = 64;
const ATTEMPTS = 3;
const TIMEOUT_MS = 30_000;

/** Failures the caller may retry later (the queue) or report as the document's error. */
export class EmbeddingError extends Error {
  constructor(
    message: string,
    readonly retryable: boolean,
  ) {
    super(message);
    this.name = 'EmbeddingError';
  }
}

/** FNV-1a, 32 bits. */
function fnv(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** The deterministic local embedding of one text (same text, same vector, on every machine). */
export function localEmbedding(text: string, dims: number): number[] {
  const v = new Float32Array(dims);
  const add = (feature: string, weight: number) => {
    const h = fnv(feature);
    v[h % dims]! += (h & 0x80000000 ? -1 : 1) * weight;
  };
  for (const word of tokens(text)) {
    add(`w:${word}`, 1);
    const padded = ` ${word} `;
    for (let i = 0; i + 3 <= padded.length; i++) add(`c:${padded.slice(i, i + 3)}`, 0.5);
  }
  return Array.from(normalize(v));
}

export async function embed(env: Env, tenantId: string, config: EmbeddingConfig, texts: string[]): Promise<Embedded> {
  if (config.provider === LOCAL_PROVIDER) {
    return {
      vectors: texts.map((t) => localEmbedding(t, config.dimensions)),
      usage: { embeddingTokens: estimateTokens(texts), requests: 0, estimated: true },
    };
  }
  const [provider] = await loadProviders(getDb(env.DB), tenantId, [config.provider], llmKeyBox(env)).catch((err: unknown) => {
    throw new EmbeddingError(err instanceof Error ? err.message : String(err), false);
  });
  const model = provider!.models[config.model]?.model ?? config.model;
  const vectors: number[][] = [];
  let tokensUsed = 0;
  let estimated = false;
  let requests = 0;
  for (let i = 0; i < texts.length; i += EMBED_BATCH) {
    const batch = texts.slice(i, i + EMBED_BATCH);
    const answer = await withRetries(() =>
      provider!.kind === 'openai'
        ? openAiEmbeddings(provider!.baseUrl!, provider!.apiKey, model, config.dimensions, batch)
        : workersAiEmbeddings((env as unknown as { AI?: Partial<AiRunner> }).AI, model, batch),
    );
    requests++;
    for (const v of answer.vectors) {
      if (v.length !== config.dimensions) {
        throw new EmbeddingError(
          `embedding model '${model}' returned ${v.length} dimensions, the knowledge base expects ${config.dimensions}`,
          false,
        );
      }
      vectors.push(v);
    }
    if (answer.tokens === null) {
      tokensUsed += estimateTokens(batch);
      estimated = true;
    } else tokensUsed += answer.tokens;
  }
  return { vectors, usage: { embeddingTokens: tokensUsed, requests, estimated } };
}

function estimateTokens(texts: string[]): number {
  return texts.reduce((n, t) => n + Math.ceil(t.length / 4), 0);
}

async function withRetries<T>(fn: () => Promise<T>): Promise<T> {
  let last: unknown;
  for (let attempt = 1; attempt <= ATTEMPTS; attempt++) {
    try {
      return await fn();
    } catch (err) {
      last = err;
      if (!(err instanceof EmbeddingError) || !err.retryable) throw err;
      await new Promise((r) => setTimeout(r, 100 * 2 ** attempt));
    }
  }
  throw last;
}

async function openAiEmbeddings(
  baseUrl: string,
  apiKey: string | null,
  model: string,
  dimensions: number,
  input: string[],
): Promise<{ vectors: number[][]; tokens: number | null }> {
  const headers: Record<string, string> = { 'content-type': 'application/json', accept: 'application/json' };
  if (apiKey) headers.authorization = `Bearer ${apiKey}`;
  let res: Response;
  try {
    res = await fetch(`${baseUrl}/embeddings`, {
      method: 'POST',
      headers,
      body: JSON.stringify({ model, input, dimensions, encoding_format: 'float' }),
      redirect: 'manual',
      signal: AbortSignal.timeout(TIMEOUT_MS),
    });
  } catch (err) {
    throw new EmbeddingError(`embeddings request failed: ${err instanceof Error ? err.message : String(err)}`, true);
  }
  if (!res.ok) {
    const retryable = res.status === 429 || res.status === 408 || res.status >= 500;
    throw new EmbeddingError(`embeddings endpoint answered ${res.status}`, retryable);
  }
  const body = (await res.json().catch(() => null)) as {
    data?: Array<{ index?: number; embedding?: unknown }>;
    usage?: { prompt_tokens?: number; total_tokens?: number };
  } | null;
  const data = body?.data;
  if (!Array.isArray(data) || data.length !== input.length)
    throw new EmbeddingError('embeddings answer has no data for every input', false);
  const sorted = [...data].sort((a, b) => (a.index ?? 0) - (b.index ?? 0));
  const vectors = sorted.map((d) => {
    if (!Array.isArray(d.embedding) || !d.embedding.every((x) => typeof x === 'number'))
      throw new EmbeddingError('embeddings answer is not a list of numbers', false);
    return d.embedding as number[];
  });
  const t = body?.usage?.prompt_tokens ?? body?.usage?.total_tokens;
  return { vectors, tokens: typeof t === 'number' ? t : null };
}

async function workersAiEmbeddings(
  ai: Partial<AiRunner> | undefined,
  model: string,
  text: string[],
): Promise<{ vectors: number[][]; tokens: number | null }> {
  if (!ai || typeof ai.run !== 'function')
    throw new EmbeddingError('Workers AI is not available in this environment (remote binding only)', false);
  let out: unknown;
  try {
    out = await ai.run(model, { text }, { signal: AbortSignal.timeout(TIMEOUT_MS) });
  } catch (err) {
    throw new EmbeddingError(`Workers AI embeddings failed: ${err instanceof Error ? err.message : String(err)}`, true);
  }
  const data = (out as { data?: unknown } | null)?.data;
  if (!Array.isArray(data) || data.length !== text.length) throw new EmbeddingError('Workers AI answer has no data for every input', false);
  return { vectors: data as number[][], tokens: null };
}
