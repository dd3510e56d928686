/**
 * What the engine does next, as pure functions of the run's persisted state,
 * the attempts in flight and an injected `now`. The engine applies the answer
 * through ./transitions and asks again; nothing here reads storage or the clock.
 */
import type { FlowDefinition, FlowNodeDef } from '../../src/flows/definition';
import type { NodeError } from '../../src/flows/nodes/types';
import { backoffDelay, type NodeState, type NodeStatus, plan } from '../../src/flows/plan';
import type { RunStatus } from '../../src/flows/run-model';
import { shouldRetry } from './execute';

/** What a parked node waits for: a durable sleep, a signal (with an optional deadline), or its child runs. */
export interface NodeWait {
  until?: number;
  forSignal?: boolean;
  timeoutAt?: number;
  children?: boolean;
  /** An agent node's parked calls (answered by signals) and child runs (by step key). */
  toolCalls?: Array<{ toolCallId: string; toolName: string; kind: 'approval' | 'client' }>;
  runs?: Array<{ key: string; runId: string }>;
}

/** One node as persisted. */
export interface NodeSnapshot {
  id: string;
  status: NodeStatus;
  branch: string | null;
  /** Retry backoff, delay end or approval deadline (ms epoch). */
  notBefore: number | null;
  wait: NodeWait | null;
}

/** The run as persisted, reduced to what decisions need. */
export interface RunSnapshot {
  status: RunStatus;
  deadlineAt: number | null;
  def: Pick<FlowDefinition, 'nodes' | 'edges' | 'policy'>;
  /** In definition order. */
  nodes: NodeSnapshot[];
}

/** How a step ends once its changes are applied. */
export type Settle =
  /** Attempts are in flight: wait for one of them, or for `wakeAt`. */
  | { kind: 'await' }
  | { kind: 'finish'; status: 'succeeded' | 'failed'; error: string | null }
  /** Nothing can run now: record the run's status (if it changed) and arm the alarm for `wakeAt`. */
  | { kind: 'park'; status: 'running' | 'waiting'; waitingOn: string[] };

/** The engine's next step. */
export type NextStep =
  /** The run is not active (queued or over): nothing to do. */
  | { kind: 'idle' }
  | { kind: 'timeout'; error: string }
  | {
      kind: 'advance';
      /** Delays whose time has come: they succeed. */
      wake: Array<{ id: string; until: number }>;
      /** Approvals past their deadline: they fail. */
      expire: string[];
      skip: string[];
      /** Nodes to start, interrupted ones (running when the object died) first, within maxParallel. */
      start: Array<{ id: string; resumed: boolean }>;
      settle: Settle;
      /** The earliest time a retry, wait or the run deadline falls due, or null. */
      wakeAt: number | null;
    };

const OPEN: ReadonlySet<NodeStatus> = new Set(['pending', 'running', 'waiting']);

/** Decides the next step of an active run. */
export function nextStep(run: RunSnapshot, inflight: ReadonlySet<string>, now: number): NextStep {
  if (run.status !== 'running' && run.status !== 'waiting') return { kind: 'idle' };
  if (run.deadlineAt !== null && now >= run.deadlineAt)
    return { kind: 'timeout', error: `run timed out after ${run.def.policy.timeoutMs} ms` };

  // Apply each decision to a copy, so later decisions see earlier ones (a woken delay unblocks its successors).
  const after = new Map(run.nodes.map((n) => [n.id, { ...n }]));
  const set = (id: string, status: NodeStatus) => {
    const n = after.get(id)!;
    n.status = status;
    if (status === 'succeeded' || status === 'running') n.notBefore = null;
  };
  const wake: Array<{ id: string; until: number }> = [];
  const expire: string[] = [];
  for (const n of run.nodes) {
    if (n.status !== 'waiting' || !n.wait) continue;
    const w = n.wait;
    if (w.until !== undefined && w.until <= now) {
      wake.push({ id: n.id, until: w.until });
      set(n.id, 'succeeded');
    } else if (w.forSignal && w.timeoutAt !== undefined && w.timeoutAt <= now) {
      expire.push(n.id);
      set(n.id, 'failed');
    }
  }

  const p = plan(run.def, states(after), now);
  for (const id of p.skip) set(id, 'skipped');
  const interrupted = run.nodes.filter((n) => n.status === 'running' && !inflight.has(n.id)).map((n) => n.id);
  const budget = Math.max(0, run.def.policy.maxParallel - inflight.size);
  const start = [
    ...interrupted.map((id) => ({ id, resumed: true })),
    ...p.ready.filter((id) => !inflight.has(id)).map((id) => ({ id, resumed: false })),
  ].slice(0, budget);
  for (const s of start) set(s.id, 'running');

  const nodes = [...after.values()];
  const due = [run.deadlineAt, ...nodes.filter((n) => n.status === 'pending' || n.status === 'waiting').map((n) => n.notBefore)].filter(
    (t): t is number => t !== null,
  );
  const wakeAt = due.length ? Math.min(...due) : null;
  return { kind: 'advance', wake, expire, skip: p.skip, start, settle: settle(nodes, inflight.size + start.length), wakeAt };
}

