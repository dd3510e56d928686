/**
 * When a finished run's storage goes: `retentionDays` (from the tenant's plan, src/flows/retention.ts)
 * after it finished, and never while a report is still undelivered. The run's own alarm deletes it.
 */
import { runRetentionDays } from '../../src/flows/retention';
import { TERMINAL } from '../../src/flows/run-model';
import { pendingReports } from './reports';
import { loadRun } from './store';

const DAY_MS = 86_400_000;

/** The time (ms) this run's storage may be deleted, or null while it is active or still reporting. */
export function retentionAt(sql: SqlStorage): number | null {
  const l = loadRun(sql);
  if (!l || !TERMINAL.has(l.row.status) || !l.row.finished_at) return null;
  if (pendingReports(sql) > 0) return null;
  return Date.parse(l.row.finished_at) + (l.settings.retentionDays ?? runRetentionDays(null)) * DAY_MS;
}
