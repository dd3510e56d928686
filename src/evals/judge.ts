/**
 * The `llm_judge` evaluator: a model grades an answer against a rubric, through the tenant's own
 * providers (failover order), at temperature 0 so a rerun asks the same question the same way.
 * The judge replies `{"score": 0..1, "reason": "…"}`; anything else is an errored score, never a
 * crashed experiment. The prompt layout (Rubric / Input / Expected / Output) is documented in
 * docs/evaluations.md.
 */
import { getDb } from '../db/client';
import { chatWithFailover, FailoverError, type FailoverProvider } from '../flows/llm/failover';
import { llmKeyBox } from '../flows/llm/key-box';
import { openAiClient } from '../flows/llm/openai';
import { parseJsonAnswer } from '../flows/llm/output';
import { loadProviders } from '../flows/llm/providers-service';
import type { ChatMessage } from '../flows/llm/types';
import { type AiRunner, workersAiClient } from '../flows/llm/workers-ai';
import type { Judge, Sample } from './evaluators';
import { canonical } from './evaluators';
import type { EvalScore, Evaluator } from './model';

const SYSTEM =
  'You grade the output of an AI system against a rubric. Reply with only a JSON object ' +
  '{"score": <number from 0 to 1, 1 = fully meets the rubric>, "reason": "<one sentence>"} and nothing else.';

const show = (v: unknown) => (v === undefined || v === null ? '(none)' : typeof v === 'string' ? v : canonical(v));

export function judgeMessages(rubric: string, s: Sample): ChatMessage[] {
  const user = `Rubric:\n${rubric}\n\nInput:\n${show(s.input)}\n\nExpected:\n${show(s.expected)}\n\nOutput:\n${show(s.actual)}`;
  return [
    { role: 'system', content: SYSTEM },
    { role: 'user', content: user },
  ];
}

/** A judge bound to a tenant's providers; each call is one chat completion. */
export function tenantJudge(env: Env, tenantId: string, deps: { signal: AbortSignal; idempotencyKey: string }): Judge {
  return async (e: Extract<Evaluator, { type: 'llm_judge' }>, s: Sample): Promise<EvalScore> => {
    try {
      const resolved = await loadProviders(getDb(env.DB), tenantId, e.providers, llmKeyBox(env));
      const providers: FailoverProvider[] = resolved.map((p) => ({
        name: p.name,
        models: p.models,
        client:
          p.kind === 'openai'
            ? openAiClient({ baseUrl: p.baseUrl ?? '', apiKey: p.apiKey })
            : workersAiClient((env as { AI?: unknown }).AI as AiRunner | undefined),
      }));
      const answer = await chatWithFailover(
        providers,
        { alias: e.model, messages: judgeMessages(e.rubric, s), temperature: 0 },
        {
          signal: deps.signal,
          timeoutMs: 60_000,
          idempotencyKey: `${deps.idempotencyKey}:${s.exampleId}:${e.key}`,
          onDelta: () => {},
          onReset: () => {},
        },
      );
      const parsed = parseJsonAnswer(answer.text);
      const score = parsed.ok ? (parsed.value as { score?: unknown }).score : undefined;
      if (typeof score !== 'number' || !Number.isFinite(score))
        return { error: `the judge did not answer a score: ${answer.text.slice(0, 200)}` };
      const clamped = Math.min(1, Math.max(0, score));
      const reason = parsed.ok ? (parsed.value as { reason?: unknown }).reason : undefined;
      return {
        score: clamped,
        passed: clamped >= e.passThreshold,
        ...(typeof reason === 'string' ? { detail: reason.slice(0, 500) } : {}),
      };
    } catch (err) {
      if (err instanceof FailoverError && err.kind === 'cancelled') throw err;
      return { error: `judge: ${err instanceof Error ? err.message : String(err)}` };
    }
  };
}
