/**
 * The run's report outbox: every status change is reported to its receivers
 * (the D1 summary row, the tenant hub's sync stream and events, the tenant's
 * run slot, the parent run and the child's place in the tenant's child-run
 * budget, runs promoted into a freed slot) through rows
 * written in the same transaction as the change (`enqueueReports`, called by
 * ./transitions). The alarm delivers them (`ReportOutbox.deliver`) in order per
 * receiver, retrying with backoff until each receiver acknowledges; every
 * receiver is idempotent, so a delivery whose acknowledgement was lost may be
 * repeated safely. docs/flows.md, "Status reporting".
 */
import { type RunIndexRow, type RunInit, type RunStatus, type RunSummary, TERMINAL } from '../../src/flows/run-model';
import { DEFAULT_MAX_ACTIVE_RUNS } from '../../src/flows/runs-service';
import { bindChunks } from '../../src/lib/bind-chunks';
import { flowRunStub, tenantHubStub } from '../../src/lib/stubs';
import { loadRun, summary, summaryOf } from './store';

/** Who a report row goes to. */
export type Receiver = 'index' | 'summary' | 'hub' | 'release' | 'parent' | 'start' | 'child_slot';

interface ReportRow {
  id: number;
  receiver: Receiver;
  status: RunStatus;
  payload: string;
  attempts: number;
  next_at: number;
  [k: string]: SqlStorageValue;
}

/** At most this many rows of a batching lane (summary, hub) in one call. */
const BATCH = 50;

/** Retry delay after `attempts` failed deliveries: 1 s doubling, capped at 5 minutes. */
export function reportBackoff(attempts: number): number {
  return Math.min(300_000, 1000 * 2 ** Math.max(0, attempts - 1));
}

function insert(sql: SqlStorage, receiver: Receiver, status: RunStatus, payload: unknown, now: number): void {
  sql.exec(
    `INSERT INTO reports (receiver, status, payload, next_at) VALUES (?, ?, ?, ?)`,
    receiver,
    status,
    JSON.stringify(payload ?? null),
    now,
  );
}

/**
 * The reports of the run's new status (call inside the transition's transaction, after the change).
 * A resumed run going back to 'queued' only updates its summary: it has no event of its own and keeps
 * (or asks again for) its slot through admission.
 */
export function enqueueReports(sql: SqlStorage, status: RunStatus, now: number): void {
  const l = loadRun(sql);
  if (!l) return;
  const s = summaryOf(l);
  insert(sql, 'summary', status, s, now);
  if (status === 'queued') return;
  insert(sql, 'hub', status, s, now);
  if (!TERMINAL.has(status)) return;
  if (l.parent) {
    // The child's place in the tenant's live child-run budget (src/flows/ceilings.ts), before the parent
    // hears (which frees it too, when it starts its next child).
    insert(sql, 'child_slot', status, { tenantId: s.tenantId, runId: s.id }, now);
    insert(
      sql,
      'parent',
      status,
      { parent: l.parent, output: l.row.output === null ? null : JSON.parse(l.row.output), error: s.error },
      now,
    );
  } else {
    insert(sql, 'release', status, { tenantId: s.tenantId, runId: s.id }, now);
  }
}

/**
 * The run's D1 index row (`runs`, behind GET /v1/runs), written by the run itself: call in the transaction
 * that creates the run. It shares the summary's lane, so no status update can land before the row exists.
 */
export function enqueueIndex(sql: SqlStorage, init: RunInit & { index: NonNullable<RunInit['index']> }, now: number): void {
  const row: RunIndexRow = {
    id: init.runId,
    tenantId: init.tenantId,
    flowId: init.flowId,
    flowVersion: init.flowVersion,
    parentRunId: init.parent?.runId ?? null,
    rerunOf: init.index.rerunOf,
    createdBy: init.index.createdBy,
    createdAt: init.createdAt,
  };
  insert(sql, 'index', 'queued', row, now);
}

/** A repair (the sweeper found D1 disagreeing): one more summary row, unless one is already pending. */
export function enqueueSummary(sql: SqlStorage, now: number): boolean {
  const s = summary(sql);
  if (!s) return false;
  if (sql.exec(`SELECT 1 FROM reports WHERE receiver = 'summary' AND done_at IS NULL`).toArray().length > 0) return false;
  insert(sql, 'summary', s.status, s, now);
  return true;
}

/** Reports not yet acknowledged. */
export function pendingReports(sql: SqlStorage): number {
  return sql.exec<{ n: number }>(`SELECT COUNT(*) AS n FROM reports WHERE done_at IS NULL`).one().n;
}

