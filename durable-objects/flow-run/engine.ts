/**
 * The run state machine. Every transition is one SQLite transaction that also
 * appends its event, so state and stream never disagree. Nodes whose
 * dependencies are met start together (parallel branches); a node that was
 * 'running' when the object died is started again (at least once), and its
 * success is recorded by compare-and-set (exactly once).
 */
import type { Config } from '../../src/config';
import type { FlowNodeDef } from '../../src/flows/definition';
import { NODE_TYPES } from '../../src/flows/nodes/registry';
import { type EvalScope, NodeError, type Usage } from '../../src/flows/nodes/types';
import { backoffDelay, plan, sinks } from '../../src/flows/plan';
import { type RunStatus, TERMINAL } from '../../src/flows/run-model';
import { runAttempt, shouldRetry } from './execute';
import { appendEvent, type Loaded, loadRun, type NodeRow, node, nodes, setRunStatus, states } from './store';

export interface EngineHost {
  storage: DurableObjectStorage;
  env: Env;
  config(): Config;
  /** Push new events to subscribers. */
  flush(): void;
  /** Run status changed (D1 index, tenant sync, slot release, parent notification). */
  report(status: RunStatus): Promise<void>;
  /** Start child runs for a subflow/map node. */
  startChildren(nodeId: string): Promise<void>;
}

export interface ChildEntry {
  runId: string | null;
  input: unknown;
  status: 'pending' | 'running' | 'succeeded' | 'failed' | 'cancelled';
  output?: unknown;
  error?: string;
}

export class Engine {
  #inflight = new Map<string, Promise<void>>();
  #cancel = new AbortController();
  #driving: Promise<void> | null = null;
  #again = false;

  constructor(private readonly host: EngineHost) {}

  get sql(): SqlStorage {
    return this.host.storage.sql;
  }

