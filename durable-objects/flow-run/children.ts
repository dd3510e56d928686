/**
 * Child runs of subflow and map nodes: started with a concurrency bound, reporting back to the parent.
 * Each child takes a place in the tenant's budget of live child runs (held by its TenantHub, freed by the
 * child's own report when it ends) and nests one level deeper than its parent; a node whose children
 * would exceed either ceiling fails with kind `limit` instead (src/flows/ceilings.ts).
 */

import { type AgentRef, childTargetName, loadChildVersion } from '../../src/evals/targets';
import { MAX_RUN_DEPTH, PLAN_CEILINGS } from '../../src/flows/ceilings';
import { QUEUE_FANOUT_THRESHOLD } from '../../src/flows/child-jobs';
import type { FlowNodeDef } from '../../src/flows/definition';
import { NODE_TYPES } from '../../src/flows/nodes/registry';
import { type RunParent, type RunStatus, TERMINAL } from '../../src/flows/run-model';
import { loadVersion, startRun } from '../../src/flows/runs-service';
import { flowRunStub, tenantHubStub } from '../../src/lib/stubs';
import type { ChildAdmission } from '../tenant-hub/run-admission';
import type { Engine } from './engine';
import { type ChildEntry, childrenOutcome } from './next-step';
import { type Loaded, loadRun, node } from './store';
import type { NodeErrorData, Transitions } from './transitions';

/** The nesting depth of this run's children: one deeper than the run (a run started by the API is at 0). */
/**
 * A place whose run does not exist yet may belong to a child still being started (through the queue);
 * only after this long is it taken for one that never will be.
 */
export const CHILD_START_GRACE_MS = 5 * 60_000;

export function childDepth(parent: RunParent | null): number {
  return (parent ? (parent.depth ?? 1) : 0) + 1;
}

export class ChildRuns {
  constructor(
    private readonly storage: DurableObjectStorage,
    private readonly env: Env,
    private readonly transitions: Transitions,
    private readonly engine: () => Engine,
  ) {}

