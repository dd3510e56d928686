/**
 * Experiments: run every example of a pinned dataset version on a target, grade the answers,
 * store the scores as feedback (`source: eval`), compare two experiments. An experiment runs on the
 * flow engine as a run of its own (two internal nodes, ./nodes.ts): each example is a child run of
 * the target, so it inherits retries, fairness (the experiment's run takes one of the tenant's
 * slots), streaming and cancellation; GET /v1/experiments/{id}/events is that run's event stream.
 */
import type { FlowDefinition } from '../flows/definition';
import { llmKeyBox } from '../flows/llm/key-box';
import { loadProviders, ProvidersNotFound } from '../flows/llm/providers-service';
import { cancelRun, streamRun } from '../flows/runs-api';
import { startRun } from '../flows/runs-service';
import type { ServiceCtx } from '../lib/context';
import { newId } from '../lib/ids';
import { decodeCursor, encodeCursor, type PageInput } from '../lib/pagination';
import { AppError } from '../lib/problem';
import { type Result, unwrap } from '../lib/result';
import { tenantHubStub } from '../lib/stubs';
import { examplesAt, getDataset } from './datasets-service';
import type { Evaluator, Experiment, ExperimentRunInput, ExperimentTarget, ExperimentWithResults } from './model';
import { EVALUATE_NODE, EXAMPLES_NODE } from './nodes';
import { compare } from './summary';
import { resolveExperimentTarget, type TargetInput } from './targets';

/** The run input (examples and evaluators) of one experiment stays under this size. */
export const MAX_EXPERIMENT_BYTES = 1 << 20;

const hub = (ctx: ServiceCtx) => tenantHubStub(ctx.env, ctx.tenantId);

function invalid(path: string, message: string, code: string): AppError {
  return new AppError('validation_failed', message, {
    errors: [{ in: 'body', path, pointer: `/${path.replace(/\[(\d+)\]/g, '.$1').replaceAll('.', '/')}`, message, code }],
  });
}

/** The definition of an experiment's run: the examples as child runs of the target, then the evaluation. */
function experimentDefinition(target: ExperimentTarget, concurrency: number): FlowDefinition {
  const examples =
    target.kind === 'agent'
      ? { agent: { agentId: target.agentId, version: target.version }, concurrency }
      : { flowId: target.flowId, version: target.version, concurrency };
  return {
    input: { type: 'object' },
    vars: {},
    nodes: [
      { id: EXAMPLES_NODE, type: 'experiment_examples', config: examples },
      {
        id: EVALUATE_NODE,
        type: 'experiment_evaluate',
        config: {},
        retry: { maxAttempts: 3, backoffMs: 1000, maxBackoffMs: 10_000 },
        timeoutMs: 15 * 60_000,
      },
    ],
    edges: [{ from: EXAMPLES_NODE, to: EVALUATE_NODE }],
    policy: { onFailure: 'fail_fast', timeoutMs: 24 * 3_600_000, maxParallel: 2 },
  };
}

export interface ExperimentInput {
  datasetId: string;
  datasetVersion?: number | undefined;
  target: TargetInput;
  evaluators: Array<Omit<Evaluator, 'key'> & { key?: string | undefined }>;
  concurrency: number;
}

