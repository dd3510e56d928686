/**
 * The run's report outbox: every status change is reported to its receivers
 * (the tenant hub: its sync stream and events, and the run's D1 summary row,
 * which the hub writes for all the tenant's runs; the tenant's run slot, the
 * parent run and the child's place in the tenant's child-run budget, runs
 * promoted into a freed slot) through rows
 * written in the same transaction as the change (`enqueueReports`, called by
 * ./transitions). The alarm delivers them (`ReportOutbox.deliver`) in order per
 * receiver, retrying with backoff until each receiver acknowledges; every
 * receiver is idempotent, so a delivery whose acknowledgement was lost may be
 * repeated safely. docs/flows.md, "Status reporting".
 */
import {
  type RunIndexRow,
  type RunInit,
  type RunReport,
  type RunStatus,
  type RunSummary,
  reportTenant,
  TERMINAL,
} from '../../src/flows/run-model';
import { DEFAULT_MAX_ACTIVE_RUNS } from '../../src/flows/runs-service';
import { bindChunks } from '../../src/lib/bind-chunks';
import { flowRunStub, tenantHubStub } from '../../src/lib/stubs';
import { loadRun, summary, summaryOf } from './store';

/**
 * Who a report row goes to. 'index', 'summary' and 'hub' all go to the tenant's hub, in one lane: the
 * index row and summaries for D1, 'hub' a status change (its event, sync change and D1 summary).
 */
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

/** At most this many rows of the hub's lane in one call. */
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
  insert(sql, status === 'queued' ? 'summary' : 'hub', status, s, now);
  if (status === 'queued') return;
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
 * The run's D1 index row (`runs`, behind GET /v1/runs), reported by the run itself: call in the transaction
 * that creates the run. It goes first in the hub's lane, so no status update can land before the row exists.
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
  if (sql.exec(`SELECT 1 FROM reports WHERE receiver IN ('summary', 'hub') AND done_at IS NULL`).toArray().length > 0) return false;
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
      if (lane === 'hub') {
        // What is pending for the hub goes in one call (up to BATCH rows), applied in order in one transaction.
        for (let i = 0; i < list.length; i += BATCH) {
          const sent = list.slice(i, i + BATCH);
          if (!(await this.#attempt(sent, list.slice(i + BATCH), () => this.#sendHub(sent)))) break;
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

  /** The hub's lane: every pending report, in order (the hub applies each change's event id once). */
  async #sendHub(rows: ReportRow[]): Promise<void> {
    const reports = rows.map((r): RunReport => {
      if (r.receiver === 'index') return { kind: 'index', row: JSON.parse(r.payload) as RunIndexRow };
      const summary = { ...(JSON.parse(r.payload) as RunSummary), status: r.status };
      return r.receiver === 'summary'
        ? { kind: 'summary', summary }
        : { kind: 'change', summary, eventId: reportEventId(summary.id, r.id) };
    });
    const tenantId = reportTenant(reports[0]!);
    await tenantHubStub(this.env, tenantId).runReported(tenantId, reports);
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
  // The index row, the summaries and the changes share the hub's lane: an update never runs before the row exists.
  return row.receiver === 'start' ? `start:${row.payload}` : row.receiver === 'index' || row.receiver === 'summary' ? 'hub' : row.receiver;
}