/** Whether a slot release is still undelivered. */
export function releasePending(sql: SqlStorage): boolean {
  return sql.exec(`SELECT 1 FROM reports WHERE receiver = 'release' AND done_at IS NULL`).toArray().length > 0;
}

/** When the next pending report is due (ms), or null. */
export function nextReportAt(sql: SqlStorage): number | null {
  return sql.exec<{ t: number | null }>(`SELECT MIN(next_at) AS t FROM reports WHERE done_at IS NULL`).one().t;
}

/** The sync/outbox event id of a hub report: the same id on every retry, so the hub applies it once. */
export function reportEventId(runId: string, reportId: number): string {
  return `evt_${runId}_r${reportId}`;
}

export class ReportOutbox {
  #running: Promise<void> | null = null;
  #again = false;

  constructor(
    private readonly storage: DurableObjectStorage,
    private readonly env: Env,
    private readonly now: () => number = Date.now,
  ) {}

  get #sql(): SqlStorage {
    return this.storage.sql;
  }

  /**
   * Delivers every pending report once (re-entrant calls coalesce into one more pass). `dueOnly`: a
   * receiver's reports wait while its oldest is not due, so a report a pass just failed to deliver is
   * not sent again before its retry time by a pass right after it (the alarm's last one).
   */
  deliver(dueOnly = false): Promise<void> {
    if (this.#running) {
      this.#again = true;
      return this.#running;
    }
    this.#running = (async () => {
      do {
        this.#again = false;
        await this.#pass(dueOnly);
      } while (this.#again);
    })().finally(() => (this.#running = null));
    return this.#running;
  }

  async #pass(dueOnly: boolean): Promise<void> {
    try {
      await this.#sendAll(dueOnly);
    } finally {
      this.#markDone();
    }
  }

  async #sendAll(dueOnly: boolean): Promise<void> {
    const rows = this.#sql.exec<ReportRow>(`SELECT * FROM reports WHERE done_at IS NULL ORDER BY id`).toArray();
    // In order per receiver: a failed row holds back the later rows of its receiver (a 'running'
    // summary never lands after 'succeeded'), not those of the others.
    const lanes = new Map<string, ReportRow[]>();
    for (const row of rows) {
      const lane = laneOf(row);
      const list = lanes.get(lane);
      if (list) list.push(row);
      else lanes.set(lane, [row]);
    }
    const now = this.now();
    for (const [lane, list] of lanes) {
      if (dueOnly && list[0]!.next_at > now) continue;
      if (lane === 'summary' || lane === 'hub') {
        // What is pending in these lanes goes in one call (up to BATCH rows): D1 gets the index row and
        // the newest summary in one batch, the hub the changes in order in one transaction.
        for (let i = 0; i < list.length; i += BATCH) {
          const sent = list.slice(i, i + BATCH);
          const send = () => (lane === 'hub' ? this.#sendHub(sent) : this.#sendSummaries(sent));
          if (!(await this.#attempt(sent, list.slice(i + BATCH), send))) break;
        }
        continue;
      }
      for (let i = 0; i < list.length; i++) if (!(await this.#attempt([list[i]!], list.slice(i + 1), () => this.#send(list[i]!)))) break;
    }
  }

  /**
   * Delivers `sent` (`send` marks them done). A failure counts an attempt on each of them and holds them
   * and the lane's `heldBack` rows until the retry time, so the alarm is not re-armed for rows that wait.
   */
  async #attempt(sent: ReportRow[], heldBack: ReportRow[], send: () => Promise<void>): Promise<boolean> {
    try {
      await send();
      return true;
    } catch (err) {
      const at = this.now() + reportBackoff(Math.max(...sent.map((r) => r.attempts)) + 1);
      const error = String((err as Error)?.message ?? err).slice(0, 500);
      this.storage.transactionSync(() => {
        for (const row of sent)
          this.#sql.exec(`UPDATE reports SET attempts = attempts + 1, next_at = ?, last_error = ? WHERE id = ?`, at, error, row.id);
        for (const row of heldBack) this.#sql.exec(`UPDATE reports SET next_at = ? WHERE id = ?`, at, row.id);
      });
      return false;
    }
  }

  /** Rows acknowledged in this pass, marked done together at its end (a repeat after a crash is harmless). */
  #acked: number[] = [];

  #done(...ids: number[]): void {
    this.#acked.push(...ids);
  }

  #markDone(): void {
    const ids = this.#acked.splice(0);
    for (const chunk of bindChunks(ids)) {
      this.#sql.exec(`UPDATE reports SET done_at = ? WHERE id IN (${chunk.map(() => '?').join(', ')})`, this.now(), ...chunk);
    }
  }

  /** The summary lane: the D1 index row (if still pending) and the newest summary, one batch. */
  async #sendSummaries(rows: ReportRow[]): Promise<void> {
    const statements = rows.filter((r) => r.receiver === 'index').map((r) => indexStatement(this.env, JSON.parse(r.payload)));
    const last = rows.findLast((r) => r.receiver === 'summary');
    if (last) statements.push(summaryStatement(this.env, JSON.parse(last.payload), last.status));
    await this.env.DB.batch(statements);
    this.#done(...rows.map((r) => r.id));
  }

  /** The hub lane: every pending change, in order (the hub applies each event id once). */
  async #sendHub(rows: ReportRow[]): Promise<void> {
    const changes = rows.map((r) => {
      const summary = JSON.parse(r.payload) as RunSummary;
      return { summary, eventId: reportEventId(summary.id, r.id) };
    });
    await tenantHubStub(this.env, changes[0]!.summary.tenantId).runChanged(changes[0]!.summary.tenantId, changes);
    this.#done(...rows.map((r) => r.id));
  }

  async #send(row: ReportRow): Promise<void> {
    const payload = JSON.parse(row.payload);
    switch (row.receiver) {
      case 'parent': {
        const p = payload as { parent: { runId: string; nodeId: string; index: number }; output: unknown; error: string | null };
        await flowRunStub(this.env, p.parent.runId).childFinished(p.parent.nodeId, p.parent.index, row.status, p.output, p.error);
        return this.#done(row.id);
      }
      case 'release': {
        const { tenantId, runId } = payload as { tenantId: string; runId: string };
        // A run resumed before its release was delivered keeps its slot (admission finds it active).
        const status = loadRun(this.#sql)?.row.status;
        if (!status || !TERMINAL.has(status)) return this.#done(row.id);
        const promoted = await tenantHubStub(this.env, tenantId).releaseRun(tenantId, runId, DEFAULT_MAX_ACTIVE_RUNS);
        // The runs promoted into the freed slot are started through this outbox too: a start lost here
        // would hold their slot forever (the sweeper's reconciler is the second line).
        // (A release delivered again frees nothing more and promotes no one twice.)
        this.storage.transactionSync(() => {
          for (const id of promoted) insert(this.#sql, 'start', row.status, id, this.now());
        });
        this.#done(row.id);
        if (promoted.length) this.#again = true;
        return;
      }
      case 'start':
        await flowRunStub(this.env, payload as string).start();
        return this.#done(row.id);
      case 'child_slot': {
        const { tenantId, runId } = payload as { tenantId: string; runId: string };
        await tenantHubStub(this.env, tenantId).releaseChildRuns(tenantId, [runId]);
        return this.#done(row.id);
      }
    }
  }
}

