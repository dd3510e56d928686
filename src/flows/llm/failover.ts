/**
 * Ordered provider failover inside one node attempt: try each provider that
 * maps the model alias; on a retryable failure (429, 5xx, network, timeout)
 * move to the next; a non-retryable one (a bad request, a cancelled run) ends
 * the loop at once. The answer says which provider replied, with its usage
 * priced from that provider's model map.
 */
import type { Usage } from '../nodes/types';
import {
  type ChatMessage,
  type ChatTool,
  type ChatToolCall,
  LlmCallError,
  type LlmClient,
  type LlmFailureKind,
  type ModelMap,
} from './types';

export interface FailoverProvider {
  name: string;
  client: LlmClient;
  models: ModelMap;
}

export interface FailoverRequest {
  /** Our alias, looked up in each provider's model map. */
  alias: string;
  messages: ChatMessage[];
  temperature?: number | undefined;
  maxTokens?: number | undefined;
  /** Function calling: the tools offered. */
  tools?: ChatTool[] | undefined;
}

export interface FailoverOptions {
  signal: AbortSignal;
  /** Per provider attempt. */
  timeoutMs: number;
  idempotencyKey: string;
  onDelta(text: string): void;
  /** Called before moving on when the failed provider had already streamed text, which consumers must discard. */
  onReset(next: string): void;
}

/** What one provider did, for errors and diagnostics (never a key or a prompt). */
export interface AttemptRecord {
  provider: string;
  outcome: 'succeeded' | 'failed' | 'skipped';
  kind?: LlmFailureKind | 'model_not_mapped';
  status?: number;
  retryAfterMs?: number;
  message?: string;
  durationMs: number;
}

export interface FailoverAnswer {
  text: string;
  provider: string;
  /** The provider's model id that answered. */
  model: string;
  usage: Usage & { estimated: boolean };
  finishReason: string | null;
  /** The function calls the model asked for (empty when it answered in text). */
  toolCalls: ChatToolCall[];
  attempts: AttemptRecord[];
}

/** Every provider failed (or none could be tried). `retryable`: a later node attempt may succeed. */
export class FailoverError extends Error {
  constructor(
    readonly kind: LlmFailureKind | 'no_provider',
    message: string,
    readonly retryable: boolean,
    readonly attempts: AttemptRecord[],
    readonly retryAfterMs?: number,
  ) {
    super(message);
    this.name = 'FailoverError';
  }
}

export async function chatWithFailover(
  providers: FailoverProvider[],
  request: FailoverRequest,
  options: FailoverOptions,
): Promise<FailoverAnswer> {
  const attempts: AttemptRecord[] = [];
  let streamed = false;
  for (const provider of providers) {
    const entry = provider.models[request.alias];
    if (!entry) {
      attempts.push({ provider: provider.name, outcome: 'skipped', kind: 'model_not_mapped', durationMs: 0 });
      continue;
    }
    if (streamed) options.onReset(provider.name);
    streamed = false;
    const started = Date.now();
    try {
      const answer = await provider.client.chat(
        {
          model: entry.model,
          messages: request.messages,
          temperature: request.temperature,
          maxTokens: request.maxTokens,
          ...(request.tools?.length ? { tools: request.tools } : {}),
        },
        {
          signal: options.signal,
          timeoutMs: options.timeoutMs,
          idempotencyKey: options.idempotencyKey,
          onDelta: (text) => {
            streamed = true;
            options.onDelta(text);
          },
        },
      );
      attempts.push({ provider: provider.name, outcome: 'succeeded', durationMs: Date.now() - started });
      const { inputTokens, outputTokens, estimated } = answer.usage;
      const costUsd = priced(inputTokens, entry.inputCostPer1M) + priced(outputTokens, entry.outputCostPer1M);
      return {
        text: answer.text,
        provider: provider.name,
        model: entry.model,
        usage: { provider: provider.name, model: entry.model, inputTokens, outputTokens, costUsd: round(costUsd), estimated },
        finishReason: answer.finishReason,
        toolCalls: answer.toolCalls ?? [],
        attempts,
      };
    } catch (err) {
      const e = err instanceof LlmCallError ? err : new LlmCallError('provider', (err as Error)?.message ?? String(err), true);
      attempts.push({
        provider: provider.name,
        outcome: 'failed',
        kind: e.kind,
        ...(e.extra.status !== undefined ? { status: e.extra.status } : {}),
        ...(e.extra.retryAfterMs !== undefined ? { retryAfterMs: e.extra.retryAfterMs } : {}),
        message: e.message,
        durationMs: Date.now() - started,
      });
      if (e.kind === 'cancelled' || options.signal.aborted)
        throw new FailoverError('cancelled', `cancelled while calling provider '${provider.name}'`, false, attempts);
      if (!e.retryable) throw new FailoverError(e.kind, `provider '${provider.name}' refused the request: ${e.message}`, false, attempts);
    }
  }

  const tried = attempts.filter((a) => a.outcome === 'failed');
  if (tried.length === 0) {
    throw new FailoverError(
      'no_provider',
      `no provider in [${providers.map((p) => p.name).join(', ')}] maps model '${request.alias}'`,
      false,
      attempts,
    );
  }
  const waits = tried.map((a) => a.retryAfterMs).filter((ms): ms is number => ms !== undefined);
  const summary = tried.map((a) => `${a.provider}: ${a.message}`).join('; ');
  // Retry-After hints: the earliest moment any provider said it would take requests again.
  throw new FailoverError(
    tried[tried.length - 1]!.kind as LlmFailureKind,
    `all providers failed (${summary})`,
    true,
    attempts,
    waits.length > 0 ? Math.min(...waits) : undefined,
  );
}

function priced(tokens: number, perMillion: number | undefined): number {
  return perMillion === undefined ? 0 : (tokens * perMillion) / 1_000_000;
}

/** Avoids float noise like 0.30000000000000004 in stored costs. */
function round(usd: number): number {
  return Math.round(usd * 1e10) / 1e10;
}
