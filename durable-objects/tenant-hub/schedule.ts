/**
 * What the hub's alarm waits for, read in one statement: the next pending reminder, experiment start
 * check, child-place check and runs' D1 write, and whether events wait for publication. The alarm reads it once to
 * know which of its jobs are due and once to re-arm, instead of four queries each time (issue 20).
 * Each subquery is owned by the module whose table it reads.
 */
import { NEXT_START_CHECK_SQL } from './experiments';
import { NEXT_CHILD_CHECK_SQL } from './run-admission';
import { NEXT_RUN_INDEX_RETRY_SQL, NEXT_RUN_INDEX_SQL } from './run-index';
import { PENDING_EVENTS_SQL } from './sync-log';
import { NEXT_REMINDER_SQL } from './tasks-store';

export interface HubSchedule {
  /** Epoch ms of each job's next due item, null when it has none. */
  reminder: number | null;
  startCheck: number | null;
  childCheck: number | null;
  /** The runs' pending D1 rows (./run-index.ts): the next due, and the next retry of one that failed. */
  runIndex: number | null;
  runIndexRetry: number | null;
  /** Events wait in the outbox. */
  pending: boolean;
}

export const SCHEDULE_SQL = `SELECT (${NEXT_REMINDER_SQL}) AS reminder, (${NEXT_START_CHECK_SQL}) AS startCheck,
  (${NEXT_CHILD_CHECK_SQL}) AS childCheck, (${NEXT_RUN_INDEX_SQL}) AS runIndex, (${NEXT_RUN_INDEX_RETRY_SQL}) AS runIndexRetry,
  EXISTS (${PENDING_EVENTS_SQL}) AS pending`;

/** `sentThrough`: events up to this sequence were sent and wait only for their mark (./outbox.ts). */
export function readSchedule(sql: SqlStorage, sentThrough = 0): HubSchedule {
  const row = sql
    .exec<{
      reminder: number | null;
      startCheck: number | null;
      childCheck: number | null;
      runIndex: number | null;
      runIndexRetry: number | null;
      pending: number;
    }>(SCHEDULE_SQL, sentThrough)
    .one();
  return { ...row, pending: row.pending === 1 };
}

/** The earliest of the due times that are set. */
export function earliest(...times: Array<number | null>): number | null {
  let min: number | null = null;
  for (const t of times) if (t !== null && (min === null || t < min)) min = t;
  return min;
}
