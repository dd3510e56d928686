/**
 * Every state change of a run. Each method is one SQLite transaction holding
 * the change and its event, so state and stream never disagree. Node changes
 * are compare-and-set on the node's status (and attempt): a stale caller, such
 * as an attempt that finished after the run was cancelled, changes nothing and
 * gets false back. A run status change also writes its reports (./reports.ts)
 * in the same transaction, so a committed status is always reported.
 */
import type { NodeError, NodeEvent, Usage } from '../../src/flows/nodes/types';
import { sinks } from '../../src/flows/plan';
import { type RunInit, type RunStatus, TERMINAL } from '../../src/flows/run-model';
import type { ChildEntry, NodeWait } from './next-step';
import { enqueueIndex, enqueueReports } from './reports';
import {
  addRunUsage,
  appendEvent,
  forgetRun,
  insertRun,
  loadRun,
  type NodeRow,
  node,
  nodes,
  setRunStatus,
  stepRow,
  stepValue,
} from './store';

/** The node state a change expects to find: a running attempt, or a parked node. */
export type NodeGuard = { status: 'running'; attempt: number } | { status: 'waiting' };

/** A node failure as stored and streamed. */
export interface NodeErrorData {
  kind: string;
  message: string;
  details?: Record<string, unknown>;
}

/** The stored shape of a NodeError. */
export function errorData(e: NodeError): NodeErrorData {
  return { kind: e.kind, message: e.message, ...(e.details ? { details: e.details } : {}) };
}

export class Transitions {
  constructor(
    private readonly storage: DurableObjectStorage,
    private readonly now: () => number = Date.now,
  ) {}

