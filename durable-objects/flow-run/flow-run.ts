/**
 * FlowRun: one per run (addressed by run id). Owns the run's state machine,
 * event log and alarms in its own SQLite storage. All driving happens in the
 * alarm handler, so a crash mid-step is retried by the platform (alarms are
 * at-least-once) and resumes from persisted state.
 */
import { DurableObject } from 'cloudflare:workers';
import { loadConfig } from '../../src/config';
import { type Approvers, approvalOutput, mayApprove, type Signer } from '../../src/flows/nodes/approval';
import { type RunInit, type RunStatus, type RunView, TERMINAL } from '../../src/flows/run-model';
import type { Result } from '../../src/lib/result';
import { migrateDoStorage } from '../shared/migrations';
import { ChildRuns } from './children';
import { Engine } from './engine';
import { reportRunStatus } from './report';
import { RUN_MIGRATIONS } from './schema';
import { eventsAfter, lastEventSeq, loadRun, nodes, runView } from './store';
import { pushToSockets, SseHub } from './stream';
import { Transitions } from './transitions';

export class FlowRun extends DurableObject<Env> {
  #engine: Engine;
  #children: ChildRuns;
  #t: Transitions;
  #sse = new SseHub();
  #pushed = 0;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.#t = new Transitions(ctx.storage);
    this.#children = new ChildRuns(ctx.storage, env, this.#t, () => this.#engine);
    this.#engine = new Engine({
      storage: ctx.storage,
      transitions: this.#t,
      env,
      config: () => loadConfig(env),
      flush: () => this.#flush(),
      report: (status) => this.#report(status),
      startChildren: (nodeId) => this.#children.startPending(nodeId),
    });
    void ctx.blockConcurrencyWhile(async () => {
      migrateDoStorage(ctx.storage, RUN_MIGRATIONS);
      this.#pushed = lastEventSeq(ctx.storage.sql);
    });
  }

  /** Stores the run (idempotent: a second init is ignored). */
  async init(init: RunInit): Promise<void> {
    if (this.#t.runCreated(init)) this.#flush();
  }

  /** Admitted: start running (idempotent). */
  async start(): Promise<void> {
    const now = this.#t.runStarted();
    if (now === null) return;
    this.#flush();
    // Arm first, and do not make the caller wait for the status fan-out (D1 index, tenant sync):
    // reports are serialized in #report, so a later terminal report can never be overtaken.
    await this.ctx.storage.setAlarm(now);
    this.ctx.waitUntil(this.#report('running'));
  }

  #reports: Promise<void> = Promise.resolve();

  /** Status fan-out, one at a time and in order (a fast run's 'succeeded' lands after its 'running'). */
  #report(status: RunStatus): Promise<void> {
    const next = this.#reports.then(() => reportRunStatus(this.env, this.ctx.storage.sql, status));
    this.#reports = next.catch(() => undefined);
    return next;
  }

  override async alarm(): Promise<void> {
    await this.#engine.drive();
  }

  /** For the sweeper: re-arm a run that looks stuck (the alarm re-drives from persisted state). */
  async kick(): Promise<RunStatus | null> {
    const l = loadRun(this.ctx.storage.sql);
    if (!l) return null;
    if (l.row.status === 'running' || l.row.status === 'waiting') await this.ctx.storage.setAlarm(Date.now());
    return l.row.status;
  }

  /** The run as the API shows it, or null if this object holds no run. */
  async getState(): Promise<RunView | null> {
    return runView(this.ctx.storage.sql);
  }

  async cancel(reason?: string): Promise<Result<RunView>> {
    const l = loadRun(this.ctx.storage.sql);
    if (!l) return { ok: false, code: 'not_found', detail: 'Run not found.' };
    if (TERMINAL.has(l.row.status)) return { ok: false, code: 'conflict', detail: `Run is already ${l.row.status}.` };
    // Finish first: the children's own cancellations then report to a run that is already over.
    await this.#engine.finish('cancelled', reason ?? 'cancelled by request');
    await this.#children.cancelAll();
    return { ok: true, value: runView(this.ctx.storage.sql)! };
  }

  /**
   * Resume a failed or cancelled run: only failed, cancelled and (their)
   * skipped nodes run again; succeeded nodes keep their outputs. The run goes
   * back to 'queued' and the caller asks the hub for a slot.
   */
  async resume(): Promise<Result<RunView>> {
    const sql = this.ctx.storage.sql;
    const l = loadRun(sql);
    if (!l) return { ok: false, code: 'not_found', detail: 'Run not found.' };
    if (l.row.status !== 'failed' && l.row.status !== 'cancelled')
      return { ok: false, code: 'conflict', detail: `Only failed or cancelled runs resume; this one is ${l.row.status}.` };
    this.#t.runResumed();
    this.#flush();
    return { ok: true, value: runView(sql)! };
  }

  /** Delivers a signal to a waiting approval node (the only one, or the named one), if its `approvers` admit the signer. */
  async signal(nodeId: string | undefined, payload: unknown, signer: Signer): Promise<Result<RunView>> {
    const sql = this.ctx.storage.sql;
    const l = loadRun(sql);
    if (!l) return { ok: false, code: 'not_found', detail: 'Run not found.' };
    const waiting = nodes(sql).filter((r) => r.status === 'waiting' && r.wait && (JSON.parse(r.wait) as { forSignal?: boolean }).forSignal);
    const target = nodeId ? waiting.find((r) => r.id === nodeId) : waiting.length === 1 ? waiting[0] : undefined;
    if (!target) {
      return {
        ok: false,
        code: 'conflict',
        detail: nodeId
          ? `Node '${nodeId}' is not waiting for a signal.`
          : waiting.length
            ? `Several nodes wait for a signal (${waiting.map((w) => w.id).join(', ')}); name one.`
            : 'No node is waiting for a signal.',
      };
    }
    const approvers = (l.def.nodes.find((n) => n.id === target.id)?.config as { approvers?: Approvers } | undefined)?.approvers;
    if (!mayApprove(approvers, signer)) {
      return {
        ok: false,
        code: 'forbidden',
        detail: `Node '${target.id}' may be approved only by its approvers (see its config.approvers).`,
      };
    }
    this.#t.nodeSignalled(target.id, approvalOutput(payload, signer), signer);
    this.#flush();
    await this.ctx.storage.setAlarm(Date.now());
    return { ok: true, value: runView(sql)! };
  }

  /** A child run (subflow/map) finished. */
  async childFinished(nodeId: string, index: number, status: RunStatus, output: unknown, error: string | null): Promise<void> {
    await this.#children.finished(nodeId, index, status, output, error);
    this.#flush();
    await this.ctx.storage.setAlarm(Date.now());
  }

  /** GET …/events (SSE, Last-Event-ID) and GET …/ws (hibernatable WebSocket). */
  override async fetch(request: Request): Promise<Response> {
    const url = new URL(request.url);
    const sql = this.ctx.storage.sql;
    const l = loadRun(sql);
    if (!l) return new Response('run not found', { status: 404 });
    const after = Number(request.headers.get('last-event-id') ?? url.searchParams.get('after') ?? '0') || 0;
    const backlog = eventsAfter(sql, after);
    if (url.pathname.endsWith('/ws')) {
      const pair = new WebSocketPair();
      this.ctx.acceptWebSocket(pair[1]);
      for (const e of backlog) pair[1].send(JSON.stringify(e));
      return new Response(null, { status: 101, webSocket: pair[0] });
    }
    return this.#sse.open(backlog, TERMINAL.has(l.row.status));
  }

  override async webSocketMessage(ws: WebSocket, message: string | ArrayBuffer): Promise<void> {
    if (message === 'ping' || message === '{"type":"ping"}') ws.send('{"type":"pong"}');
  }

  override async webSocketClose(ws: WebSocket, code: number): Promise<void> {
    try {
      ws.close(code === 1005 ? 1000 : code, 'bye');
    } catch {
      // already closed
    }
  }

  #flush(): void {
    const fresh = eventsAfter(this.ctx.storage.sql, this.#pushed);
    if (fresh.length === 0) return;
    this.#pushed = fresh[fresh.length - 1]!.seq;
    const terminal = fresh.some((e) => e.type === 'run.completed' || e.type === 'run.failed' || e.type === 'run.cancelled');
    this.#sse.push(fresh, terminal);
    pushToSockets(this.ctx.getWebSockets(), fresh);
  }
}