export async function createExperiment(ctx: ServiceCtx, input: ExperimentInput): Promise<Experiment> {
  const dataset = await getDataset(ctx, { id: input.datasetId });
  const version = input.datasetVersion ?? dataset.version;
  if (version > dataset.version)
    throw invalid('datasetVersion', `Dataset ${dataset.id} has no version ${version} (latest: ${dataset.version}).`, 'unknown_version');
  if (version === 0) throw invalid('datasetId', `Dataset ${dataset.id} has no examples yet.`, 'empty_dataset');
  const examples = await examplesAt(ctx, { id: dataset.id, version });
  const target = await resolveExperimentTarget(ctx, input.target);
  const evaluators = input.evaluators.map((e) => ({ ...e, key: e.key ?? e.type }) as Evaluator);
  for (const [i, e] of evaluators.entries()) {
    if (e.type !== 'llm_judge') continue;
    try {
      await loadProviders(ctx.db, ctx.tenantId, e.providers, llmKeyBox(ctx.env));
    } catch (err) {
      if (err instanceof ProvidersNotFound) throw invalid(`evaluators[${i}].providers`, err.message, 'unknown_provider');
      throw err;
    }
  }
  const id = newId('exp');
  const runInput: ExperimentRunInput = {
    experimentId: id,
    examples: examples.map((e) => ({ id: e.id, input: e.input, expected: e.expected })),
    evaluators,
    target,
  };
  if (JSON.stringify(runInput).length > MAX_EXPERIMENT_BYTES)
    throw invalid(
      'datasetId',
      `The examples of dataset ${dataset.id} v${version} exceed ${MAX_EXPERIMENT_BYTES} bytes for one experiment.`,
      'too_large',
    );

  const runId = newId('run');
  const experiment: Experiment = {
    id,
    datasetId: dataset.id,
    datasetVersion: version,
    target,
    evaluators,
    concurrency: input.concurrency,
    status: 'running',
    runId,
    error: null,
    summary: null,
    createdBy: ctx.actor.id,
    createdAt: ctx.now.toISOString(),
    finishedAt: null,
  };
  // Recorded before the run starts (its keys created), so the run's report always finds it.
  const created = unwrap((await hub(ctx).createExperiment(ctx.tenantId, experiment)) as unknown as Result<Experiment>);
  const started = await startRun(ctx.env, {
    tenantId: ctx.tenantId,
    createdBy: ctx.actor.id,
    version: { flowId: id, version: 1, definition: experimentDefinition(target, input.concurrency) },
    input: runInput,
    runId,
  });
  if ('code' in started) throw new AppError('validation_failed', started.errors.map((e) => `${e.path}: ${e.message}`).join('; '));
  return created;
}

export async function getExperiment(ctx: ServiceCtx, { id }: { id: string }): Promise<ExperimentWithResults> {
  return unwrap((await hub(ctx).getExperiment(ctx.tenantId, id)) as unknown as Result<ExperimentWithResults>);
}

export async function listExperiments(ctx: ServiceCtx, { limit, cursor }: PageInput) {
  const page = (await hub(ctx).listExperiments(ctx.tenantId, limit, decodeCursor(cursor))) as unknown as {
    data: Experiment[];
    nextCursor: string | null;
  };
  return { data: page.data, nextCursor: page.nextCursor === null ? null : encodeCursor(page.nextCursor) };
}

/** Cancels the experiment's run (and with it every running example); the experiment ends `cancelled` when the run reports. */
export async function cancelExperiment(ctx: ServiceCtx, { id }: { id: string }): Promise<Experiment> {
  const exp = await getExperiment(ctx, { id });
  if (exp.status !== 'running') throw new AppError('conflict', `Experiment ${id} is already ${exp.status}.`);
  await cancelRun(ctx, { id: exp.runId, reason: 'experiment cancelled' });
  const { results: _r, ...record } = exp;
  return record;
}

/** Progress: the experiment run's event stream (one `node.child` per example as it ends, then the evaluation). */
export async function streamExperiment(ctx: ServiceCtx, { id, request }: { id: string; request: Request }): Promise<Response> {
  const exp = await getExperiment(ctx, { id });
  return streamRun(ctx, { id: exp.runId, request, kind: 'events' });
}

/** Head against base: per-evaluator deltas, and the examples whose scores fell (regressions) or rose. */
export async function compareExperiments(ctx: ServiceCtx, { base, head, threshold }: { base: string; head: string; threshold: number }) {
  const [b, h] = await Promise.all([getExperiment(ctx, { id: base }), getExperiment(ctx, { id: head })]);
  for (const e of [b, h])
    if (e.status !== 'completed' || !e.summary)
      throw new AppError('conflict', `Experiment ${e.id} is ${e.status}: only completed experiments compare.`);
  return { base, head, ...compare({ summary: b.summary!, results: b.results }, { summary: h.summary!, results: h.results }, threshold) };
}
