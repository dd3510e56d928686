/**
 * The node registry contract. A node type is one module: a zod config schema
 * and a `run` that turns (config, context) into a result. The FlowRun object
 * persists state before and after each run, retries per the node's policy,
 * and streams what `emitDelta` sends. Adding a node type = one module + one
 * line in ./registry.ts.
 */
import type { z } from 'zod';
import type { Config } from '../../config';
import type { RunInitiator } from '../run-model';

/** What node expressions can see: JSONata over this object. */
export interface EvalScope {
  input: unknown;
  nodes: Record<string, { output: unknown; status: string }>;
  vars: Record<string, unknown>;
  run: { id: string; flowId: string; flowVersion: number; tenantId: string; attempt: number; nodeId: string; startedAt: string };
  item?: unknown;
  index?: number;
}

export interface Usage {
  provider: string;
  model: string;
  inputTokens: number;
  outputTokens: number;
  costUsd: number;
}

/** A node event other than a delta (e.g. an agent's `node.step`, `node.tool_call`); the run adds `nodeId`. */
export interface NodeEvent {
  type: string;
  data: unknown;
}

/** What a step's success writes with its value, in the same transaction. */
export interface StepRecord {
  events?: NodeEvent[];
  /** Token usage and cost of the step, summed into the node and the run. */
  usage?: Usage;
}

/**
 * Durable steps inside one node (the FlowRun's `steps` table). A step runs once per (node, key):
 * its first success is persisted, and every later call (a retried attempt, the attempt re-run after
 * the object was evicted or after a signal) returns the stored value without running it again.
 */
export interface DurableSteps {
  /** `interrupted`: this step started before and never finished (the object died mid-step). */
  run<T>(key: string, fn: (s: { interrupted: boolean }) => Promise<T>, record?: (value: T) => StepRecord): Promise<T>;
  /** A step's stored value (e.g. a signal's answer recorded by the run), or undefined. */
  get<T>(key: string): T | undefined;
  /** Appends node events to the run's log (after the node's pending deltas). */
  emit(...events: NodeEvent[]): void;
}

/** A child run a node started itself (an agent's flow tool), as the run tracks it. */
export interface ChildRunInfo {
  runId: string;
  status: 'pending' | 'running' | 'succeeded' | 'failed' | 'cancelled';
  output?: unknown;
  error?: string;
}

export interface ChildRunPort {
  /** Starts (once per key) a child run of the tenant's flow; when it ends the run re-runs the waiting node. */
  start(key: string, flowId: string, input: unknown): Promise<ChildRunInfo>;
  /** The child started under `key`, with its outcome once it has one. */
  get(key: string): ChildRunInfo | undefined;
}

export interface ExecContext {
  runId: string;
  flowId: string;
  tenantId: string;
  nodeId: string;
  attempt: number;
  /** `${runId}:${nodeId}:${attempt}` — send it with side effects so retries are idempotent downstream. */
  idempotencyKey: string;
  env: Env;
  config: Config;
  scope: EvalScope;
  /** Aborted on node timeout and on run cancellation. */
  signal: AbortSignal;
  /** Appends a `node.delta` event (e.g. LLM tokens) to the run's stream. */
  emitDelta(delta: unknown): void;
  /** Records token usage and cost for this node (summed per run). */
  addUsage(usage: Usage): void;
  /** Evaluates a JSONata expression against `scope`; errors name the node and expression. */
  evaluate(expression: string): Promise<unknown>;
  /** Renders a template: `{{ expression }}` parts evaluated against `scope`, the rest literal. */
  render(template: string): Promise<string>;
  /** The tenant's settings (e.g. the HTTP allow-list). */
  tenantSettings: { httpAllowlist?: string[] };
  /** Who started the run (null for runs started before this was recorded). */
  initiator: RunInitiator | null;
  steps: DurableSteps;
  childRuns: ChildRunPort;
  /** What the type's `prepare` decided for this attempt (also in the node's `started` event); absent without one. */
  prepared?: Record<string, unknown> | undefined;
}

/** What `prepare` sees: the run and node, before an attempt number exists. */
export interface PrepareContext {
  runId: string;
  flowId: string;
  tenantId: string;
  nodeId: string;
  env: Env;
}

export type NodeResult =
  | { status: 'succeeded'; output: unknown; branch?: string }
  /** Engine-handled waits: a durable sleep until `until` (ms epoch), or a signal (approval). */
  | {
      status: 'waiting';
      until?: number;
      forSignal?: boolean;
      timeoutAt?: number;
      /** An agent's parked calls: each waits for a signal `{ toolCallId, … }` (approval or client-side answer). */
      toolCalls?: Array<{ toolCallId: string; toolName: string; kind: 'approval' | 'client' }>;
      /** An agent's child runs (flow tools), by step key: the node re-runs when every one has ended. */
      runs?: Array<{ key: string; runId: string }>;
    };

export type ErrorKind =
  | 'error'
  | 'timeout'
  | 'expression'
  | 'http_4xx'
  | 'http_5xx'
  | 'http_429'
  | 'network'
  | 'invalid_output'
  | 'provider'
  | 'forbidden'
  | 'cancelled'
  /** A platform ceiling (docs/operations.md "Ceilings"): child-run budget, nesting depth, response size. Never retried. */
  | 'limit';

/** A node failure; `retryable` decides whether the node's retry policy applies. */
export class NodeError extends Error {
  constructor(
    readonly kind: ErrorKind,
    message: string,
    readonly retryable: boolean,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
    this.name = 'NodeError';
  }
}

/** A finished child run as its parent node sees it. */
export interface ChildOutcome {
  runId: string | null;
  status: string;
  output?: unknown;
  error?: string;
}

export interface NodeType<C = unknown> {
  type: string;
  /** Used only by definitions the platform builds (experiments): refused in tenants' flows. */
  internal?: true;
  /**
   * Computes in the engine and waits on nothing outside the run (no network, timer or other object). While
   * a drive runs only such nodes, the run's alarm holds its report delivery back (../../durable-objects/flow-run/flow-run.ts).
   */
  local?: true;
  config: z.ZodType<C>;
  run(config: C, ctx: ExecContext): Promise<NodeResult>;
  /** The engine turns a success's `output.children` into child runs and parks the node until they finish. */
  startsChildRuns?: true;
  /**
   * Decides something before each attempt starts (e.g. the provider order of routing by feedback):
   * the engine records the result in the node's `started` event and hands it to `run` as
   * `ctx.prepared`. Must not throw; return undefined to record nothing.
   */
  prepare?(config: C, ctx: PrepareContext): Promise<Record<string, unknown> | undefined>;
  /**
   * For a type that starts child runs: its output once every child ended, whatever their outcome.
   * Without it the node fails when a child did not succeed (map, subflow).
   */
  collectChildren?(children: ChildOutcome[]): unknown;
}

export function defineNode<C>(def: NodeType<C>): NodeType<C> {
  return def;
}
