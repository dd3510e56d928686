/**
 * Multi-tenant fairness for flow runs: at most `limit` active runs per tenant;
 * the rest wait in arrival order as 'queued' and start as slots free. Also
 * puts run status changes on the tenant's sync stream and event outbox. Every
 * entry point is idempotent: a FlowRun redelivers a report until it is
 * acknowledged (durable-objects/flow-run/reports.ts).
 */
import type { RunSummary } from '../../src/flows/run-model';
import { experimentRunEnded } from './experiments';
import { appendForwarded } from './outbox-forwarded';
import { appendChange, setChangeData } from './sync-log';

type Sql = SqlStorage;

function activeCount(sql: Sql): number {
  return sql.exec<{ n: number }>(`SELECT COUNT(*) AS n FROM run_slots WHERE state = 'active'`).one().n;
}

/**
 * The next admission's seq: one past the last one this hub gave (`run_seq` in `hub_meta`, seeded by hub
 * schema 19 from the slots a hub held before it). A seq is never given twice, even once its slot is
 * freed, which the sweeper's `release(…, ifSeq)` relies on to tell a run's new admission from the old
 * one it read; and an admission reads no slot for it, however long the queue (docs/performance-history.md,
 * "Twenty-eighth round").
 */
function nextSeq(sql: Sql): number {
  const row = sql
    .exec<{ value: string }>(
      `INSERT INTO hub_meta (key, value) VALUES ('run_seq', '1')
       ON CONFLICT (key) DO UPDATE SET value = CAST(value AS INTEGER) + 1 RETURNING value`,
    )
    .one();
  return Number(row.value);
}

/** 'start' if a slot is free (the run takes it), else 'queued' (idempotent per run). */
export function admit(sql: Sql, runId: string, limit: number): 'start' | 'queued' {
  // Remember the tenant's limit so releases (which come from runs, not the API) apply the same one.
  sql.exec(`INSERT OR REPLACE INTO hub_meta (key, value) VALUES ('max_active_runs', ?)`, String(limit));
  const existing = sql.exec<{ state: string }>(`SELECT state FROM run_slots WHERE run_id = ?`, runId).toArray()[0];
  if (existing) return existing.state === 'active' ? 'start' : 'queued';
  // Whether anyone waits (not how many: a count walks the whole queue on every admission, above).
  const queuedAhead = sql.exec<{ q: number }>(`SELECT EXISTS (SELECT 1 FROM run_slots WHERE state = 'queued') AS q`).one().q;
  const state = queuedAhead === 0 && activeCount(sql) < limit ? 'active' : 'queued';
  sql.exec(`INSERT INTO run_slots (run_id, state, seq) VALUES (?, ?, ?)`, runId, state, nextSeq(sql));
  return state === 'active' ? 'start' : 'queued';
}

/**
 * Frees the run's slot and promotes queued runs into free slots; returns the promoted run ids. With
 * `ifSeq` (the sweeper's reconciler) only the slot of that admission is freed, never a newer one of the
 * same run (resumed and admitted again after the reconciler looked).
 */
export function release(sql: Sql, runId: string, fallbackLimit: number, ifSeq?: number): string[] {
  if (ifSeq === undefined) sql.exec(`DELETE FROM run_slots WHERE run_id = ?`, runId);
  else sql.exec(`DELETE FROM run_slots WHERE run_id = ? AND seq = ?`, runId, ifSeq);
  const stored = sql.exec<{ value: string }>(`SELECT value FROM hub_meta WHERE key = 'max_active_runs'`).toArray()[0];
  const limit = stored ? Number(stored.value) : fallbackLimit;
  const free = limit - activeCount(sql);
  if (free <= 0) return [];
  const next = sql
    .exec<{ run_id: string }>(`SELECT run_id FROM run_slots WHERE state = 'queued' ORDER BY seq LIMIT ?`, free)
    .toArray()
    .map((r) => r.run_id);
  for (const id of next) sql.exec(`UPDATE run_slots SET state = 'active' WHERE run_id = ?`, id);
  return next;
}

/**
 * A place is first checked against its run this long after it was taken (the same grace as the
 * parent's own repair, CHILD_START_GRACE_MS in durable-objects/flow-run/children.ts), then every
 * CHILD_RECHECK_MS while its run is live, CHILD_RETRY_MS after a check that could not reach the run.
 */
export const CHILD_CHECK_AFTER_MS = 5 * 60_000;
export const CHILD_RECHECK_MS = 10 * 60_000;
export const CHILD_RETRY_MS = 60_000;

/** How many of the oldest live children a short answer names (`ChildAdmission.oldest`). */
export const CHILD_CHECK_LIMIT = 25;

/**
 * Places granted to a parent's children: `granted` lists the ids that hold one now (in the order asked),
 * `live` how many places were taken before this request. When fewer were granted than asked, `oldest`
 * names the oldest holders, so a parent about to fail can check them against their runs.
 */
export interface ChildAdmission {
  granted: string[];
  live: number;
  budget: number;
  oldest: Array<{ runId: string; admittedAt: number }>;
}

