/**
 * Datasets and experiments, shared by the Worker, the experiment node types and the TenantHub
 * (storage). Plain data: it crosses the RPC boundary.
 */

export interface Dataset {
  id: string;
  name: string;
  description: string | null;
  /** Bumped by every POST of examples; an experiment pins the version it ran on. */
  version: number;
  exampleCount: number;
  createdBy: string;
  createdAt: string;
  updatedAt: string;
}

export interface Example {
  id: string;
  input: unknown;
  expected: unknown;
  metadata: Record<string, unknown>;
  /** The dataset version that added it: part of every version from this one on. */
  version: number;
  createdAt: string;
}

/** What an example is made from, once the Worker resolved `fromRunId` / `fromFeedbackId`. */
export interface ExampleDraft {
  input: unknown;
  expected: unknown;
  metadata: Record<string, unknown>;
}

interface EvaluatorBase {
  /** The feedback key its scores are stored under (numeric 0..1, created when missing). Default: the type. */
  key: string;
  /** Dotted path into the run's answer to grade (e.g. `text`, `json.city`); default the whole answer. */
  field?: string | undefined;
}

export type Evaluator = EvaluatorBase &
  (
    | { type: 'exact'; ignoreCase?: boolean | undefined }
    | { type: 'contains'; value?: string | undefined; ignoreCase?: boolean | undefined }
    | { type: 'regex'; pattern: string; flags?: string | undefined }
    | { type: 'json_schema'; schema: Record<string, unknown> | boolean }
    | { type: 'numeric_tolerance'; tolerance: number; relative?: boolean | undefined }
    | { type: 'llm_judge'; providers: string[]; model: string; rubric: string; passThreshold: number }
    | { type: 'latency'; maxMs: number }
    | { type: 'cost'; maxUsd: number }
  );

export type EvaluatorType = Evaluator['type'];

/** One evaluator on one example: a score in 0..1 (1 = best) and whether it passed, or why it could not be scored. */
export type EvalScore = { score: number; passed: boolean; value?: number | undefined; detail?: string | undefined } | { error: string };

export interface ExampleResult {
  exampleId: string;
  index: number;
  /** The child run that ran the example (null if it never started). */
  runId: string | null;
  /** `errored`: the child run did not succeed; its scores are absent and it counts as errored, never as a crash. */
  status: 'ok' | 'errored';
  error: string | null;
  input: unknown;
  expected: unknown;
  /** The run's answer: its one sink node's output (or every sink's, by node id). */
  output: unknown;
  durationMs: number | null;
  costUsd: number | null;
  scores: Record<string, EvalScore>;
}

export interface EvaluatorSummary {
  type: EvaluatorType;
  /** Examples scored. */
  count: number;
  /** Examples errored (the run failed, or the evaluator could not score). */
  errored: number;
  mean: number | null;
  passRate: number | null;
}

export interface ExperimentSummary {
  examples: number;
  ok: number;
  errored: number;
  evaluators: Record<string, EvaluatorSummary>;
}

/** What an experiment runs: a flow version, or a saved agent's version (src/evals/targets.ts). */
export type ExperimentTarget = { kind: 'flow'; flowId: string; version: number } | { kind: 'agent'; agentId: string; version: number };

export type ExperimentStatus = 'running' | 'completed' | 'failed' | 'cancelled';

export interface Experiment {
  id: string;
  datasetId: string;
  datasetVersion: number;
  target: ExperimentTarget;
  evaluators: Evaluator[];
  concurrency: number;
  status: ExperimentStatus;
  /** The run that drives it: one child run per example, then the evaluation. */
  runId: string;
  error: string | null;
  summary: ExperimentSummary | null;
  createdBy: string;
  createdAt: string;
  finishedAt: string | null;
}

export interface ExperimentWithResults extends Experiment {
  results: ExampleResult[];
}

/** An experiment's run input: the examples it pinned and how to grade them. */
export interface ExperimentRunInput {
  experimentId: string;
  examples: Array<{ id: string; input: unknown; expected: unknown }>;
  evaluators: Evaluator[];
  target: ExperimentTarget;
}
