/**
 * The run driver. It asks ./next-step what to do from the persisted state and
 * applies the answer through ./transitions (each change one transaction with
 * its event, so state and stream never disagree). Nodes whose dependencies are
 * met start together (parallel branches); a node that was 'running' when the
 * object died is started again (at least once), and its success is recorded
 * by compare-and-set (exactly once).
 */
import type { Config } from '../../src/config';
import type { FlowNodeDef } from '../../src/flows/definition';
import { NODE_TYPES } from '../../src/flows/nodes/registry';
import type { ChildRunPort, DurableSteps, EvalScope, NodeError } from '../../src/flows/nodes/types';
import { TERMINAL } from '../../src/flows/run-model';
import { DeltaCoalescer } from './deltas';
import { runAttempt } from './execute';
import { type ChildEntry, type NodeWait, nextStep, type RunSnapshot, retryDelay } from './next-step';
import { NodeOutputs } from './outputs';
import { type Loaded, loadRun, type NodeSchedule, node, nodeOutputRows, nodeSchedules, stepRow, stepValue } from './store';
import { errorData, type Transitions } from './transitions';

export interface EngineHost {
  storage: DurableObjectStorage;
  transitions: Transitions;
  env: Env;
  config(): Config;
  /** Push new events to subscribers. */
  flush(): void;
  /** A run status change wrote reports (./reports.ts): arrange their delivery. */
  reportsQueued(): Promise<void>;
  /** A node that waits on something outside the run (not `local`) is starting. */
  externalWork(): void;
  /** Start child runs for a subflow/map node. */
  startChildren(nodeId: string): Promise<void>;
  /** An agent node's child runs (flow tools). */
  agentChildren(nodeId: string): ChildRunPort;
}

/** Drives one run: starts attempts, records outcomes, parks and finishes the run. */
export class Engine {
  #inflight = new Map<string, Promise<void>>();
  #cancel = new AbortController();
  #driving: Promise<void> | null = null;
  #again = false;
  readonly #t: Transitions;
  readonly #deltas: DeltaCoalescer;
  /** Node outputs parsed once per stored value, not once per launch. */
  readonly outputs = new NodeOutputs();