/** The lane a report row is delivered in (rows of one lane go in order). */
function laneOf(row: ReportRow): string {
  // The index row and the summary updates share a lane: an update never runs before the row exists.
  return row.receiver === 'start' ? `start:${row.payload}` : row.receiver === 'index' ? 'summary' : row.receiver;
}

/** The D1 index row, as the run was created (a repeat changes nothing; status updates come after it in its lane). */
function indexStatement(env: Env, r: RunIndexRow): D1PreparedStatement {
  return env.DB.prepare(
    `INSERT INTO runs (id, tenant_id, flow_id, flow_version, status, parent_run_id, rerun_of, created_by, created_at, updated_at)
     VALUES (?, ?, ?, ?, 'queued', ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`,
  ).bind(r.id, r.tenantId, r.flowId, r.flowVersion, r.parentRunId, r.rerunOf, r.createdBy, r.createdAt, r.createdAt);
}

/** The D1 summary row behind GET /v1/runs. Setting absolute values makes a repeat harmless. */
function summaryStatement(env: Env, s: RunSummary, status: RunStatus): D1PreparedStatement {
  return env.DB.prepare(
    `UPDATE runs SET status = ?, started_at = ?, finished_at = ?, duration_ms = ?, input_tokens = ?, output_tokens = ?, cost_usd = ?, error = ?, updated_at = ? WHERE id = ?`,
  ).bind(
    status,
    s.startedAt,
    s.finishedAt,
    s.durationMs,
    s.inputTokens,
    s.outputTokens,
    s.costUsd,
    s.error,
    new Date().toISOString(),
    s.id,
  );
}
