/**
 * FlowRun: one per run (addressed by run id). Owns the run's state machine,
 * event log and alarms in its own SQLite storage. All driving happens in the
 * alarm handler, so a crash mid-step is retried by the platform (alarms are
 * at-least-once) and resumes from persisted state.
 */
import { DurableObject } from 'cloudflare:workers';
import { loadConfig } from '../../src/config';
import { type Approvers, approvalOutput, mayApprove, type Signer } from '../../src/flows/nodes/approval';
import type { ChildRunInfo } from '../../src/flows/nodes/types';
import { type RunInit, type RunStatus, type RunView, TENANT_HEADER, TERMINAL } from '../../src/flows/run-model';
import type { Result } from '../../src/lib/result';
import { tenantHubStub } from '../../src/lib/stubs';
import { migrateDoStorage } from '../shared/migrations';
import { agentSignal } from './agent-signals';
import { alarmFault, type FaultState, injectFault, type RunFault } from './chaos';
import { ChildRuns } from './children';
import { Engine } from './engine';
import type { ChildEntry, NodeWait } from './next-step';
import { enqueueSummary, nextReportAt, pendingReports, ReportOutbox, releasePending } from './reports';
import { retentionAt } from './retention';
import { RUN_FRESH, RUN_MIGRATIONS } from './schema';
import { eventFramesAfter, forgetRun, lastEventSeq, loadRun, nodes, runStatus, runView, stepRow } from './store';
import { type EventSource, pushToSockets, SseHub, sendBacklog, WS_RESUME_CODE } from './stream';
import { Transitions } from './transitions';

/** What the sweeper's reconciler learns from a run (src/flows/sweep.ts). */
export interface RunTruth {
  status: RunStatus;
  pendingReports: number;
  /** Its slot release is still being delivered (the reconciler leaves that slot alone). */
  releasePending: boolean;
}