  tx<T>(fn: () => T): T {
    return this.host.storage.transactionSync(fn);
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
      const l = loadRun(this.sql);
      if (!l || (l.row.status !== 'running' && l.row.status !== 'waiting')) return;
      const now = Date.now();
      if (l.row.deadline_at !== null && now >= l.row.deadline_at) {
        await this.finish('failed', `run timed out after ${l.def.policy.timeoutMs} ms`);
        return;
      }
      this.#wakeUp(l, now);
      const rows = nodes(this.sql);
      const p = plan(l.def, states(rows), now);
      if (p.skip.length)
        this.tx(() => {
          for (const id of p.skip) this.#setNode(id, 'skipped', { finished_at: iso() }, 'node.skipped');
        });
      const interrupted = rows.filter((r) => r.status === 'running' && !this.#inflight.has(r.id)).map((r) => r.id);
      const budget = l.def.policy.maxParallel - this.#inflight.size;
      for (const id of [...interrupted, ...p.ready.filter((id) => !this.#inflight.has(id))].slice(0, Math.max(0, budget)))
        this.#launch(l, id, interrupted.includes(id));
      this.host.flush();
      if (this.#inflight.size === 0) {
        const after = plan(l.def, states(nodes(this.sql)), Date.now());
        if (after.done) await this.finish(after.failed ? 'failed' : 'succeeded', after.failed ? failureSummary(nodes(this.sql)) : null);
        else await this.#park(l);
        return;
      }
      // Wake for whichever comes first: a node finishing, a retry falling due, a wait or the run deadline.
      const next = this.#nextTimer(l);
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([
        ...this.#inflight.values(),
        ...(next === null ? [] : [new Promise<void>((resolve) => (timer = setTimeout(resolve, Math.max(0, next - Date.now()))))]),
      ]);
      if (timer !== undefined) clearTimeout(timer);
    }
  }

  /** The earliest time something other than an in-flight node needs attention, or null. */
  #nextTimer(l: Loaded): number | null {
    const times = [
      l.row.deadline_at,
      ...nodes(this.sql)
        .filter((r) => r.status === 'pending' || r.status === 'waiting')
        .map((r) => r.not_before),
    ];
    const due = times.filter((t): t is number => t !== null && t !== undefined);
    return due.length ? Math.min(...due) : null;
  }

  /** Delays that elapsed succeed; approvals past their timeout fail. */
  #wakeUp(l: Loaded, now: number): void {
    for (const r of nodes(this.sql)) {
      if (r.status !== 'waiting' || !r.wait) continue;
      const w = JSON.parse(r.wait) as { until?: number; forSignal?: boolean; timeoutAt?: number; children?: boolean };
      if (w.until !== undefined && w.until <= now) {
        this.tx(() => this.#succeed(r, { waitedUntil: new Date(w.until!).toISOString() }, null));
      } else if (w.forSignal && w.timeoutAt !== undefined && w.timeoutAt <= now) {
        this.tx(() => this.#fail(l, r, new NodeError('timeout', `approval '${r.id}' was not signalled in time`, false)));
      }
    }
  }

  #launch(l: Loaded, id: string, resumed: boolean): void {
    const def = l.def.nodes.find((n) => n.id === id)!;
    const attempt = this.tx(() => {
      const r = node(this.sql, id)!;
      const a = resumed ? Math.max(1, r.attempt) : r.attempt + 1;
      this.sql.exec(
        `UPDATE nodes SET status = 'running', attempt = ?, started_at = COALESCE(?, started_at), not_before = NULL WHERE id = ?`,
        a,
        resumed ? null : iso(),
        id,
      );
      appendEvent(this.sql, 'node.started', id, { attempt: a, ...(resumed ? { resumed: true } : {}) });
      return a;
    });
    const p = this.#execute(l, def, attempt).finally(() => this.#inflight.delete(id));
    this.#inflight.set(id, p);
  }

  async #execute(l: Loaded, def: FlowNodeDef, attempt: number): Promise<void> {
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
      emitDelta: (delta) => {
        appendEvent(this.sql, 'node.delta', def.id, delta);
        this.host.flush();
      },
      addUsage: (u) => this.#addUsage(def.id, u),
    });
    let children = false;
    this.tx(() => {
      const r = node(this.sql, def.id);
      // Compare-and-set: only the attempt that is current may record an outcome.
      if (r?.status !== 'running' || r.attempt !== attempt) return;
      if (!outcome.ok) return this.#fail(l, r, outcome.error);
      const res = outcome.result;
      if (res.status === 'waiting') {
        this.sql.exec(
          `UPDATE nodes SET status = 'waiting', wait = ?, not_before = ? WHERE id = ?`,
          JSON.stringify(res),
          res.until ?? res.timeoutAt ?? null,
          r.id,
        );
        appendEvent(this.sql, 'node.waiting', r.id, res);
      } else if (NODE_TYPES[def.type]?.startsChildRuns) {
        const list = ((res.output as { children?: Array<{ input: unknown }> }).children ?? []).map(
          (c): ChildEntry => ({ runId: null, input: c.input, status: 'pending' }),
        );
        this.sql.exec(
          `UPDATE nodes SET status = 'waiting', wait = ?, children = ? WHERE id = ?`,
          JSON.stringify({ children: true }),
          JSON.stringify(list),
          r.id,
        );
        appendEvent(this.sql, 'node.waiting', r.id, { children: list.length });
        children = true;
      } else {
        this.#succeed(r, res.output, res.branch ?? null);
      }
    });
    this.host.flush();
    if (children) await this.host.startChildren(def.id);
    if (!outcome.ok && loadRun(this.sql)?.def.policy.onFailure === 'fail_fast' && node(this.sql, def.id)?.status === 'failed') {
      await this.finish('failed', outcome.error.message);
    }
  }

  #scope(l: Loaded, nodeId: string, attempt: number): EvalScope {
    const out: EvalScope['nodes'] = {};
    for (const r of nodes(this.sql)) out[r.id] = { status: r.status, output: r.output === null ? null : JSON.parse(r.output) };
    return {
      input: l.input,
      nodes: out,
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

  #succeed(r: NodeRow, output: unknown, branch: string | null): void {
    this.sql.exec(
      `UPDATE nodes SET status = 'succeeded', output = ?, branch = ?, error = NULL, wait = NULL, not_before = NULL, finished_at = ?, successes = successes + 1 WHERE id = ?`,
      JSON.stringify(output ?? null),
      branch,
      iso(),
      r.id,
    );
    appendEvent(this.sql, 'node.succeeded', r.id, { attempt: r.attempt, output, ...(branch !== null ? { branch } : {}) });
  }

  #fail(l: Loaded, r: NodeRow, error: NodeError): void {
    const def = l.def.nodes.find((n) => n.id === r.id)!;
    const err = { kind: error.kind, message: error.message, ...(error.details ? { details: error.details } : {}) };
    // Attempts count from the last resume, so a resumed node gets its retry budget again.
    if (shouldRetry(def, r.attempt - (r.attempt_base ?? 0), error)) {
      const retry = def.retry!;
      const retryAfter = Number((error.details as { retryAfter?: string } | undefined)?.retryAfter);
      const delay = Math.max(
        backoffDelay(r.attempt, retry.backoffMs, retry.maxBackoffMs),
        Number.isFinite(retryAfter) ? retryAfter * 1000 : 0,
      );
      this.sql.exec(
        `UPDATE nodes SET status = 'pending', error = ?, not_before = ? WHERE id = ?`,
        JSON.stringify(err),
        Date.now() + delay,
        r.id,
      );
      appendEvent(this.sql, 'node.retrying', r.id, { attempt: r.attempt, nextAttempt: r.attempt + 1, delayMs: delay, error: err });
      return;
    }
    this.sql.exec(
      `UPDATE nodes SET status = 'failed', error = ?, wait = NULL, finished_at = ? WHERE id = ?`,
      JSON.stringify(err),
      iso(),
      r.id,
    );
    appendEvent(this.sql, 'node.failed', r.id, { attempt: r.attempt, error: err });
  }

  #setNode(id: string, status: string, fields: Record<string, SqlStorageValue>, event: string): void {
    const sets = Object.keys(fields)
      .map((k) => `, ${k} = ?`)
      .join('');
    this.sql.exec(`UPDATE nodes SET status = ?${sets} WHERE id = ?`, status, ...Object.values(fields), id);
    appendEvent(this.sql, event, id, null);
  }

  #addUsage(nodeId: string, u: Usage): void {
    this.tx(() => {
      this.sql.exec(
        `UPDATE nodes SET input_tokens = input_tokens + ?, output_tokens = output_tokens + ?, cost_usd = cost_usd + ? WHERE id = ?`,
        u.inputTokens,
        u.outputTokens,
        u.costUsd,
        nodeId,
      );
      this.sql.exec(
        `UPDATE run SET input_tokens = input_tokens + ?, output_tokens = output_tokens + ?, cost_usd = cost_usd + ? WHERE id = 1`,
        u.inputTokens,
        u.outputTokens,
        u.costUsd,
      );
      appendEvent(this.sql, 'node.usage', nodeId, u);
    });
  }

  /** Parks the run: 'waiting' if only waits remain; the alarm wakes it at the next due time. */
  async #park(l: Loaded): Promise<void> {
    const rows = nodes(this.sql);
    const next = [
      l.row.deadline_at,
      ...rows.filter((r) => r.status === 'pending' || r.status === 'waiting').map((r) => r.not_before),
    ].filter((t): t is number => t !== null && t !== undefined);
    if (next.length) await this.host.storage.setAlarm(Math.min(...next));
    const waiting = rows.some((r) => r.status === 'waiting') && !rows.some((r) => r.status === 'running');
    const status: RunStatus = waiting ? 'waiting' : 'running';
    if (status !== l.row.status) {
      this.tx(() => {
        setRunStatus(this.sql, status);
        appendEvent(this.sql, status === 'waiting' ? 'run.waiting' : 'run.resumed', null, {
          waitingOn: rows.filter((r) => r.status === 'waiting').map((r) => r.id),
        });
      });
      this.host.flush();
      await this.host.report(status);
    }
  }

  /** Ends the run: open nodes are cancelled, the output is the sinks' outputs. */
  async finish(status: 'succeeded' | 'failed' | 'cancelled', error: string | null): Promise<void> {
    const l = loadRun(this.sql);
    if (!l || TERMINAL.has(l.row.status)) return;
    this.#cancel.abort();
    this.#cancel = new AbortController();
    this.tx(() => {
      for (const r of nodes(this.sql)) {
        if (r.status === 'pending' || r.status === 'running' || r.status === 'waiting') {
          this.sql.exec(`UPDATE nodes SET status = 'cancelled', wait = NULL, finished_at = ? WHERE id = ?`, iso(), r.id);
          appendEvent(this.sql, 'node.cancelled', r.id, null);
        }
      }
      const output: Record<string, unknown> = {};
      for (const id of sinks(l.def)) {
        const r = node(this.sql, id);
        if (r?.status === 'succeeded') output[id] = r.output === null ? null : JSON.parse(r.output);
      }
      setRunStatus(this.sql, status, { finished_at: iso(), error, output });
      appendEvent(this.sql, status === 'succeeded' ? 'run.completed' : status === 'failed' ? 'run.failed' : 'run.cancelled', null, {
        status,
        error,
        output,
      });
    });
    await this.host.storage.deleteAlarm();
    this.host.flush();
    await this.host.report(status);
  }
}

function iso(): string {
  return new Date().toISOString();
}

function failureSummary(rows: NodeRow[]): string {
  const failed = rows.filter((r) => r.status === 'failed').map((r) => r.id);
  return failed.length ? `node(s) failed: ${failed.join(', ')}` : 'run failed';
}
