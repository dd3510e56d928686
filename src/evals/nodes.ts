/**
 * The two node types an experiment's run is made of (internal: refused in tenants' flows).
 * `experiment_examples` runs every example as a child run of the target (a flow version, or a saved
 * agent's version as a one-node flow, its input mapped to the conversation), with the
 * experiment's concurrency, and collects the outcomes whatever they are (a failed child is an
 * errored example, never a failed experiment). `experiment_evaluate` grades each answer with the
 * evaluators and hands results and scores to the tenant's hub in one call, which stores the scores
 * as feedback (`source: eval`) and emits `experiment.completed`, once.
 */
import { z } from 'zod';
import type { FeedbackWrite } from '../feedback/model';
import { NO_ATTRIBUTES } from '../feedback/model';
import { answeringNode, outputAttributes } from '../feedback/targets';
import { type ChildOutcome, defineNode, NodeError } from '../flows/nodes/types';
import { runState } from '../flows/run-lookup';
import { tenantHubStub } from '../lib/stubs';
import { answerOf, pick, scoreSample } from './evaluators';
import { tenantJudge } from './judge';
import type { EvalScore, ExampleResult, ExperimentRunInput } from './model';
import { agentAnswer, agentInput } from './targets';

export const EXAMPLES_NODE = 'examples';
export const EVALUATE_NODE = 'evaluate';

export const experimentExamplesNode = defineNode({
  type: 'experiment_examples',
  internal: true,
  startsChildRuns: true,
  // A flow target names `flowId` and `version`; an agent target names `agent` (src/evals/targets.ts).
  config: z
    .strictObject({
      flowId: z.string().min(1).max(64).optional(),
      version: z.number().int().min(1).optional(),
      agent: z.strictObject({ agentId: z.string().min(1).max(64), version: z.number().int().min(1) }).optional(),
      concurrency: z.number().int().min(1).max(100),
    })
    .refine((c) => (c.agent === undefined) !== (c.flowId === undefined), { message: 'exactly one of flowId and agent' }),
  async run(config, ctx) {
    const input = ctx.scope.input as ExperimentRunInput;
    const childInput = config.agent ? agentInput : (v: unknown) => v;
    return { status: 'succeeded', output: { children: input.examples.map((e) => ({ input: childInput(e.input) })) } };
  },
  collectChildren: (children: ChildOutcome[]) =>
    children.map((c) => ({ runId: c.runId, status: c.status, output: c.output ?? null, error: c.error ?? null })),
});

/** Runs `fn` over `items` with at most `limit` at a time, results in order. */
async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

const scored = (s: EvalScore): s is Extract<EvalScore, { score: number }> => 'score' in s;

export const experimentEvaluateNode = defineNode({
  type: 'experiment_evaluate',
  internal: true,
  config: z.strictObject({}),
  async run(_config, ctx) {
    const input = ctx.scope.input as ExperimentRunInput;
    const children = (ctx.scope.nodes[EXAMPLES_NODE]?.output ?? []) as Array<ChildOutcome & { output: unknown }>;
    const judge = tenantJudge(ctx.env, ctx.tenantId, { signal: ctx.signal, idempotencyKey: ctx.idempotencyKey });
    const ratings: FeedbackWrite[] = [];
    const agent = input.target.kind === 'agent' ? input.target : null;
    const results = await mapLimit(input.examples, 4, async (example, index): Promise<ExampleResult> => {
      const child = children[index];
      const view = child?.runId ? await runState(ctx.env, child.runId) : null;
      const output = child?.status === 'succeeded' ? (agent ? agentAnswer(answerOf(child.output)) : answerOf(child.output)) : null;
      const base = {
        exampleId: example.id,
        index,
        runId: child?.runId ?? null,
        input: example.input,
        expected: example.expected,
        output,
        durationMs: view?.durationMs ?? null,
        costUsd: view ? view.usage.costUsd : null,
      };
      if (child?.status !== 'succeeded')
        return { ...base, status: 'errored', error: child?.error ?? `the example's run ${child?.status ?? 'never started'}`, scores: {} };
      const scores: Record<string, EvalScore> = {};
      for (const e of input.evaluators) {
        const sample = {
          exampleId: example.id,
          input: example.input,
          expected: example.expected,
          actual: pick(output, e.field),
          durationMs: base.durationMs,
          costUsd: base.costUsd,
        };
        try {
          scores[e.key] = await scoreSample(e, sample, judge);
        } catch (err) {
          if (ctx.signal.aborted) throw err;
          scores[e.key] = { error: err instanceof Error ? err.message : String(err) };
        }
      }
      const answer = view ? answeringNode(view) : null;
      const attributes = {
        ...NO_ATTRIBUTES,
        runId: child.runId,
        ...(input.target.kind === 'flow' ? { flowId: input.target.flowId, flowVersion: input.target.version } : {}),
        ...(answer ? { nodeId: answer.id, ...outputAttributes(answer.output) } : {}),
        ...(agent ? { agentId: agent.agentId } : {}),
      };
      for (const [key, s] of Object.entries(scores))
        if (scored(s))
          ratings.push({
            target: { type: 'run', id: child.runId! },
            attributes,
            key,
            score: s.score,
            comment: s.detail ?? null,
            source: 'eval',
            actor: { type: 'experiment', id: input.experimentId },
          });
      return { ...base, status: 'ok', error: null, scores };
    });
    const done = await tenantHubStub(ctx.env, ctx.tenantId).completeExperiment(ctx.tenantId, input.experimentId, results, ratings);
    if (!done.ok) throw new NodeError('error', `experiment ${input.experimentId}: ${done.detail}`, false);
    return { status: 'succeeded', output: { summary: done.value.summary } };
  },
});
