/**
 * The tenant's runs in D1 (`runs`, behind GET /v1/runs), written by the hub for all of them (issue 20).
 * A run reports its index row and its summaries to its tenant's hub through its report outbox
 * (durable-objects/flow-run/reports.ts), in order, in the same call as its sync changes and events.
 * The hub keeps what D1 still lacks here, one row per run (`run_index`: the index row while it is
 * unwritten, and the newest summary), in the transaction that acknowledges the report, and writes
 * what is pending for all its runs in one D1 batch: runs that report together share one D1 call
 * instead of one each. One write runs at a time; reports that arrive meanwhile go in the next one.
 * A failed write keeps its rows and retries them with the run outbox's backoff from the hub's alarm,
 * together in one batch (after a D1 outage, the backlog goes in batches). A row of a batch D1 refused
 * while it took another is written alone from then on, so a row D1 keeps refusing holds no other run
 * back; on a hub with no other traffic to tell, a batch refused ALONE_AFTER times sets one row apart.
 * docs/flows.md, "Status reporting".
 */
import type { RunIndexRow, RunReport, RunSummary } from '../../src/flows/run-model';

/** What a run reports for D1: its index row or a summary (a change's summary is staged as one). */
export type RunIndexReport = Exclude<RunReport, { kind: 'change' }>;

/** Runs per D1 batch (two statements each at most). */
const BATCH = 50;
/** Per write: rows never tried in up to this many batches, rows being retried in one, and this many rows alone. */
const FRESH_BATCHES = 3;
const ALONE_PER_WRITE = 10;
/**
 * A batch refused this many times with no other batch to show whether D1 answers (a quiet hub): its
 * first row is set apart, alone, so a row D1 refuses cannot hold the others back for ever, while an
 * outage's backlog still goes in batches.
 */
const ALONE_AFTER = 6;

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
  const [column, runId, value] =
    report.kind === 'index' ? ['index_row', report.row.id, report.row] : ['summary', report.summary.id, report.summary];
  sql.exec(
    `INSERT INTO run_index (run_id, ${column}, rev, next_at) VALUES (?, ?, 1, ?)
     ON CONFLICT (run_id) DO UPDATE SET ${column} = excluded.${column}, rev = rev + 1`,
    runId,
    JSON.stringify(value),
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
 * Writes due rows to D1: rows never tried BATCH runs per batch, the rows being retried in one batch,
 * and the rows set apart one per batch (each kind read apart, so new runs never wait behind a
 * backlog). A row whose run reported again while its write was in flight stays for the next write.
 * `more`: due rows are left for the next write.
 */
export async function writeRunIndex(
  storage: DurableObjectStorage,
  db: D1Database,
  now = Date.now,
): Promise<{ written: number; failed: number; more: boolean }> {
  const sql = storage.sql;
  const at = now();
  const pick = (where: string, limit: number) =>
    sql
      .exec<PendingRow>(
        `SELECT run_id, index_row, summary, rev, attempts FROM run_index WHERE next_at <= ? AND ${where} ORDER BY next_at, run_id LIMIT ?`,
        at,
        limit + 1,
      )
      .toArray();
  const fresh = pick('attempts = 0', BATCH * FRESH_BATCHES);
  const retried = pick('attempts > 0 AND alone = 0', BATCH);
  const alone = pick('attempts > 0 AND alone = 1', ALONE_PER_WRITE);
  const more = fresh.length > BATCH * FRESH_BATCHES || retried.length > BATCH || alone.length > ALONE_PER_WRITE;
  const batches: PendingRow[][] = [];
  for (let i = 0; i < Math.min(fresh.length, BATCH * FRESH_BATCHES); i += BATCH) batches.push(fresh.slice(i, i + BATCH));
  if (retried.length > 0) batches.push(retried.slice(0, BATCH));
  for (const r of alone.slice(0, ALONE_PER_WRITE)) batches.push([r]);

  let written = 0;
  /** D1 took a batch of this write: a refused batch of several rows holds a row D1 refuses. */
  let answered = false;
  const refused: { rows: PendingRow[]; error: string }[] = [];
  for (const rows of batches) {
    const statements = rows.flatMap((r) => statementsOf(db, r));
    try {
      if (statements.length > 0) {
        await db.batch(statements);
        answered = true;
      }
    } catch (err) {
      refused.push({ rows, error: String((err as Error)?.message ?? err).slice(0, 500) });
      continue;
    }
    written += rows.length;
    storage.transactionSync(() => {
      for (const r of rows) {
        if (sql.exec(`DELETE FROM run_index WHERE run_id = ? AND rev = ?`, r.run_id, r.rev).rowsWritten > 0) continue;
        // Reported again meanwhile: what is left is the newer summary (the index row is in D1 now), due at
        // once (the report that changed it asked for the next write); a repeated index row alone is done.
        sql.exec(
          `UPDATE run_index SET index_row = NULL, attempts = 0, alone = 0, last_error = NULL, next_at = ? WHERE run_id = ?`,
          now(),
          r.run_id,
        );
        sql.exec(`DELETE FROM run_index WHERE run_id = ? AND summary IS NULL`, r.run_id);
      }
    });
  }
  if (refused.length > 0)
    storage.transactionSync(() => {
      for (const { rows, error } of refused) {
        const apart =
          rows.length < 2 ? [] : answered ? rows : Math.max(...rows.map((r) => r.attempts)) + 1 >= ALONE_AFTER ? [rows[0]!] : [];
        for (const r of rows)
          sql.exec(
            `UPDATE run_index SET attempts = attempts + 1, next_at = ?, last_error = ?, alone = MAX(alone, ?) WHERE run_id = ?`,
            now() + backoff(r.attempts + 1),
            error,
            apart.includes(r) ? 1 : 0,
            r.run_id,
          );
      }
    });
  return { written, failed: refused.length, more };
}

/** A pending row's statements: the index row first, so its summary never updates a row that does not exist. */
function statementsOf(db: D1Database, r: PendingRow): D1PreparedStatement[] {
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
      `UPDATE runs SET status = ?, started_at = ?, finished_at = ?, duration_ms = ?, input_tokens = ?, output_tokens = ?, cost_usd = ?, error = ?, updated_at = ?
       WHERE id = ? AND tenant_id = ?`,
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
      s.tenantId,
    );
}
