/**
 * The LLM call contract shared by the provider clients (OpenAI-compatible HTTP,
 * Workers AI), the failover loop and the `llm` node. Clients know nothing of
 * flows: they take one request, stream text through `onDelta`, and either
 * answer or throw an `LlmCallError` that says whether another try may succeed.
 */

export type ProviderKind = 'openai' | 'workers-ai';

/** Our model alias → the provider's model id, with optional prices in USD per 1M tokens. */
export type ModelMap = Record<string, { model: string; inputCostPer1M?: number | undefined; outputCostPer1M?: number | undefined }>;

/** A function call a model asked for; `input` is the parsed arguments (the raw text when they were not JSON). */
export interface ChatToolCall {
  /** The provider's call id ('' when it gave none). */
  id: string;
  name: string;
  input: unknown;
}

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant' | 'tool';
  content: string;
  /** An assistant message's function calls. */
  toolCalls?: ChatToolCall[] | undefined;
  /** A tool message: the call it answers, and the tool's name. */
  toolCallId?: string | undefined;
  name?: string | undefined;
}

/** A function the model may call. */
export interface ChatTool {
  name: string;
  description: string;
  /** JSON Schema of the arguments (an object schema). */
  inputSchema: Record<string, unknown>;
}

export interface ChatRequest {
  /** The provider's model id (already resolved from our alias). */
  model: string;
  messages: ChatMessage[];
  temperature?: number | undefined;
  maxTokens?: number | undefined;
  /** Function calling: the tools offered (absent or empty = a plain completion). */
  tools?: ChatTool[] | undefined;
}

export interface ChatOptions {
  /** Aborted when the node times out or the run is cancelled. */
  signal: AbortSignal;
  /** Budget for this one attempt, stream included. */
  timeoutMs: number;
  /** Sent as `Idempotency-Key` / `X-Request-Id` so a provider (or a proxy) can dedupe retries. */
  idempotencyKey: string;
  /** Called with each text fragment as it arrives. */
  onDelta(text: string): void;
}

export interface TokenUsage {
  inputTokens: number;
  outputTokens: number;
  /** True when the provider reported no usage and the counts are estimated from text length. */
  estimated: boolean;
}

export interface ChatAnswer {
  text: string;
  usage: TokenUsage;
  finishReason: string | null;
  /** The function calls the model asked for (empty when it answered in text). */
  toolCalls?: ChatToolCall[];
}

/** Parsed function-call arguments: the JSON value, or the raw text when it is not JSON. */
export function parseArguments(raw: unknown): unknown {
  if (typeof raw !== 'string') return raw ?? {};
  if (raw.trim() === '') return {};
  try {
    return JSON.parse(raw);
  } catch {
    return raw;
  }
}

export interface LlmClient {
  chat(request: ChatRequest, options: ChatOptions): Promise<ChatAnswer>;
}

export type LlmFailureKind = 'http_429' | 'http_5xx' | 'http_4xx' | 'network' | 'timeout' | 'cancelled' | 'provider';

/** One failed attempt. `retryable`: the same request may succeed later or elsewhere (failover continues). */
export class LlmCallError extends Error {
  constructor(
    readonly kind: LlmFailureKind,
    message: string,
    readonly retryable: boolean,
    readonly extra: { status?: number; retryAfterMs?: number } = {},
  ) {
    super(message);
    this.name = 'LlmCallError';
  }
}

/** A provider as the node uses it: decrypted key, never serialized or logged. */
export interface ResolvedProvider {
  id: string;
  name: string;
  kind: ProviderKind;
  baseUrl: string | null;
  apiKey: string | null;
  models: ModelMap;
}

/** Rough token estimate (~4 characters per token) for providers that report no usage. */
export function estimateTokens(text: string): number {
  return Math.ceil(text.length / 4);
}

/** The provider's reported usage (OpenAI field names), or an estimate flagged as such. */
export function usageFrom(
  reported: { prompt_tokens?: number; completion_tokens?: number } | null | undefined,
  request: ChatRequest,
  text: string,
): TokenUsage {
  if (reported && typeof reported.prompt_tokens === 'number' && typeof reported.completion_tokens === 'number') {
    return { inputTokens: reported.prompt_tokens, outputTokens: reported.completion_tokens, estimated: false };
  }
  return {
    inputTokens: estimateTokens(request.messages.map((m) => m.content).join('\n')),
    outputTokens: estimateTokens(text),
    estimated: true,
  };
}