/**
 * Children of `parentRunId` take places in the tenant's budget of live child runs, as many as fit, in
 * the order asked (idempotent per run id: a child already holding a place keeps it). `release` lists
 * children of the parent that ended: their places are freed first, so a parent starting the next child
 * as one ends never waits on the ended child's own report.
 */
export function admitChildren(
  sql: Sql,
  parentRunId: string,
  runIds: string[],
  budget: number,
  now: number,
  release: string[] = [],
): ChildAdmission {
  releaseChildren(sql, release);
  const held = new Set(runIds.filter((id) => sql.exec(`SELECT 1 FROM child_runs WHERE run_id = ?`, id).toArray().length > 0));
  const live = sql.exec<{ n: number }>(`SELECT COUNT(*) AS n FROM child_runs`).one().n;
  let room = Math.max(0, budget - live);
  const granted: string[] = [];
  let short = false;
  for (const id of runIds) {
    if (held.has(id)) granted.push(id);
    else if (room > 0) {
      sql.exec(
        `INSERT INTO child_runs (run_id, parent_run_id, admitted_at, check_at) VALUES (?, ?, ?, ?)`,
        id,
        parentRunId,
        now,
        now + CHILD_CHECK_AFTER_MS,
      );
      granted.push(id);
      room--;
    } else short = true;
  }
  const oldest = short
    ? sql
        .exec<{ run_id: string; admitted_at: number }>(
          `SELECT run_id, admitted_at FROM child_runs ORDER BY admitted_at LIMIT ?`,
          CHILD_CHECK_LIMIT,
        )
        .toArray()
        .map((r) => ({ runId: r.run_id, admittedAt: r.admitted_at }))
    : [];
  return { granted, live, budget, oldest };
}

/** A child run ended (or was found over): its place is free. Idempotent. */
export function releaseChildren(sql: Sql, runIds: string[]): void {
  for (const id of runIds) sql.exec(`DELETE FROM child_runs WHERE run_id = ?`, id);
}

/** The earliest due check of a child run's place (ms epoch), for the hub's alarm. */
/** When the next child-place check is due (epoch ms), as a scalar subquery (./schedule.ts). */
export const NEXT_CHILD_CHECK_SQL = `SELECT MIN(check_at) FROM child_runs`;

/** Places whose check is due, with when they were taken. */
export function dueChildChecks(sql: Sql, now: number, limit: number): Array<{ runId: string; admittedAt: number }> {
  return sql
    .exec<{ run_id: string; admitted_at: number }>(
      `SELECT run_id, admitted_at FROM child_runs WHERE check_at <= ? ORDER BY check_at LIMIT ?`,
      now,
      limit,
    )
    .toArray()
    .map((r) => ({ runId: r.run_id, admittedAt: r.admitted_at }));
}

/**
 * The outcome of one place check (the hub's alarm, `repairChildPlaces`): a run that is over, or that
 * never came to exist, frees its place (a leak: its end, or its start, never reached the hub); a live
 * run is checked again later; an unreachable one soon.
 */
export function childChecked(sql: Sql, runId: string, verdict: 'over' | 'live' | 'unreachable', now: number): void {
  if (verdict === 'over') releaseChildren(sql, [runId]);
  else
    sql.exec(`UPDATE child_runs SET check_at = ? WHERE run_id = ?`, now + (verdict === 'live' ? CHILD_RECHECK_MS : CHILD_RETRY_MS), runId);
}

/** Live child runs (tests, operators). */
export function liveChildCount(sql: Sql): number {
  return sql.exec<{ n: number }>(`SELECT COUNT(*) AS n FROM child_runs`).one().n;
}

/**
 * A run status change on the sync stream and the event outbox, once per `eventId` (the FlowRun's
 * report id): a redelivered report is recognised by its event id (kept in `forwarded_events`) and
 * changes nothing. Returns whether it was new.
 */
export function recordRunChange(sql: Sql, tenantId: string, s: RunSummary, eventId: string, now = Date.now()): boolean {
  const at = new Date(now).toISOString();
  if (appendForwarded(sql, tenantId, [{ id: eventId, type: `run.${s.status}`, tenantId, occurredAt: at, data: { run: s } }], now) === 0)
    return false;
  const version = appendChange(sql, 'run', s.id, 'upsert', at);
  setChangeData(sql, version, { ...s });
  // An experiment whose run ended without evaluating (failed, cancelled) ends with it.
  experimentRunEnded({ sql, tenantId, now }, s);
  return true;
}

export interface RunSlot {
  runId: string;
  state: 'active' | 'queued';
  seq: number;
}

/** The tenant's slots in admission order (the sweeper's reconciler compares them with the runs). */
export function listSlots(sql: Sql, limit: number): RunSlot[] {
  return sql
    .exec<{ run_id: string; state: 'active' | 'queued'; seq: number }>(
      `SELECT run_id, state, seq FROM run_slots ORDER BY seq LIMIT ?`,
      limit,
    )
    .toArray()
    .map((r) => ({ runId: r.run_id, state: r.state, seq: r.seq }));
}
