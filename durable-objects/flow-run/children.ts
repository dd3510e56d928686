/** Child runs of subflow and map nodes: started with a concurrency bound, reporting back to the parent. */

import { QUEUE_FANOUT_THRESHOLD } from '../../src/flows/child-jobs';
import type { FlowNodeDef } from '../../src/flows/definition';
import { type RunStatus, TERMINAL } from '../../src/flows/run-model';
import { loadVersion, startRun } from '../../src/flows/runs-service';
import { flowRunStub } from '../../src/lib/stubs';
import type { Engine } from './engine';
import { type ChildEntry, childrenOutcome } from './next-step';
import { loadRun, node } from './store';
import type { Transitions } from './transitions';

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

  /** Starts pending children up to the node's concurrency. Child run ids are reserved in storage first. */
  async startPending(nodeId: string): Promise<void> {
    const l = loadRun(this.storage.sql);
    if (!l) return;
    const def = l.def.nodes.find((n) => n.id === nodeId) as FlowNodeDef;
    const cfg = def.config as { flowId: string; version?: number; concurrency?: number };
    const limit = def.type === 'map' ? (cfg.concurrency ?? 10) : 1;
    // Load the child flow before reading the list: no await may fall between reading and saving it.
    const version = await loadVersion(this.env, l.row.tenant_id, cfg.flowId, cfg.version);
    const list = this.#list(nodeId);
    if (list.length === 0) return this.#complete(nodeId, list);
    const running = list.filter((c) => c.status === 'running').length;
    const toStart = list
      .map((c, i) => ({ c, i }))
      .filter(({ c }) => c.status === 'pending')
      .slice(0, Math.max(0, limit - running));
    if (toStart.length === 0) return;
    for (const { c, i } of toStart) {
      c.runId ??= `${l.row.run_id}.${nodeId}.${i}`.slice(0, 120);
      c.status = 'running';
    }
    this.transitions.childrenReserved(nodeId, list);
    if (def.type === 'map' && list.length > QUEUE_FANOUT_THRESHOLD) {
      // Large fan-out: the queue starts the children (ids already reserved above), not this object.
      const jobs = toStart.map(({ c, i }) => ({
        body: {
          kind: 'flow_child_start' as const,
          tenantId: l.row.tenant_id,
          parentRunId: l.row.run_id,
          nodeId,
          index: i,
          runId: c.runId!,
          flowId: cfg.flowId,
          ...(version ? { version: version.version } : {}),
          input: c.input,
          ...(l.initiator ? { initiator: l.initiator } : {}),
        },
      }));
      for (let k = 0; k < jobs.length; k += 100) await this.env.EVENTS.sendBatch(jobs.slice(k, k + 100));
      this.transitions.childrenQueued(nodeId, jobs.length);
      return;
    }
    for (const { c, i } of toStart) {
      if (!version) {
        await this.finished(nodeId, i, 'failed', null, `flow ${cfg.flowId} not found`);
        continue;
      }
      const started = await startRun(this.env, {
        tenantId: l.row.tenant_id,
        createdBy: `run:${l.row.run_id}`,
        version,
        input: c.input,
        parent: { runId: l.row.run_id, nodeId, index: i },
        runId: c.runId!,
        ...(l.initiator ? { initiator: l.initiator } : {}),
      });
      if ('code' in started)
        await this.finished(nodeId, i, 'failed', null, started.errors.map((e) => `${e.path}: ${e.message}`).join('; '));
    }
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
    const version = await loadVersion(this.env, l.row.tenant_id, flowId);
    const problem = !version
      ? `flow ${flowId} not found`
      : await startRun(this.env, {
          tenantId: l.row.tenant_id,
          createdBy: `run:${l.row.run_id}`,
          version,
          input,
          parent: { runId: l.row.run_id, nodeId, index },
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
    else await this.startPending(nodeId);
  }

  async #complete(nodeId: string, list: ChildEntry[]): Promise<void> {
    const l = loadRun(this.storage.sql);
    if (!l) return;
    const outcome = childrenOutcome(l.def.nodes.find((n) => n.id === nodeId)!.type, list);
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