  #list(nodeId: string): ChildEntry[] {
    const r = node(this.storage.sql, nodeId);
    return r?.children ? (JSON.parse(r.children) as ChildEntry[]) : [];
  }

  /**
   * Starts pending children up to the node's concurrency, as many as the tenant's hub grants places in its
   * live child-run budget (the others stay pending until this node's own children end and free places; a
   * node with no child running that gets no place fails with kind `limit`, it never waits on other runs).
   * Child run ids are reserved in storage first. `ended` is a child of this node that just ended: its place
   * is freed in the same call to the hub.
   */
  async startPending(nodeId: string, ended?: string): Promise<void> {
    const l = loadRun(this.storage.sql);
    if (!l || TERMINAL.has(l.row.status)) return;
    const def = l.def.nodes.find((n) => n.id === nodeId) as FlowNodeDef;
    // An experiment on an agent names `agent` instead of `flowId` (src/evals/targets.ts).
    const cfg = def.config as { flowId?: string; version?: number; agent?: AgentRef; concurrency?: number };
    // A subflow has one child; fan-out types (map, experiments) start up to their concurrency.
    const limit = def.type === 'subflow' ? 1 : (cfg.concurrency ?? 10);
    // Load the child flow before reading the list: no await may fall between reading and saving it.
    const version = await loadChildVersion(this.env, l.row.tenant_id, cfg);
    // The node may have failed meanwhile (a refused budget): it starts nothing more.
    if (node(this.storage.sql, nodeId)?.status !== 'waiting') return;
    const list = this.#list(nodeId);
    if (list.length === 0) return this.#complete(nodeId, list);
    const running = list.filter((c) => c.status === 'running').length;
    const toStart = list
      .map((c, i) => ({ c, i }))
      .filter(({ c }) => c.status === 'pending')
      .slice(0, Math.max(0, limit - running));
    if (toStart.length === 0) return;
    const depth = childDepth(l.parent);
    if (depth > MAX_RUN_DEPTH) {
      return this.#refuse(nodeId, [], {
        kind: 'limit',
        message: `${def.type} '${nodeId}': its child runs would nest ${depth} deep; runs nest at most ${MAX_RUN_DEPTH} deep`,
        details: { limit: 'run_depth', max: MAX_RUN_DEPTH, depth },
      });
    }
    for (const { c, i } of toStart) {
      c.runId ??= `${l.row.run_id}.${nodeId}.${i}`.slice(0, 120);
      c.status = 'running';
    }
    this.transitions.childrenReserved(nodeId, list);
    let starting = toStart;
    if (version) {
      const ids = toStart.map(({ c }) => c.runId!);
      const answer = await this.#admit(l, ids, running === 0, ended);
      if (answer.granted.length < ids.length) {
        if (answer.granted.length === 0 && running === 0) {
          return this.#refuse(nodeId, ids, {
            kind: 'limit',
            message: `${def.type} '${nodeId}': the tenant's ${answer.budget} places for live child runs are taken (${answer.live} alive); no child could start`,
            details: { limit: 'live_child_runs', budget: answer.budget, live: answer.live, requested: ids.length },
          });
        }
        // The rest wait, pending, for places this node's own children give back when they end.
        const granted = new Set(answer.granted);
        starting = toStart.filter(({ c }) => granted.has(c.runId!));
        const now = this.#list(nodeId);
        for (const { c, i } of toStart) if (!granted.has(c.runId!) && now[i]?.status === 'running') now[i]!.status = 'pending';
        this.transitions.childrenReserved(nodeId, now);
        if (starting.length === 0) return;
      }
    }
    if (def.type !== 'subflow' && list.length > QUEUE_FANOUT_THRESHOLD) {
      // Large fan-out: the queue starts the children (ids already reserved above), not this object.
      const jobs = starting.map(({ c, i }) => ({
        body: {
          kind: 'flow_child_start' as const,
          tenantId: l.row.tenant_id,
          parentRunId: l.row.run_id,
          nodeId,
          index: i,
          runId: c.runId!,
          flowId: cfg.agent?.agentId ?? cfg.flowId!,
          ...(version ? { version: version.version } : {}),
          ...(cfg.agent ? { agent: cfg.agent } : {}),
          input: c.input,
          depth,
          ...(l.initiator ? { initiator: l.initiator } : {}),
        },
      }));
      for (let k = 0; k < jobs.length; k += 100) await this.env.EVENTS.sendBatch(jobs.slice(k, k + 100));
      this.transitions.childrenQueued(nodeId, jobs.length);
      return;
    }
    for (const { c, i } of starting) {
      if (!version) {
        await this.finished(nodeId, i, 'failed', null, `${childTargetName(cfg)} not found`);
        continue;
      }
      const started = await startRun(this.env, {
        tenantId: l.row.tenant_id,
        createdBy: `run:${l.row.run_id}`,
        version,
        input: c.input,
        parent: { runId: l.row.run_id, nodeId, index: i, depth },
        runId: c.runId!,
        ...(l.initiator ? { initiator: l.initiator } : {}),
      });
      if ('code' in started) {
        // No child run exists: its place goes back at once.
        await tenantHubStub(this.env, l.row.tenant_id).releaseChildRuns(l.row.tenant_id, [c.runId!]);
        await this.finished(nodeId, i, 'failed', null, started.errors.map((e) => `${e.path}: ${e.message}`).join('; '));
      }
    }
  }

  /**
   * Asks the tenant's hub for places for `ids`. With `repair` (the node would fail without a place), when
   * none was granted the oldest holders are checked against their runs: places of runs that are over (their
   * end never reached the hub), or that do not exist CHILD_START_GRACE_MS after their place was taken, are
   * freed and the hub is asked once more.
   */
  async #admit(l: Loaded, ids: string[], repair: boolean, ended: string | undefined): Promise<ChildAdmission> {
    const tenantId = l.row.tenant_id;
    const hub = tenantHubStub(this.env, tenantId);
    const budget = l.settings.liveChildRuns ?? PLAN_CEILINGS.free.liveChildRuns;
    const first = await hub.admitChildRuns(tenantId, l.row.run_id, ids, budget, ended ? [ended] : []);
    if (first.granted.length > 0 || !repair) return first;
    const now = Date.now();
    const checked = await Promise.all(
      first.oldest
        .filter((o) => !ids.includes(o.runId))
        .map(async ({ runId, admittedAt }) => {
          const truth = await flowRunStub(this.env, runId)
            .reconcile(null)
            .catch(() => undefined);
          if (truth === undefined) return null;
          const over = truth === null ? now - admittedAt > CHILD_START_GRACE_MS : TERMINAL.has(truth.status);
          return over ? runId : null;
        }),
    );
    const over = checked.filter((id): id is string => id !== null);
    if (over.length === 0) return first;
    await hub.releaseChildRuns(tenantId, over);
    return hub.admitChildRuns(tenantId, l.row.run_id, ids, budget);
  }

  /**
   * The node cannot start its children (a ceiling): the entries it had reserved (`refused`) are marked failed,
   * the node fails with `error`, the children it already started are cancelled (their places free), and under
   * fail_fast the run ends.
   */
  async #refuse(nodeId: string, refused: string[], error: NodeErrorData): Promise<void> {
    const list = this.#list(nodeId);
    for (const c of list) {
      if (c.runId !== null && refused.includes(c.runId)) {
        c.status = 'failed';
        c.error = error.message;
      }
    }
    if (refused.length) this.transitions.childrenReserved(nodeId, list);
    if (!this.transitions.nodeFailed(nodeId, { status: 'waiting' }, error)) return;
    for (const c of list)
      if (c.runId && c.status === 'running')
        await flowRunStub(this.env, c.runId)
          .cancel(`parent node '${nodeId}' failed: ${error.message}`)
          .catch(() => undefined);
    if (loadRun(this.storage.sql)?.def.policy.onFailure === 'fail_fast')
      await this.engine().finish('failed', `node ${nodeId}: ${error.message}`);
  }

  /** Whether this run still waits for child `runId` at `index` of `nodeId` (a queued start checks before and after starting it). */
  wants(nodeId: string, index: number, runId: string): boolean {
    const l = loadRun(this.storage.sql);
    if (!l || TERMINAL.has(l.row.status) || node(this.storage.sql, nodeId)?.status !== 'waiting') return false;
    const c = this.#list(nodeId)[index];
    return c?.runId === runId && c.status === 'running';
  }

  /**
   * An agent's flow tool: reserves the child under `key` (idempotent) and starts it. A child that
   * cannot start (no such flow, invalid input) is recorded as failed at once.
   */
  async startForAgent(nodeId: string, key: string, flowId: string, input: unknown): Promise<ChildEntry> {
    const l = loadRun(this.storage.sql);
    if (!l) throw new Error('no run');
    const { entry, index } = this.transitions.agentChildReserved(nodeId, key, input);
    if (entry.status !== 'running') return entry;
    // The same nesting ceiling as subflow/map (src/flows/ceilings.ts): a tool flow may not nest past it.
    const depth = childDepth(l.parent);
    if (depth > MAX_RUN_DEPTH) {
      await this.finished(nodeId, index, 'failed', null, `its child run would nest ${depth} deep; runs nest at most ${MAX_RUN_DEPTH} deep`);
      return this.#list(nodeId)[index] ?? entry;
    }
    const version = await loadVersion(this.env, l.row.tenant_id, flowId);
    const problem = !version
      ? `flow ${flowId} not found`
      : await startRun(this.env, {
          tenantId: l.row.tenant_id,
          createdBy: `run:${l.row.run_id}`,
          version,
          input,
          parent: { runId: l.row.run_id, nodeId, index, depth },
          runId: entry.runId!,
          ...(l.initiator ? { initiator: l.initiator } : {}),
        }).then((r) => ('code' in r ? r.errors.map((e) => `${e.path}: ${e.message}`).join('; ') : null));
    if (problem !== null) await this.finished(nodeId, index, 'failed', null, problem);
    return this.#list(nodeId)[index] ?? entry;
  }

  /** The agent child started under `key`. */
  agentChild(nodeId: string, key: string): ChildEntry | undefined {
    return this.#list(nodeId).find((c) => c.key === key);
  }

  async finished(nodeId: string, index: number, status: RunStatus, output: unknown, error: string | null): Promise<void> {
    if (!TERMINAL.has(status)) return;
    const run = loadRun(this.storage.sql);
    if (!run || TERMINAL.has(run.row.status)) return; // the parent is already over (e.g. cancelled)
    const list = this.#list(nodeId);
    const c = list[index];
    if (!c || TERMINAL.has(c.status as RunStatus)) return;
    c.status = status === 'succeeded' ? 'succeeded' : status === 'cancelled' ? 'cancelled' : 'failed';
    c.output = output;
    if (error) c.error = error;
    this.transitions.childFinished(nodeId, list, index);
    // An agent node re-runs (replaying its steps) once everything it waits for has ended.
    if (c.key !== undefined) {
      this.transitions.agentChildEnded(nodeId);
      return;
    }
    if (list.every((x) => TERMINAL.has(x.status as RunStatus))) await this.#complete(nodeId, list);
    else await this.startPending(nodeId, c.runId ?? undefined);
  }

  async #complete(nodeId: string, list: ChildEntry[]): Promise<void> {
    const l = loadRun(this.storage.sql);
    if (!l) return;
    const type = l.def.nodes.find((n) => n.id === nodeId)!.type;
    const collect = NODE_TYPES[type]?.collectChildren;
    const outcome = collect ? { ok: true as const, output: collect(list) } : childrenOutcome(type, list);
    if (outcome.ok) {
      this.transitions.nodeSucceeded(nodeId, { status: 'waiting' }, outcome.output);
      return;
    }
    const failed = this.transitions.nodeFailed(nodeId, { status: 'waiting' }, outcome.error);
    if (failed && l.def.policy.onFailure === 'fail_fast') await this.engine().finish('failed', `node ${nodeId}: child run(s) failed`);
  }

  async cancelAll(): Promise<void> {
    const sql = this.storage.sql;
    const rows = sql.exec<{ id: string; children: string | null }>(`SELECT id, children FROM nodes WHERE children IS NOT NULL`).toArray();
    for (const r of rows) {
      for (const c of JSON.parse(r.children!) as ChildEntry[])
        if (c.runId && c.status === 'running')
          await flowRunStub(this.env, c.runId)
            .cancel('parent cancelled')
            .catch(() => undefined);
    }
  }
}
