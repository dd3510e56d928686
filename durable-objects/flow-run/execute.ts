/** Runs one node attempt: builds its context, applies its timeout, classifies the outcome. */
import type { Config } from '../../src/config';
import type { FlowNodeDef } from '../../src/flows/definition';
import { ExpressionError, evaluate, render } from '../../src/flows/expressions';
import { NODE_TYPES } from '../../src/flows/nodes/registry';
import { type ChildRunPort, type DurableSteps, type EvalScope, NodeError, type NodeResult, type Usage } from '../../src/flows/nodes/types';
import type { RunInitiator } from '../../src/flows/run-model';

export interface AttemptInput {
  node: FlowNodeDef;
  attempt: number;
  runId: string;
  flowId: string;
  tenantId: string;
  scope: EvalScope;
  env: Env;
  config: Config;
  settings: { httpAllowlist?: string[] };
  cancel: AbortSignal;
  emitDelta(delta: unknown): void;
  addUsage(u: Usage): void;
  initiator: RunInitiator | null;
  steps: DurableSteps;
  childRuns: ChildRunPort;
}

export type AttemptOutcome = { ok: true; result: NodeResult } | { ok: false; error: NodeError };

const DEFAULT_TIMEOUT_MS = 5 * 60_000;

export async function runAttempt(a: AttemptInput): Promise<AttemptOutcome> {
  const type = NODE_TYPES[a.node.type];
  if (!type) return { ok: false, error: new NodeError('error', `unknown node type '${a.node.type}'`, false) };
  const parsed = type.config.safeParse(a.node.config);
  if (!parsed.success)
    return { ok: false, error: new NodeError('error', `node '${a.node.id}' config is invalid: ${parsed.error.issues[0]?.message}`, false) };
  const timeoutMs = a.node.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const timeout = new AbortController();
  const signal = AbortSignal.any([a.cancel, timeout.signal]);
  let timer: ReturnType<typeof setTimeout> | undefined;
  const ctx = {
    runId: a.runId,
    flowId: a.flowId,
    tenantId: a.tenantId,
    nodeId: a.node.id,
    attempt: a.attempt,
    idempotencyKey: `${a.runId}:${a.node.id}:${a.attempt}`,
    env: a.env,
    config: a.config,
    scope: a.scope,
    signal,
    emitDelta: a.emitDelta,
    addUsage: a.addUsage,
    tenantSettings: a.settings,
    initiator: a.initiator,
    steps: a.steps,
    childRuns: a.childRuns,
    evaluate: (expression: string) => evaluate(expression, a.scope).catch((err) => Promise.reject(asNodeError(err, a.node.id))),
    render: (template: string) => render(template, a.scope).catch((err) => Promise.reject(asNodeError(err, a.node.id))),
  };
  try {
    const result = await Promise.race([
      type.run(parsed.data, ctx),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          timeout.abort();
          reject(new NodeError('timeout', `node '${a.node.id}' timed out after ${timeoutMs} ms`, true));
        }, timeoutMs);
      }),
      new Promise<never>((_, reject) => {
        if (a.cancel.aborted) reject(new NodeError('cancelled', 'run cancelled', false));
        a.cancel.addEventListener('abort', () => reject(new NodeError('cancelled', 'run cancelled', false)), { once: true });
      }),
    ]);
    return { ok: true, result };
  } catch (err) {
    return { ok: false, error: asNodeError(err, a.node.id) };
  } finally {
    if (timer !== undefined) clearTimeout(timer);
  }
}

function asNodeError(err: unknown, nodeId: string): NodeError {
  if (err instanceof NodeError) return err;
  if (err instanceof ExpressionError)
    return new NodeError('expression', `node '${nodeId}': ${err.message}`, false, { expression: err.expression });
  return new NodeError('error', `node '${nodeId}': ${err instanceof Error ? err.message : String(err)}`, true);
}

/** Whether the node's retry policy covers this failure. */
export function shouldRetry(node: FlowNodeDef, attempt: number, error: NodeError): boolean {
  const retry = node.retry;
  if (!retry || !error.retryable) return false;
  if (attempt >= retry.maxAttempts) return false;
  return retry.retryOn ? retry.retryOn.includes(error.kind as never) : true;
}