  constructor(private readonly host: EngineHost) {
    this.#t = host.transitions;
    this.#deltas = new DeltaCoalescer((id, delta) => {
      this.#t.deltaEmitted(id, delta);
      this.host.flush();
    });
  }

  get #sql(): SqlStorage {
    return this.host.storage.sql;
  }

  /** Drives the run until nothing more can happen now; re-entrant calls coalesce. */
  drive(): Promise<void> {
    if (this.#driving) {
      this.#again = true;
      return this.#driving;
    }
    this.#driving = (async () => {
      do {
        this.#again = false;
        await this.#driveOnce();
      } while (this.#again);
    })().finally(() => (this.#driving = null));
    return this.#driving;
  }

  async #driveOnce(): Promise<void> {
    for (;;) {
      const l = loadRun(this.#sql);
      if (!l) return;
      const step = nextStep(snapshot(l, nodeSchedules(this.#sql)), new Set(this.#inflight.keys()), Date.now());
      if (step.kind === 'idle') return;
      if (step.kind === 'timeout') return this.finish('failed', step.error);
      for (const w of step.wake) this.#t.nodeSucceeded(w.id, { status: 'waiting' }, { waitedUntil: new Date(w.until).toISOString() });
      for (const id of step.expire)
        this.#t.nodeFailed(id, { status: 'waiting' }, { kind: 'timeout', message: `approval '${id}' was not signalled in time` });
      this.#t.nodesSkipped(step.skip);
      for (const s of step.start) this.#launch(l, s.id, s.resumed);
      this.host.flush();
      const then = step.settle;
      if (then.kind === 'finish') return this.finish(then.status, then.error);
      if (then.kind === 'park') return this.#park(then.status, then.waitingOn, step.wakeAt);
      // Wake for whichever comes first: a node finishing, a retry falling due, a wait or the run deadline.
      let timer: ReturnType<typeof setTimeout> | undefined;
      const next = step.wakeAt;
      await Promise.race([
        ...this.#inflight.values(),
        ...(next === null ? [] : [new Promise<void>((resolve) => (timer = setTimeout(resolve, Math.max(0, next - Date.now()))))]),
      ]);
      if (timer !== undefined) clearTimeout(timer);
    }
  }

  #launch(l: Loaded, id: string, resumed: boolean): void {
    const def = l.def.nodes.find((n) => n.id === id)!;
    const type = NODE_TYPES[def.type];
    if (!type?.local) this.host.externalWork();
    if (!type?.prepare) {
      const attempt = this.#t.nodeStarted(id, resumed);
      const p = this.#execute(l, def, attempt).finally(() => this.#inflight.delete(id));
      this.#inflight.set(id, p);
      return;
    }
    // A type that prepares (routing by feedback) decides before the attempt starts, so its `started`
    // event can say what it chose. The node is in flight meanwhile, so nothing launches it twice.
    const p = (async () => {
      const prepared = await this.#prepare(l, def);
      // The run may have finished (cancelled) while preparing: then the node stays as finish() left it.
      const run = loadRun(this.#sql);
      const row = node(this.#sql, id);
      if (!run || TERMINAL.has(run.row.status) || !row || (row.status !== 'pending' && row.status !== 'running')) return;
      const attempt = this.#t.nodeStarted(id, resumed, prepared);
      this.host.flush();
      await this.#execute(l, def, attempt, prepared);
    })().finally(() => this.#inflight.delete(id));
    this.#inflight.set(id, p);
  }

  async #prepare(l: Loaded, def: FlowNodeDef): Promise<Record<string, unknown> | undefined> {
    const type = NODE_TYPES[def.type]!;
    const parsed = type.config.safeParse(def.config);
    if (!parsed.success) return undefined; // runAttempt reports the bad config
    try {
      return await type.prepare!(parsed.data, {
        runId: l.row.run_id,
        flowId: l.row.flow_id,
        tenantId: l.row.tenant_id,
        nodeId: def.id,
        env: this.host.env,
      });
    } catch {
      return undefined;
    }
  }

  async #execute(l: Loaded, def: FlowNodeDef, attempt: number, prepared?: Record<string, unknown>): Promise<void> {
    const outcome = await runAttempt({
      node: def,
      attempt,
      runId: l.row.run_id,
      flowId: l.row.flow_id,
      tenantId: l.row.tenant_id,
      scope: this.#scope(l, def.id, attempt),
      env: this.host.env,
      config: this.host.config(),
      settings: l.settings,
      cancel: this.#cancel.signal,
      prepared,
      emitDelta: (delta) => this.#deltas.push(def.id, delta),
      addUsage: (u) => {
        this.#deltas.flush(def.id);
        this.#t.usageAdded(def.id, u);
      },
      initiator: l.initiator,
      steps: this.#steps(def.id),
      childRuns: this.host.agentChildren(def.id),
    });
    this.#deltas.flush(def.id);
    let children = false;
    if (!outcome.ok) this.#fail(def, attempt, outcome.error);
    else if (outcome.result.status === 'waiting' && (outcome.result.toolCalls || outcome.result.runs))
      // 'continue': what it waits for already arrived; the drive loop re-runs it (still 'running').
      this.#t.agentParked(def.id, attempt, outcome.result);
    else if (outcome.result.status === 'waiting') this.#t.nodeWaiting(def.id, attempt, outcome.result);
    else if (NODE_TYPES[def.type]?.startsChildRuns) {
      const list = ((outcome.result.output as { children?: Array<{ input: unknown }> }).children ?? []).map(
        (c): ChildEntry => ({ runId: null, input: c.input, status: 'pending' }),
      );
      children = this.#t.nodeAwaitingChildren(def.id, attempt, list);
    } else this.#t.nodeSucceeded(def.id, { status: 'running', attempt }, outcome.result.output, outcome.result.branch ?? null);
    this.host.flush();
    if (children) await this.host.startChildren(def.id);
    if (!outcome.ok && loadRun(this.#sql)?.def.policy.onFailure === 'fail_fast' && node(this.#sql, def.id)?.status === 'failed') {
      await this.finish('failed', outcome.error.message);
    }
  }

  /** A node's durable steps (ExecContext.steps): memoized in the run's `steps` table. */
  #steps(nodeId: string): DurableSteps {
    return {
      run: async (key, fn, record) => {
        const prior = stepRow(this.#sql, nodeId, key);
        if (prior?.status === 'done') return JSON.parse(prior.result ?? 'null');
        const interrupted = this.#t.stepBegan(nodeId, key);
        // The stored form is what a replay returns, so the first run returns it too.
        const value = JSON.parse(JSON.stringify((await fn({ interrupted })) ?? null));
        this.#deltas.flush(nodeId);
        const r = record?.(value) ?? {};
        this.#t.stepRecorded(nodeId, key, value, r.events ?? [], r.usage);
        this.host.flush();
        return value;
      },
      get: (key) => stepValue(this.#sql, nodeId, key),
      emit: (...events) => {
        this.#deltas.flush(nodeId);
        this.#t.nodeEvents(nodeId, events);
        this.host.flush();
      },
    };
  }

  /** Records a failed attempt: a retry if the node's policy covers it, else the node fails. */
  #fail(def: FlowNodeDef, attempt: number, error: NodeError): void {
    const r = node(this.#sql, def.id);
    // Compare-and-set: only the attempt that is current may record an outcome.
    if (r?.status !== 'running' || r.attempt !== attempt) return;
    const delay = retryDelay(def, r.attempt, r.attempt_base ?? 0, error);
    if (delay !== null) this.#t.nodeRetryScheduled(def.id, attempt, errorData(error), delay);
    else this.#t.nodeFailed(def.id, { status: 'running', attempt }, errorData(error));
  }

  #scope(l: Loaded, nodeId: string, attempt: number): EvalScope {
    return {
      input: l.input,
      nodes: this.outputs.scope(nodeOutputRows(this.#sql)),
      vars: l.def.vars ?? {},
      run: {
        id: l.row.run_id,
        flowId: l.row.flow_id,
        flowVersion: l.row.flow_version,
        tenantId: l.row.tenant_id,
        attempt,
        nodeId,
        startedAt: l.row.started_at ?? l.row.created_at,
      },
    };
  }

  /** Parks the run: the alarm wakes it at the next due time; its status says whether only waits remain. */
  async #park(status: 'running' | 'waiting', waitingOn: string[], wakeAt: number | null): Promise<void> {
    if (wakeAt !== null) await this.host.storage.setAlarm(wakeAt);
    if (!this.#t.runParked(status, waitingOn)) return;
    this.host.flush();
    await this.host.reportsQueued();
  }

  /** Ends the run: in-flight attempts are aborted, open nodes cancelled, the output is the sinks' outputs. */
  async finish(status: 'succeeded' | 'failed' | 'cancelled', error: string | null): Promise<void> {
    const l = loadRun(this.#sql);
    if (!l || TERMINAL.has(l.row.status)) return;
    this.#cancel.abort();
    this.#cancel = new AbortController();
    if (!this.#t.runFinished(status, error)) return;
    await this.host.storage.deleteAlarm();
    this.host.flush();
    await this.host.reportsQueued();
  }
}

/** The persisted state next-step decides from. */
function snapshot(l: Loaded, rows: NodeSchedule[]): RunSnapshot {
  return {
    status: l.row.status,
    deadlineAt: l.row.deadline_at,
    def: l.def,
    nodes: rows.map((r) => ({
      id: r.id,
      status: r.status,
      branch: r.branch,
      notBefore: r.not_before,
      wait: r.wait ? (JSON.parse(r.wait) as NodeWait) : null,
    })),
  };
}
