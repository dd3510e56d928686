/**
 * Model drivers for the agent loop (src/agents/contract.ts ModelDriver): function calling over the
 * tenant's providers through the llm node's failover (OpenAI-compatible and Workers AI clients), or
 * the deterministic router model when the agent names no provider or the tenant has none.
 */
import { count } from 'drizzle-orm';
import { type Db, getDb } from '../db/client';
import { llmProviders } from '../db/schema';
import { TenantScope } from '../db/tenant-scope';
import { chatWithFailover, FailoverError, type FailoverProvider } from '../flows/llm/failover';
import { llmKeyBox } from '../flows/llm/key-box';
import { openAiClient } from '../flows/llm/openai';
import { loadProviders, ProviderKeyUnreadable, ProvidersNotFound } from '../flows/llm/providers-service';
import type { ChatMessage, ResolvedProvider } from '../flows/llm/types';
import { type AiRunner, workersAiClient } from '../flows/llm/workers-ai';
import { type ExecContext, NodeError } from '../flows/nodes/types';
import type { AgentMessage, AgentSpec, ModelDriver } from './contract';
import { routerModelFactory } from './router-slot';

/** Budget per provider attempt, stream included (the node's own timeout bounds the whole loop). */
export const DEFAULT_MODEL_TIMEOUT_MS = 60_000;

/** Function calling over providers in failover order; failures become the llm node's NodeErrors. */
export function failoverDriver(providers: FailoverProvider[], alias: string, timeoutMs: number, label: string): ModelDriver {
  return {
    name: providers.map((p) => p.name).join(' → '),
    async next(req) {
      try {
        const answer = await chatWithFailover(
          providers,
          { alias, messages: chatMessages(req.messages), temperature: req.temperature, tools: req.tools },
          {
            signal: req.signal,
            timeoutMs,
            idempotencyKey: req.idempotencyKey ?? '',
            onDelta: req.onDelta,
            onReset: (next) => req.onReset?.(next),
          },
        );
        const { inputTokens, outputTokens, costUsd, estimated } = answer.usage;
        return {
          text: answer.text,
          toolCalls: answer.toolCalls,
          usage: { inputTokens, outputTokens, costUsd, ...(estimated ? { estimated } : {}) },
          provider: answer.provider,
          model: answer.model,
        };
      } catch (err) {
        if (!(err instanceof FailoverError)) throw err;
        throw new NodeError(err.kind === 'no_provider' ? 'provider' : err.kind, `${label}: ${err.message}`, err.retryable, {
          attempts: err.attempts,
          ...(err.retryAfterMs !== undefined ? { retryAfter: Math.ceil(err.retryAfterMs / 1000) } : {}),
        });
      }
    },
  };
}

/** Our conversation as the LLM clients take it (tool results carry the tool's name, which Workers AI wants). */
function chatMessages(messages: AgentMessage[]): ChatMessage[] {
  const names = new Map<string, string>();
  for (const m of messages) for (const c of m.toolCalls ?? []) names.set(c.id, c.name);
  return messages.map((m) => ({
    role: m.role,
    content: m.content,
    ...(m.toolCalls?.length ? { toolCalls: m.toolCalls } : {}),
    ...(m.role === 'tool' ? { toolCallId: m.toolCallId, name: names.get(m.toolCallId ?? '') ?? '' } : {}),
  }));
}

/** The driver an agent runs on: its providers, or the router model when it names none or the tenant has none. */
export async function driverFor(spec: AgentSpec, ctx: ExecContext, label: string, timeoutMs: number): Promise<ModelDriver> {
  const db = getDb(ctx.env.DB);
  if (spec.providers.length === 0 || !(await tenantHasProviders(db, ctx.tenantId))) return routerDriver(ctx, label);
  let resolved: ResolvedProvider[];
  try {
    resolved = await loadProviders(db, ctx.tenantId, spec.providers, llmKeyBox(ctx.env));
  } catch (err) {
    // Configuration problems: another attempt cannot fix them.
    if (err instanceof ProvidersNotFound) throw new NodeError('provider', `${label}: ${err.message}`, false, { missing: err.names });
    if (err instanceof ProviderKeyUnreadable)
      throw new NodeError('provider', `${label}: ${err.message}`, false, { provider: err.provider });
    throw err;
  }
  const clients = resolved.map(
    (p): FailoverProvider => ({
      name: p.name,
      models: p.models,
      client:
        p.kind === 'openai'
          ? openAiClient({ baseUrl: p.baseUrl ?? '', apiKey: p.apiKey })
          : workersAiClient((ctx.env as { AI?: unknown }).AI as AiRunner | undefined),
    }),
  );
  return failoverDriver(clients, spec.model ?? '', timeoutMs, label);
}

async function tenantHasProviders(db: Db, tenantId: string): Promise<boolean> {
  const row = await db.select({ n: count() }).from(llmProviders).where(new TenantScope(db, tenantId).where(llmProviders)).get();
  return (row?.n ?? 0) > 0;
}

function routerDriver(ctx: ExecContext, label: string): ModelDriver {
  const factory = routerModelFactory();
  if (!factory)
    throw new NodeError(
      'provider',
      `${label}: the agent names no LLM provider (or the tenant has none) and no router model is installed; add a provider (POST /v1/llm/providers) and name it in the agent's providers`,
      false,
    );
  return factory({ tenantId: ctx.tenantId, now: new Date(), runInput: ctx.scope.input, initiator: ctx.initiator });
}
