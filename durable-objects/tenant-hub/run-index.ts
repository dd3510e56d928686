/**
 * The tenant's runs in D1 (`runs`, behind GET /v1/runs), written by the hub for all of them (issue 20).
 * A run reports its index row and its summaries to its tenant's hub through its report outbox
 * (durable-objects/flow-run/reports.ts), in order, in the same call as its sync changes and events.
 * The hub keeps what D1 still lacks here, one row per run (`run_index`: the index row while it is
 * unwritten, and the newest summary), in the transaction that acknowledges the report, and writes
 * what is pending for all its runs in one D1 batch: runs that report together share one D1 call
 * instead of one each. One write runs at a time; reports that arrive meanwhile go in the next one.
 * A failed write keeps its rows and retries them with the run outbox's backoff from the hub's alarm;
 * a row that has failed twice is retried in a batch of its own, so no row can hold the others back.
 * docs/flows.md, "Status reporting".
 */
import type { RunIndexRow, RunReport, RunSummary } from '../../src/flows/run-model';

/** What a run reports for D1: its index row or a summary (a change's summary is staged as one). */
export type RunIndexReport = Exclude<RunReport, { kind: 'change' }>;

/** Runs per D1 batch (two statements each at most). */
const BATCH = 50;
/** Per write: at most this many shared batches, and this many rows retried alone; the rest go in the next write. */
const BATCHES_PER_WRITE = 4;
const ALONE_PER_WRITE = 10;

/** Retry delay after `attempts` failed writes: 1 s doubling, capped at 5 minutes (as a run's own reports). */
function backoff(attempts: number): number {
  return Math.min(300_000, 1000 * 2 ** Math.max(0, attempts - 1));
}

/** The next time a pending row is due (for the hub's schedule, ./schedule.ts). */
export const NEXT_RUN_INDEX_SQL = `SELECT MIN(next_at) FROM run_index`;
/** The next retry of a row that failed (mirrored into D1's hub_schedules, so the sweeper can wake the hub). */
export const NEXT_RUN_INDEX_RETRY_SQL = `SELECT MIN(next_at) FROM run_index WHERE attempts > 0`;

/**
 * Keeps a run's report until D1 has it (call inside the transaction that acknowledges the report).
 * Reports of one run arrive in order, so the newest summary replaces the one before; a row waiting for
 * its retry keeps its retry time.
 */
export function stageRunIndex(sql: SqlStorage, report: RunIndexReport, now: number): void {
  if (report.kind === 'index')
    sql.exec(
      `INSERT INTO run_index (run_id, index_row, rev, next_at) VALUES (?, ?, 1, ?)
       ON CONFLICT (run_id) DO UPDATE SET index_row = excluded.index_row, rev = rev + 1`,
      report.row.id,
      JSON.stringify(report.row),
      now,
    );
  else
    sql.exec(
      `INSERT INTO run_index (run_id, summary, rev, next_at) VALUES (?, ?, 1, ?)
       ON CONFLICT (run_id) DO UPDATE SET summary = excluded.summary, rev = rev + 1`,
      report.summary.id,
      JSON.stringify(report.summary),
      now,
    );
}

interface PendingRow {
  run_id: string;
  index_row: string | null;
  summary: string | null;
  rev: number;
  attempts: number;
  [k: string]: SqlStorageValue;
}

/**
 * Writes due rows to D1. Rows never tried, and rows whose write failed once, go BATCH runs per batch
 * (each kind apart: after D1 was down, the backlog is written in batches); a row that failed twice goes
 * alone, so a row D1 keeps refusing holds no other run back. A row whose run reported again while its
 * write was in flight stays for the next write. `more`: due rows are left for the next write.
 */
export async function writeRunIndex(
  storage: DurableObjectStorage,
  db: D1Database,
  now = Date.now,
): Promise<{ written: number; failed: number; more: boolean }> {
  const sql = storage.sql;
  const limit = BATCH * BATCHES_PER_WRITE + ALONE_PER_WRITE;
  const due = sql
    .exec<PendingRow>(
      `SELECT run_id, index_row, summary, rev, attempts FROM run_index WHERE next_at <= ? ORDER BY next_at, run_id LIMIT ?`,
      now(),
      limit + 1,
    )
    .toArray();
  const more = due.length > limit;
  const batches: PendingRow[][] = [];
  for (const attempts of [0, 1]) {
    const group = due.filter((r) => r.attempts === attempts);
    for (let i = 0; i < group.length; i += BATCH) batches.push(group.slice(i, i + BATCH));
  }
  batches.splice(BATCHES_PER_WRITE);
  for (const r of due.filter((r) => r.attempts >= 2).slice(0, ALONE_PER_WRITE)) batches.push([r]);
  const left = due.length - batches.reduce((n, rows) => n + rows.length, 0);
  let written = 0;
  let failed = 0;
  for (const rows of batches) {
    try {
      await db.batch(rows.flatMap((r) => statements(db, r)));
    } catch (err) {
      failed++;
      const error = String((err as Error)?.message ?? err).slice(0, 500);
      storage.transactionSync(() => {
        for (const r of rows)
          sql.exec(
            `UPDATE run_index SET attempts = attempts + 1, next_at = ?, last_error = ? WHERE run_id = ?`,
            now() + backoff(r.attempts + 1),
            error,
            r.run_id,
          );
      });
      continue;
    }
    written += rows.length;
    storage.transactionSync(() => {
      for (const r of rows) sql.exec(`DELETE FROM run_index WHERE run_id = ? AND rev = ?`, r.run_id, r.rev);
      // Reported again meanwhile: what is left is the newer summary (the index row is in D1 now), due at
      // once (the report that changed it asked for the next write).
      for (const r of rows)
        sql.exec(`UPDATE run_index SET index_row = NULL, attempts = 0, last_error = NULL, next_at = ? WHERE run_id = ?`, now(), r.run_id);
    });
  }
  return { written, failed, more: more || left > 0 };
}

/** A pending row's statements: the index row first, so its summary never updates a row that does not exist. */
function statements(db: D1Database, r: PendingRow): D1PreparedStatement[] {
  const out: D1PreparedStatement[] = [];
  if (r.index_row !== null) out.push(indexStatement(db, JSON.parse(r.index_row) as RunIndexRow));
  if (r.summary !== null) out.push(summaryStatement(db, JSON.parse(r.summary) as RunSummary));
  return out;
}

/** The D1 index row, as the run was created (a repeat changes nothing). */
function indexStatement(db: D1Database, r: RunIndexRow): D1PreparedStatement {
  return db
    .prepare(
      `INSERT INTO runs (id, tenant_id, flow_id, flow_version, status, parent_run_id, rerun_of, created_by, created_at, updated_at)
     VALUES (?, ?, ?, ?, 'queued', ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`,
    )
    .bind(r.id, r.tenantId, r.flowId, r.flowVersion, r.parentRunId, r.rerunOf, r.createdBy, r.createdAt, r.createdAt);
}

/** The D1 summary row behind GET /v1/runs. Setting absolute values makes a repeat harmless. */
function summaryStatement(db: D1Database, s: RunSummary): D1PreparedStatement {
  return db
    .prepare(
      `UPDATE runs SET status = ?, started_at = ?, finished_at = ?, duration_ms = ?, input_tokens = ?, output_tokens = ?, cost_usd = ?, error = ?, updated_at = ? WHERE id = ?`,
    )
    .bind(
      s.status,
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
