/**
 * Multi-tenant fairness for flow runs: at most `limit` active runs per tenant;
 * the rest wait in arrival order as 'queued' and start as slots free. Also
 * puts run status changes on the tenant's sync stream and event outbox.
 */
import type { RunSummary } from '../../src/flows/run-model';
import { appendChange, appendEvent, setChangeData } from './sync-log';

type Sql = SqlStorage;

function activeCount(sql: Sql): number {
  return sql.exec<{ n: number }>(`SELECT COUNT(*) AS n FROM run_slots WHERE state = 'active'`).one().n;
}

function nextSeq(sql: Sql): number {
  return (sql.exec<{ s: number | null }>(`SELECT MAX(seq) AS s FROM run_slots`).one().s ?? 0) + 1;
}

/** 'start' if a slot is free (the run takes it), else 'queued' (idempotent per run). */
export function admit(sql: Sql, runId: string, limit: number): 'start' | 'queued' {
  // Remember the tenant's limit so releases (which come from runs, not the API) apply the same one.
  sql.exec(`INSERT OR REPLACE INTO hub_meta (key, value) VALUES ('max_active_runs', ?)`, String(limit));
  const existing = sql.exec<{ state: string }>(`SELECT state FROM run_slots WHERE run_id = ?`, runId).toArray()[0];
  if (existing) return existing.state === 'active' ? 'start' : 'queued';
  const queuedAhead = sql.exec<{ n: number }>(`SELECT COUNT(*) AS n FROM run_slots WHERE state = 'queued'`).one().n;
  const state = activeCount(sql) < limit && queuedAhead === 0 ? 'active' : 'queued';
  sql.exec(`INSERT INTO run_slots (run_id, state, seq) VALUES (?, ?, ?)`, runId, state, nextSeq(sql));
  return state === 'active' ? 'start' : 'queued';
}

/** Frees the run's slot and promotes queued runs into free slots; returns the promoted run ids. */
export function release(sql: Sql, runId: string, fallbackLimit: number): string[] {
  sql.exec(`DELETE FROM run_slots WHERE run_id = ?`, runId);
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

export function recordRunChange(sql: Sql, tenantId: string, s: RunSummary): void {
  const at = new Date().toISOString();
  const version = appendChange(sql, 'run', s.id, 'upsert', at);
  setChangeData(sql, version, { ...s });
  appendEvent(sql, tenantId, `run.${s.status}`, at, { run: s });
}