export class FlowRun extends DurableObject<Env> {
  #engine: Engine;
  #children: ChildRuns;
  #t: Transitions;
  #reports: ReportOutbox;
  #sse: SseHub;
  /** The last event seq pushed to WebSockets; null while none is open (no query per flush then). */
  #pushed: number | null = null;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.#t = new Transitions(ctx.storage);
    this.#reports = new ReportOutbox(ctx.storage, env);
    const log: EventSource = {
      read: (after, limit) => eventFramesAfter(ctx.storage.sql, after, limit),
      ended: () => {
        const status = runStatus(ctx.storage.sql);
        return status === undefined || TERMINAL.has(status);
      },
    };
    this.#sse = new SseHub(log);
    this.#children = new ChildRuns(ctx.storage, env, this.#t, () => this.#engine);
    this.#engine = new Engine({
      storage: ctx.storage,
      transitions: this.#t,
      env,
      config: () => loadConfig(env),
      flush: () => this.#flush(),
      reportsQueued: () => this.#reportsQueued(),
      externalWork: () => this.#externalWork?.(),
      startChildren: (nodeId) => this.#children.startPending(nodeId),
      agentChildren: (nodeId) => ({
        start: async (key, flowId, input) => childInfo(await this.#children.startForAgent(nodeId, key, flowId, input)),
        get: (key) => {
          const c = this.#children.agentChild(nodeId, key);
          return c ? childInfo(c) : undefined;
        },
      }),
    });
    void ctx.blockConcurrencyWhile(async () => {
      migrateDoStorage(ctx.storage, RUN_MIGRATIONS, RUN_FRESH);
      this.#pushed = ctx.getWebSockets().length > 0 ? lastEventSeq(ctx.storage.sql) : null;
    });
  }

  /**
   * Stores the run (idempotent: a repeat is ignored), then asks the tenant's hub for a slot under `limit`
   * and starts the run when admitted; `limit` null starts it at once (child runs hold their parent's slot).
   * One round trip for the caller instead of init, admit and start in a row; the run's D1 index row
   * (`init.index`) goes through the report outbox the alarm delivers, off the caller's path.
   *
   * `stream: true` also returns the run's SSE stream from its first event, as GET …/events opens it: a
   * start that streams (POST …/runs with `Accept: text/event-stream`) then makes one round trip to this
   * object, not a create and then a stream request (issue 20). Only for the run's own tenant.
   */
  async create(
    init: RunInit,
    limit: number | null,
    opts?: { stream?: boolean },
  ): Promise<{ status: 'queued' | 'running'; view: RunView; events?: ReadableStream<Uint8Array> }> {
    const sql = this.ctx.storage.sql;
    const answer = (status: 'queued' | 'running') => {
      const events = opts?.stream && loadRun(sql)?.row.tenant_id === init.tenantId ? this.#sse.stream(0) : undefined;
      return { status, view: runView(sql)!, ...(events ? { events } : {}) };
    };
    if (this.#t.runCreated(init)) this.#flush();
    // A repeat for a run that is past its queue (started, over) asks for no slot again.
    else if (loadRun(sql)?.row.status !== 'queued') return answer('running');
    const admitted =
      limit === null || (await tenantHubStub(this.env, init.tenantId).admitRun(init.tenantId, init.runId, limit)) === 'start';
    if (admitted) await this.start();
    else if (pendingReports(sql) > 0) await this.#reportsQueued();
    return answer(admitted ? 'running' : 'queued');
  }

  /** Admitted: start running (idempotent). */
  async start(): Promise<void> {
    const now = this.#t.runStarted();
    if (now === null) return;
    this.#flush();
    // The alarm drives the run and delivers the 'running' reports the transition wrote.
    await this.ctx.storage.setAlarm(now);
  }

  /**
   * The alarm is driving the run: reports written meanwhile are delivered by its own last pass, so they
   * arm nothing (issue 20: a run that finished inside its alarm used to set another alarm, which then
   * ran once more only to find them delivered).
   */
  #alarmDelivers = false;

  /** While the alarm drives: starts its first delivery pass (a node that waits outside the run launched). */
  #externalWork: (() => void) | null = null;

  /** A transition wrote reports: deliver them from the alarm, now. */
  async #reportsQueued(): Promise<void> {
    if (!this.#alarmDelivers) await this.#armAt(Date.now());
  }

  async #armAt(at: number): Promise<void> {
    const current = await this.ctx.storage.getAlarm();
    if (current === null || at < current) await this.ctx.storage.setAlarm(at);
  }

  /**
   * Drives the run and delivers its reports (retrying failed ones with backoff: the alarm is re-armed
   * for the next due report); a finished, fully reported run past its retention deletes its storage.
   */
  override async alarm(): Promise<void> {
    await alarmFault(this.ctx, this.env);
    const sql = this.ctx.storage.sql;
    if (!loadRun(sql)) return;
    this.#alarmDelivers = true;
    let settled = false;
    try {
      // The first pass (every pending report, due or not) waits while the drive runs only local nodes
      // (transform, condition), which never yield to anything outside the run: a run that finishes
      // meanwhile has its 'running' and final reports delivered together (one D1 batch and one hub call,
      // not two of each). It starts once a node that waits on something outside launches, or when the
      // drive returns or throws (a drive that keeps throwing still delivers what it wrote before).
      let delivering: Promise<void> | null = null;
      const firstPass = () => {
        delivering ??= this.#reports.deliver();
      };
      this.#externalWork = firstPass;
      try {
        await this.#engine.drive();
      } finally {
        this.#externalWork = null;
        firstPass();
      }
      await delivering;
      this.#alarmDelivers = false;
      // Every report written up to here is pending in storage: this pass delivers them, except those of
      // a receiver the first pass just failed, which wait for their retry time (the alarm is armed for it).
      await this.#reports.deliver(true);
      const expiry = retentionAt(sql);
      settled = true;
      if (expiry !== null && expiry <= Date.now()) return await this.#expire();
      const next = [nextReportAt(sql), expiry].filter((t): t is number => t !== null);
      if (next.length) await this.#armAt(Math.min(...next));
    } finally {
      this.#alarmDelivers = false;
      // An alarm that threw before its last pass: pending reports (some may have skipped arming) get an
      // alarm now (workerd also retries the failed alarm).
      if (!settled && pendingReports(sql) > 0) await this.#armAt(Date.now()).catch(() => undefined);
    }
  }

  /** Retention: the run's storage goes (its D1 summary stays); reads answer 410 from the Worker. */
  async #expire(): Promise<void> {
    await this.ctx.storage.deleteAlarm();
    // Forgotten before and after: a call already in flight reads storage while deleteAll runs, not the old row.
    forgetRun(this.ctx.storage.sql);
    await this.ctx.storage.deleteAll();
    forgetRun(this.ctx.storage.sql);
    // Recreate the (empty) schema so calls to this instance find tables and no run, like a new object.
    migrateDoStorage(this.ctx.storage, RUN_MIGRATIONS, RUN_FRESH);
    this.#engine.outputs.clear();
    this.#pushed = null;
    this.#sse.notify();
    for (const ws of this.ctx.getWebSockets()) ws.close(1000, 'run expired');
  }

  /** `npm run chaos` only: a test-only fault switch (./chaos.ts), refused unless ENVIRONMENT=test. */
  async injectFaultForTest(fault: RunFault): Promise<FaultState> {
    return injectFault(this.ctx, this.env, fault);
  }

  /** For the sweeper: re-arm a run that looks stuck (the alarm re-drives from persisted state). */
  async kick(): Promise<RunStatus | null> {
    return (await this.reconcile(null))?.status ?? null;
  }

  /**
   * For the sweeper's reconciler: the run's truth. An active run or one with undelivered reports is
   * re-armed; when the D1 summary says `reported` and the run says otherwise (and no summary report is
   * pending), a fresh summary report is written, so D1 is repaired through the same ordered outbox.
   */
  async reconcile(reported: RunStatus | null): Promise<RunTruth | null> {
    const sql = this.ctx.storage.sql;
    const l = loadRun(sql);
    if (!l) return null;
    const status = l.row.status;
    if (reported !== null && reported !== status && this.ctx.storage.transactionSync(() => enqueueSummary(sql, Date.now())))
      await this.#armAt(Date.now());
    const pending = pendingReports(sql);
    if (status === 'running' || status === 'waiting' || pending > 0) await this.#armAt(Date.now());
    return { status, pendingReports: pending, releasePending: releasePending(sql) };
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
    await this.#reportsQueued();
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
    if (target.type === 'agent') {
      const r = agentSignal(
        JSON.parse(target.wait!) as NodeWait,
        payload,
        target.id,
        (id) => stepRow(sql, target.id, `answer:${id}`) !== undefined,
      );
      if (!r.ok) return r;
      this.#t.agentAnswered(target.id, r.value.toolCallId, r.value.answer, signer);
      this.#flush();
      await this.ctx.storage.setAlarm(Date.now());
      return { ok: true, value: runView(sql)! };
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

  /** Whether this run still waits for that child (the queue consumer asks before and after starting it). */
  async wantsChild(nodeId: string, index: number, runId: string): Promise<boolean> {
    return this.#children.wants(nodeId, index, runId);
  }

  /** GET …/events (SSE, Last-Event-ID) and GET …/ws (hibernatable WebSocket). */
  override async fetch(request: Request): Promise<Response> {
    const url = new URL(request.url);
    const sql = this.ctx.storage.sql;
    const l = loadRun(sql);
    // The caller's tenant comes with the request (src/flows/runs-api.ts streamRun): another tenant's run,
    // or a request without one, is not found here, before any stream or socket exists.
    if (!l || request.headers.get(TENANT_HEADER) !== l.row.tenant_id) return new Response('run not found', { status: 404 });
    const after = Number(request.headers.get('last-event-id') ?? url.searchParams.get('after') ?? '0') || 0;
    if (url.pathname.endsWith('/ws')) {
      const pair = new WebSocketPair();
      // With no socket open nothing was pushed: the backlog runs to the log's head.
      this.#pushed ??= lastEventSeq(sql);
      this.ctx.acceptWebSocket(pair[1]);
      // Up to what was already pushed live (later events reach it through #flush), with no await in between.
      const sent = sendBacklog(pair[1], { read: (a, n) => eventFramesAfter(sql, a, n), ended: () => true }, after, this.#pushed);
      if (sent < this.#pushed) pair[1].close(WS_RESUME_CODE, `resume after=${sent}`);
      return new Response(null, { status: 101, webSocket: pair[0] });
    }
    return this.#sse.open(after);
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

  /** New events are in the log: SSE pumps read them themselves; WebSockets get them pushed. */
  #flush(): void {
    this.#sse.notify();
    if (this.#pushed === null) return;
    const sockets = this.ctx.getWebSockets();
    if (sockets.length === 0) {
      this.#pushed = null;
      return;
    }
    for (;;) {
      const fresh = eventFramesAfter(this.ctx.storage.sql, this.#pushed, 500);
      if (fresh.length === 0) return;
      this.#pushed = fresh[fresh.length - 1]!.seq;
      pushToSockets(sockets, fresh);
    }
  }
}

function childInfo(c: ChildEntry): ChildRunInfo {
  return {
    runId: c.runId ?? '',
    status: c.status,
    ...(c.output !== undefined ? { output: c.output } : {}),
    ...(c.error !== undefined ? { error: c.error } : {}),
  };
}