function settle(nodes: NodeSnapshot[], inFlight: number): Settle {
  if (inFlight > 0) return { kind: 'await' };
  if (!nodes.some((n) => OPEN.has(n.status))) {
    const failed = nodes.filter((n) => n.status === 'failed').map((n) => n.id);
    if (failed.length || nodes.some((n) => n.status === 'cancelled'))
      return { kind: 'finish', status: 'failed', error: failed.length ? `node(s) failed: ${failed.join(', ')}` : 'run failed' };
    return { kind: 'finish', status: 'succeeded', error: null };
  }
  const waitingOn = nodes.filter((n) => n.status === 'waiting').map((n) => n.id);
  const running = nodes.some((n) => n.status === 'running');
  return { kind: 'park', status: waitingOn.length && !running ? 'waiting' : 'running', waitingOn };
}

function states(nodes: Map<string, NodeSnapshot>): Map<string, NodeState> {
  return new Map([...nodes.values()].map((n) => [n.id, { status: n.status, branch: n.branch, notBefore: n.notBefore }]));
}

/**
 * After a failed attempt: the delay before the next one, or null when the node fails. Attempts
 * count from the last resume (`attemptBase`), so a resumed node gets its retry budget again; a
 * `retryAfter` (seconds) from the failure is honoured when it is longer than the backoff.
 */
export function retryDelay(
  def: FlowNodeDef,
  attempt: number,
  attemptBase: number,
  error: NodeError,
  random: () => number = Math.random,
): number | null {
  if (!shouldRetry(def, attempt - attemptBase, error)) return null;
  const retry = def.retry!;
  const retryAfter = Number((error.details as { retryAfter?: string } | undefined)?.retryAfter);
  return Math.max(backoffDelay(attempt, retry.backoffMs, retry.maxBackoffMs, random), Number.isFinite(retryAfter) ? retryAfter * 1000 : 0);
}

/** A child run's entry in its subflow/map node. */
export interface ChildEntry {
  /** An agent's flow-tool child: the step key it was started under. */
  key?: string;
  runId: string | null;
  input: unknown;
  status: 'pending' | 'running' | 'succeeded' | 'failed' | 'cancelled';
  output?: unknown;
  error?: string;
}

/** How a node ends once every child run has: map collects outputs in order, subflow takes its one child's. */
export function childrenOutcome(
  type: string,
  list: ChildEntry[],
): { ok: true; output: unknown } | { ok: false; error: { kind: 'error'; message: string; details: Record<string, unknown> } } {
  const failed = list.filter((c) => c.status !== 'succeeded');
  if (failed.length)
    return {
      ok: false,
      error: {
        kind: 'error',
        message: `${failed.length} child run(s) did not succeed`,
        details: { children: failed.map((c) => ({ runId: c.runId, status: c.status, error: c.error })) },
      },
    };
  return { ok: true, output: type === 'map' ? list.map((c) => c.output) : (list[0]?.output ?? null) };
}
