/**
 * llm: one chat completion over the tenant's providers, in failover order.
 * `providers` is a static list or a routing-by-feedback policy (../llm/routing.ts), whose order is
 * chosen before each attempt and recorded in `node.started`. Renders `prompt`/`system` templates,
 * streams token deltas into the run's
 * events (`{ text }`; `{ reset: true, … }` when a provider failed mid-answer
 * and the next one starts over), records usage and cost, and — with
 * `outputSchema` — parses the answer as JSON and validates it (a mismatch is
 * a retryable `invalid_output`: models are not deterministic).
 * Output: `{ text, json?, provider, model, usage }`.
 */
import { z } from 'zod';
import { getDb } from '../../db/client';
import { chatWithFailover, FailoverError, type FailoverProvider } from '../llm/failover';
import { llmKeyBox } from '../llm/key-box';
import { openAiClient } from '../llm/openai';
import { parseJsonAnswer, schemaProblem, validateAgainst } from '../llm/output';
import { loadProviders, ProviderKeyUnreadable, ProvidersNotFound } from '../llm/providers-service';
import { type ProvidersConfig, ProvidersSchema, type Routing, resolveRouting } from '../llm/routing';
import type { ChatMessage, ResolvedProvider } from '../llm/types';
import { type AiRunner, workersAiClient } from '../llm/workers-ai';
import { defineNode, type ExecContext, NodeError } from './types';

const DEFAULT_TIMEOUT_MS = 60_000;

const OutputSchema = z
  .union([z.boolean(), z.record(z.string(), z.unknown())])
  .superRefine((schema, ctx) => {
    const problem = schemaProblem(schema);
    if (problem) ctx.addIssue({ code: 'custom', message: `Not a usable JSON Schema: ${problem}` });
  })
  .describe('JSON Schema the answer must satisfy (the answer is then parsed as JSON)');

export const llmConfigSchema = z.strictObject({
  providers: ProvidersSchema,
  model: z.string().min(1).max(100).describe("Model alias, looked up in each provider's model map"),
  prompt: z.string().min(1).max(100_000).describe('Template for the user message'),
  system: z.string().max(100_000).optional().describe('Template for the system message'),
  temperature: z.number().min(0).max(2).optional(),
  maxTokens: z.number().int().min(1).max(1_000_000).optional(),
  outputSchema: OutputSchema.optional(),
  timeoutMs: z.number().int().min(100).max(600_000).optional().describe('Budget per provider attempt, stream included (default 60 s)'),
});

export type LlmConfig = z.infer<typeof llmConfigSchema>;

export const llmNode = defineNode<LlmConfig>({
  type: 'llm',
  config: llmConfigSchema,
  /** Routing by feedback: the provider order is chosen (and recorded in `node.started`) before each attempt. */
  async prepare(config, ctx) {
    if (Array.isArray(config.providers)) return undefined;
    return { routing: await resolveRouting(ctx.env, ctx.tenantId, config.providers, Date.now()) };
  },
  async run(config, ctx) {
    const label = `llm '${ctx.nodeId}'`;
    const [prompt, system, order] = await Promise.all([
      ctx.render(config.prompt),
      config.system === undefined ? undefined : ctx.render(config.system),
      providerOrder(config.providers, ctx),
    ]);
    const providers = (await resolveProviders(order, ctx, label)).map((p) => clientFor(p, ctx));

    let answer: Awaited<ReturnType<typeof chatWithFailover>>;
    try {
      answer = await chatWithFailover(
        providers,
        {
          alias: config.model,
          messages: messagesOf(prompt, system, config.outputSchema),
          temperature: config.temperature,
          maxTokens: config.maxTokens,
        },
        {
          signal: ctx.signal,
          timeoutMs: config.timeoutMs ?? DEFAULT_TIMEOUT_MS,
          idempotencyKey: ctx.idempotencyKey,
          onDelta: (text) => ctx.emitDelta({ text }),
          onReset: (next) => ctx.emitDelta({ reset: true, reason: 'failover', provider: next }),
        },
      );
    } catch (err) {
      if (!(err instanceof FailoverError)) throw err;
      throw new NodeError(err.kind === 'no_provider' ? 'provider' : err.kind, `${label}: ${err.message}`, err.retryable, {
        attempts: err.attempts,
        // Seconds, the field the engine's retry delay honours (as for the http node's Retry-After).
        ...(err.retryAfterMs !== undefined ? { retryAfter: Math.ceil(err.retryAfterMs / 1000) } : {}),
      });
    }

    const { estimated, ...usage } = answer.usage;
    // Recorded before validation: the tokens were spent even if the answer is rejected.
    ctx.addUsage(usage);
    const output = {
      text: answer.text,
      provider: answer.provider,
      model: answer.model,
      usage: {
        inputTokens: usage.inputTokens,
        outputTokens: usage.outputTokens,
        costUsd: usage.costUsd,
        ...(estimated ? { estimated } : {}),
      },
    };
    if (config.outputSchema === undefined) return { status: 'succeeded', output };

    const parsed = parseJsonAnswer(answer.text);
    const problems = parsed.ok ? validateAgainst(config.outputSchema, parsed.value) : [parsed.problem];
    if (problems.length > 0) {
      const first = problems[0]!;
      throw new NodeError(
        'invalid_output',
        `${label}: the answer does not match outputSchema: ${first.path || '(root)'}: ${first.message}`,
        true,
        {
          problems,
          provider: answer.provider,
        },
      );
    }
    return { status: 'succeeded', output: { ...output, json: parsed.ok ? parsed.value : undefined } };
  },
});

/** The static list, or the feedback policy's order: as prepared for this attempt, else resolved now. */
async function providerOrder(providers: ProvidersConfig, ctx: ExecContext): Promise<string[]> {
  if (Array.isArray(providers)) return providers;
  const prepared = (ctx.prepared?.routing as Routing | undefined)?.order;
  return prepared ?? (await resolveRouting(ctx.env, ctx.tenantId, providers, Date.now())).order;
}

async function resolveProviders(names: string[], ctx: ExecContext, label: string): Promise<ResolvedProvider[]> {
  try {
    return await loadProviders(getDb(ctx.env.DB), ctx.tenantId, names, llmKeyBox(ctx.env));
  } catch (err) {
    // Configuration problems: another attempt cannot fix them.
    if (err instanceof ProvidersNotFound) throw new NodeError('provider', `${label}: ${err.message}`, false, { missing: err.names });
    if (err instanceof ProviderKeyUnreadable)
      throw new NodeError('provider', `${label}: ${err.message}`, false, { provider: err.provider });
    throw err;
  }
}

function clientFor(p: ResolvedProvider, ctx: ExecContext): FailoverProvider {
  const client =
    p.kind === 'openai'
      ? openAiClient({ baseUrl: p.baseUrl ?? '', apiKey: p.apiKey })
      : workersAiClient((ctx.env as { AI?: unknown }).AI as AiRunner | undefined);
  return { name: p.name, client, models: p.models };
}

function messagesOf(prompt: string, system: string | undefined, schema: unknown): ChatMessage[] {
  const parts = system !== undefined && system !== '' ? [system] : [];
  if (schema !== undefined) {
    parts.push(
      `Reply with only a JSON value (no prose, no code fences) that validates against this JSON Schema:\n${JSON.stringify(schema)}`,
    );
  }
  const messages: ChatMessage[] = parts.length > 0 ? [{ role: 'system', content: parts.join('\n\n') }] : [];
  messages.push({ role: 'user', content: prompt });
  return messages;
}