  get #sql(): SqlStorage {
    return this.storage.sql;
  }

  #iso(): string {
    return new Date(this.now()).toISOString();
  }

  #tx<T>(fn: () => T): T {
    try {
      return this.storage.transactionSync(fn);
    } catch (e) {
      // Rolled back: the run a read inside it cached may be a write that is gone (./store.ts loadRun).
      forgetRun(this.#sql);
      throw e;
    }
  }

  #guarded(id: string, guard: NodeGuard): NodeRow | null {
    const r = node(this.#sql, id);
    if (r?.status !== guard.status) return null;
    return guard.status === 'running' && r.attempt !== guard.attempt ? null : r;
  }

  // ---------------------------------------------------------------------------------------------
  // The run
  // ---------------------------------------------------------------------------------------------

  /** Stores a new run, queued. False if this object already holds one. */
  runCreated(init: RunInit): boolean {
    return this.#tx(() => {
      if (loadRun(this.#sql)) return false;
      insertRun(this.#sql, init, 'queued');
      appendEvent(this.#sql, 'run.created', null, {
        flowId: init.flowId,
        flowVersion: init.flowVersion,
        reused: Object.keys(init.reuse ?? {}),
      });
      if (init.index) enqueueIndex(this.#sql, { ...init, index: init.index }, this.now());
      return true;
    });
  }

  /** Queued → running, with its deadline. Returns the start time (ms), or null if the run was not queued. */
  runStarted(): number | null {
    return this.#tx(() => {
      const l = loadRun(this.#sql);
      if (l?.row.status !== 'queued') return null;
      const now = this.now();
      setRunStatus(this.#sql, 'running', {
        started_at: l.row.started_at ?? new Date(now).toISOString(),
        deadline_at: now + l.def.policy.timeoutMs,
      });
      appendEvent(this.#sql, 'run.started', null, { input: l.input });
      enqueueReports(this.#sql, 'running', now);
      return now;
    });
  }

  /** An active run's status follows its nodes: 'waiting' when only waits remain. False if unchanged. */
  runParked(status: 'running' | 'waiting', waitingOn: string[]): boolean {
    return this.#tx(() => {
      const current = loadRun(this.#sql)?.row.status;
      if ((current !== 'running' && current !== 'waiting') || current === status) return false;
      setRunStatus(this.#sql, status);
      appendEvent(this.#sql, status === 'waiting' ? 'run.waiting' : 'run.resumed', null, { waitingOn });
      enqueueReports(this.#sql, status, this.now());
      return true;
    });
  }

  /** Ends the run: open nodes are cancelled, the output is the sinks' outputs. False if it was already over. */
  runFinished(status: 'succeeded' | 'failed' | 'cancelled', error: string | null): boolean {
    return this.#tx(() => {
      const l = loadRun(this.#sql);
      if (!l || TERMINAL.has(l.row.status)) return false;
      for (const r of nodes(this.#sql)) {
        if (r.status === 'pending' || r.status === 'running' || r.status === 'waiting') {
          this.#sql.exec(`UPDATE nodes SET status = 'cancelled', wait = NULL, finished_at = ? WHERE id = ?`, this.#iso(), r.id);
          appendEvent(this.#sql, 'node.cancelled', r.id, null);
        }
      }
      const output: Record<string, unknown> = {};
      for (const id of sinks(l.def)) {
        const r = node(this.#sql, id);
        if (r?.status === 'succeeded') output[id] = r.output === null ? null : JSON.parse(r.output);
      }
      setRunStatus(this.#sql, status, { finished_at: this.#iso(), error, output });
      const type = status === 'succeeded' ? 'run.completed' : status === 'failed' ? 'run.failed' : 'run.cancelled';
      appendEvent(this.#sql, type, null, { status, error, output });
      enqueueReports(this.#sql, status, this.now());
      return true;
    });
  }

  /**
   * A failed or cancelled run goes back to 'queued': its failed, cancelled and skipped nodes
   * become pending again (keeping their attempt count as the new base). Returns the status it
   * left, or null if it was neither failed nor cancelled.
   */
  runResumed(): RunStatus | null {
    return this.#tx(() => {
      const from = loadRun(this.#sql)?.row.status;
      if (from !== 'failed' && from !== 'cancelled') return null;
      this.#sql.exec(
        `UPDATE nodes SET status = 'pending', attempt_base = attempt, error = NULL, wait = NULL, children = NULL, not_before = NULL, finished_at = NULL
         WHERE status IN ('failed', 'cancelled', 'skipped')`,
      );
      setRunStatus(this.#sql, 'queued', { finished_at: null, error: null });
      appendEvent(this.#sql, 'run.resumed', null, { from });
      enqueueReports(this.#sql, 'queued', this.now());
      return from;
    });
  }

  /** Token usage and cost of a node, summed into the run. */
  usageAdded(nodeId: string, u: Usage): void {
    this.#tx(() => this.#addUsage(nodeId, u));
  }

  #addUsage(nodeId: string, u: Usage): void {
    this.#sql.exec(
      `UPDATE nodes SET input_tokens = input_tokens + ?, output_tokens = output_tokens + ?, cost_usd = cost_usd + ? WHERE id = ?`,
      u.inputTokens,
      u.outputTokens,
      u.costUsd,
      nodeId,
    );
    addRunUsage(this.#sql, u);
    appendEvent(this.#sql, 'node.usage', nodeId, u);
  }

  // ---------------------------------------------------------------------------------------------
  // Nodes
  // ---------------------------------------------------------------------------------------------

  /**
   * A node's attempt starts. A resumed one (running when the object died) runs again under its
   * attempt number, keeping its start time. `prepared` (the node type's prepare hook) goes in the
   * event. Returns the attempt.
   */
  nodeStarted(id: string, resumed: boolean, prepared?: Record<string, unknown>): number {
    return this.#tx(() => {
      // One statement reads and bumps the attempt (issue 20: two per node before).
      const { attempt } = this.#sql
        .exec<{ attempt: number }>(
          `UPDATE nodes SET status = 'running', attempt = CASE WHEN ? THEN MAX(1, attempt) ELSE attempt + 1 END,
             started_at = COALESCE(?, started_at), not_before = NULL WHERE id = ? RETURNING attempt`,
          resumed ? 1 : 0,
          resumed ? null : this.#iso(),
          id,
        )
        .one();
      appendEvent(this.#sql, 'node.started', id, { ...prepared, attempt, ...(resumed ? { resumed: true } : {}) });
      return attempt;
    });
  }

  /** The node succeeded (an attempt, a finished delay, its child runs). Counted in `successes`: exactly once. */
  nodeSucceeded(id: string, guard: NodeGuard, output: unknown, branch: string | null = null): boolean {
    return this.#tx(() => this.#succeed(id, guard, output, branch));
  }

  /** A signal reached a waiting approval node: it succeeds with the payload as its output. */
  nodeSignalled(id: string, payload: unknown, by?: unknown): boolean {
    return this.#tx(() => {
      if (!this.#guarded(id, { status: 'waiting' })) return false;
      appendEvent(this.#sql, 'node.signalled', id, by === undefined ? { payload } : { payload, by });
      return this.#succeed(id, { status: 'waiting' }, payload, null);
    });
  }

  #succeed(id: string, guard: NodeGuard, output: unknown, branch: string | null): boolean {
    // Compare-and-set in the statement itself (the guard's status, and attempt for a running one): one
    // statement per success instead of a read and a write (issue 20).
    const attempt = guard.status === 'running' ? guard.attempt : null;
    const r = this.#sql
      .exec<{ attempt: number }>(
        `UPDATE nodes SET status = 'succeeded', output = ?, branch = ?, error = NULL, wait = NULL, not_before = NULL, finished_at = ?, successes = successes + 1
         WHERE id = ? AND status = ? AND (? IS NULL OR attempt = ?) RETURNING attempt`,
        JSON.stringify(output ?? null),
        branch,
        this.#iso(),
        id,
        guard.status,
        attempt,
        attempt,
      )
      .toArray()[0];
    if (!r) return false;
    appendEvent(this.#sql, 'node.succeeded', id, { attempt: r.attempt, output, ...(branch !== null ? { branch } : {}) });
    return true;
  }

  /** The node failed for good. */
  nodeFailed(id: string, guard: NodeGuard, error: NodeErrorData): boolean {
    return this.#tx(() => {
      const r = this.#guarded(id, guard);
      if (!r) return false;
      this.#sql.exec(
        `UPDATE nodes SET status = 'failed', error = ?, wait = NULL, finished_at = ? WHERE id = ?`,
        JSON.stringify(error),
        this.#iso(),
        id,
      );
      appendEvent(this.#sql, 'node.failed', id, { attempt: r.attempt, error });
      return true;
    });
  }

  /** The attempt failed and the node's retry policy applies: pending again, not before `delayMs` from now. */
  nodeRetryScheduled(id: string, attempt: number, error: NodeErrorData, delayMs: number): boolean {
    return this.#tx(() => {
      if (!this.#guarded(id, { status: 'running', attempt })) return false;
      this.#sql.exec(
        `UPDATE nodes SET status = 'pending', error = ?, not_before = ? WHERE id = ?`,
        JSON.stringify(error),
        this.now() + delayMs,
        id,
      );
      appendEvent(this.#sql, 'node.retrying', id, { attempt, nextAttempt: attempt + 1, delayMs, error });
      return true;
    });
  }

  /** The attempt parked the node: a delay (until a time) or an approval (until a signal or its deadline). */
  nodeWaiting(id: string, attempt: number, wait: NodeWait & { status: 'waiting' }): boolean {
    return this.#tx(() => {
      if (!this.#guarded(id, { status: 'running', attempt })) return false;
      this.#sql.exec(
        `UPDATE nodes SET status = 'waiting', wait = ?, not_before = ? WHERE id = ?`,
        JSON.stringify(wait),
        wait.until ?? wait.timeoutAt ?? null,
        id,
      );
      appendEvent(this.#sql, 'node.waiting', id, wait);
      return true;
    });
  }

  /** The attempt produced child runs (subflow, map): the node waits for them, their entries reserved. */
  nodeAwaitingChildren(id: string, attempt: number, children: ChildEntry[]): boolean {
    return this.#tx(() => {
      if (!this.#guarded(id, { status: 'running', attempt })) return false;
      this.#sql.exec(
        `UPDATE nodes SET status = 'waiting', wait = ?, children = ? WHERE id = ?`,
        JSON.stringify({ children: true }),
        JSON.stringify(children),
        id,
      );
      appendEvent(this.#sql, 'node.waiting', id, { children: children.length });
      return true;
    });
  }

  /** Nodes no active edge reaches any more (untaken branch, failed or skipped upstream). */
  nodesSkipped(ids: string[]): void {
    if (ids.length === 0) return;
    this.#tx(() => {
      for (const id of ids) {
        if (node(this.#sql, id)?.status !== 'pending') continue;
        this.#sql.exec(`UPDATE nodes SET status = 'skipped', finished_at = ? WHERE id = ?`, this.#iso(), id);
        appendEvent(this.#sql, 'node.skipped', id, null);
      }
    });
  }

  /** Streamed partial output of a running node (e.g. LLM tokens); an event only. */
  deltaEmitted(id: string, delta: unknown): void {
    appendEvent(this.#sql, 'node.delta', id, delta);
  }

  // ---------------------------------------------------------------------------------------------
  // Durable steps inside a node (agents: model calls, tool calls, answers to parked calls)
  // ---------------------------------------------------------------------------------------------

  /** A step starts. True when it had started before and never finished (the object died mid-step). */
  stepBegan(nodeId: string, key: string): boolean {
    return this.#tx(() => {
      const r = stepRow(this.#sql, nodeId, key);
      if (r) return r.status === 'started';
      this.#sql.exec(`INSERT INTO steps (node_id, key, status, started_at) VALUES (?, ?, 'started', ?)`, nodeId, key, this.#iso());
      return false;
    });
  }

  /**
   * A step succeeded: its value, events and usage in one transaction. Only while the node runs (a
   * late result of an attempt that timed out or was cancelled records nothing). False if not recorded.
   */
  stepRecorded(nodeId: string, key: string, value: unknown, events: NodeEvent[], usage?: Usage): boolean {
    return this.#tx(() => {
      if (node(this.#sql, nodeId)?.status !== 'running') return false;
      if (stepRow(this.#sql, nodeId, key)?.status === 'done') return false;
      this.#sql.exec(
        `INSERT INTO steps (node_id, key, status, result, started_at, finished_at) VALUES (?, ?, 'done', ?, ?, ?)
         ON CONFLICT (node_id, key) DO UPDATE SET status = 'done', result = excluded.result, finished_at = excluded.finished_at`,
        nodeId,
        key,
        JSON.stringify(value ?? null),
        this.#iso(),
        this.#iso(),
      );
      for (const e of events) appendEvent(this.#sql, e.type, nodeId, e.data);
      if (usage) this.#addUsage(nodeId, usage);
      return true;
    });
  }

  /** Node events that are not a state change (an agent's node.step, node.tool_call, …). */
  nodeEvents(nodeId: string, events: NodeEvent[]): void {
    if (events.length === 0) return;
    this.#tx(() => {
      for (const e of events) appendEvent(this.#sql, e.type, nodeId, e.data);
    });
  }

  /**
   * An agent attempt parks for signals and/or child runs. If everything it waits for has already
   * arrived (a child run that ended while the attempt was still running), it stays 'running' and the
   * engine re-runs it at once. Returns 'parked', 'continue', or false for a stale attempt.
   */
  agentParked(id: string, attempt: number, wait: NodeWait & { status: 'waiting' }): 'parked' | 'continue' | false {
    return this.#tx(() => {
      if (!this.#guarded(id, { status: 'running', attempt })) return false;
      if (this.#agentSatisfied(id, wait)) return 'continue';
      this.#sql.exec(`UPDATE nodes SET status = 'waiting', wait = ?, not_before = NULL WHERE id = ?`, JSON.stringify(wait), id);
      appendEvent(this.#sql, 'node.waiting', id, wait);
      return 'parked';
    });
  }

  /**
   * A signal answers one parked call of an agent node: the answer is stored as the step
   * `answer:<toolCallId>`; when every parked call and child run of the node has its answer, the node
   * runs again (its steps replay) and the run is running again.
   */
  agentAnswered(id: string, toolCallId: string, answer: unknown, by: unknown): boolean {
    return this.#tx(() => {
      if (!this.#guarded(id, { status: 'waiting' })) return false;
      const key = `answer:${toolCallId}`;
      if (stepRow(this.#sql, id, key)) return false;
      this.#sql.exec(
        `INSERT INTO steps (node_id, key, status, result, started_at, finished_at) VALUES (?, ?, 'done', ?, ?, ?)`,
        id,
        key,
        JSON.stringify(answer),
        this.#iso(),
        this.#iso(),
      );
      appendEvent(this.#sql, 'node.signalled', id, { toolCallId, payload: answer, by });
      this.#agentResume(id);
      return true;
    });
  }

  /** An agent's child run ended (./children.ts): the node runs again if nothing else is outstanding. */
  agentChildEnded(id: string): boolean {
    return this.#tx(() => this.#agentResume(id));
  }

  #agentResume(id: string): boolean {
    const r = node(this.#sql, id);
    if (r?.status !== 'waiting' || !r.wait) return false;
    const wait = JSON.parse(r.wait) as NodeWait;
    if (!this.#agentSatisfied(id, wait)) return false;
    // 'running' without an attempt in flight: the engine starts it again under the same attempt.
    this.#sql.exec(`UPDATE nodes SET status = 'running', wait = NULL, not_before = NULL WHERE id = ?`, id);
    appendEvent(this.#sql, 'node.resumed', id, { attempt: r.attempt });
    if (loadRun(this.#sql)?.row.status === 'waiting') {
      setRunStatus(this.#sql, 'running');
      appendEvent(this.#sql, 'run.resumed', null, { node: id });
      enqueueReports(this.#sql, 'running', this.now());
    }
    return true;
  }

  #agentSatisfied(id: string, wait: NodeWait): boolean {
    const answered = (wait.toolCalls ?? []).every((c) => stepValue(this.#sql, id, `answer:${c.toolCallId}`) !== undefined);
    if (!answered) return false;
    if (!wait.runs?.length) return true;
    const list = JSON.parse(node(this.#sql, id)?.children ?? '[]') as ChildEntry[];
    return wait.runs.every((w) => {
      const c = list.find((x) => x.key === w.key);
      return c !== undefined && ['succeeded', 'failed', 'cancelled'].includes(c.status);
    });
  }

  /** An agent's child run is reserved under `key` (idempotent: the same entry, index and run id again). */
  agentChildReserved(nodeId: string, key: string, input: unknown): { entry: ChildEntry; index: number } {
    return this.#tx(() => {
      const list = JSON.parse(node(this.#sql, nodeId)?.children ?? '[]') as ChildEntry[];
      const at = list.findIndex((c) => c.key === key);
      if (at >= 0) return { entry: list[at]!, index: at };
      // A resumed run clears its nodes' children: the resume generation keeps a new child's id unused.
      const generation = node(this.#sql, nodeId)?.attempt_base ?? 0;
      const runId = `${loadRun(this.#sql)!.row.run_id}.${nodeId}.${generation > 0 ? `r${generation}.` : ''}${list.length}`;
      const added: ChildEntry = { key, runId, input, status: 'running' };
      list.push(added);
      this.#saveChildren(nodeId, list);
      appendEvent(this.#sql, 'node.child', nodeId, { index: list.length - 1, runId: added.runId, status: added.status, key });
      return { entry: added, index: list.length - 1 };
    });
  }

  // ---------------------------------------------------------------------------------------------
  // Child runs of a waiting subflow/map node
  // ---------------------------------------------------------------------------------------------

  /** The node's child entries, with run ids reserved before any child is started. */
  childrenReserved(nodeId: string, children: ChildEntry[]): void {
    this.#tx(() => this.#saveChildren(nodeId, children));
  }

  /** One child run finished; `children` holds its recorded outcome. */
  childFinished(nodeId: string, children: ChildEntry[], index: number): void {
    this.#tx(() => {
      this.#saveChildren(nodeId, children);
      const c = children[index]!;
      appendEvent(this.#sql, 'node.child', nodeId, { index, runId: c.runId, status: c.status });
    });
  }

  /** Children handed to the queue to start (large fan-out). */
  childrenQueued(nodeId: string, count: number): void {
    this.#tx(() => appendEvent(this.#sql, 'node.fanout', nodeId, { queued: count }));
  }

  #saveChildren(nodeId: string, children: ChildEntry[]): void {
    this.#sql.exec(`UPDATE nodes SET children = ? WHERE id = ?`, JSON.stringify(children), nodeId);
  }
}
