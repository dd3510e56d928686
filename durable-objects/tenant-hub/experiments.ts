/**
 * Experiments inside the hub: the record (what ran, on which dataset version, with which
 * evaluators), its results once evaluated, and the `experiment.completed` event. Completion is one
 * transaction holding every score as feedback (`source: eval`), the results and the event, and it
 * happens once (compare-and-set on the status), however often the evaluation is retried. A driving
 * run that fails or is cancelled before evaluating ends its experiment through `experimentRunEnded`;
 * one that never came to exist (starting it failed after the record was written) is found by the
 * hub's alarm EXPERIMENT_START_GRACE_MS after creation (`dueStartChecks`, `startChecked`).
 */
import type { Evaluator, ExampleResult, Experiment, ExperimentWithResults } from '../../src/evals/model';
import { summarise } from '../../src/evals/summary';
import type { FeedbackWrite } from '../../src/feedback/model';
import type { RunSummary } from '../../src/flows/run-model';
import { fail, ok, type Result } from '../../src/lib/result';
import type { FeedbackOp } from './feedback';
import { createKey, upsertFeedback } from './feedback';
import { readKey } from './feedback-store';
import { appendEvent } from './sync-log';

type Sql = SqlStorage;

const iso = (ms: number) => new Date(ms).toISOString();

/** After this long a running experiment whose driving run does not exist is failed (the start was lost). */
export const EXPERIMENT_START_GRACE_MS = 10 * 60_000;
/** A check that could not reach the run is tried again this much later. */
export const EXPERIMENT_START_RETRY_MS = 60_000;

/** Evaluator keys: created as numeric 0..1 when missing; an existing key must take scores from 0 to 1. */
function ensureKeys(op: FeedbackOp, evaluators: readonly Evaluator[]): Result<true> {
  for (const [i, e] of evaluators.entries()) {
    const k = readKey(op.sql, e.key);
    if (!k) {
      const created = createKey(op, {
        key: e.key,
        type: 'numeric',
        min: 0,
        max: 1,
        categories: null,
        higherIsBetter: true,
        description: `Scores of the ${e.type} evaluator (experiments)`,
        drift: null,
      });
      if (!created.ok) return created;
    } else if (k.type !== 'numeric' || k.min! > 0 || k.max! < 1) {
      return fail('validation_failed', `Feedback key '${e.key}' cannot hold evaluator scores (numeric 0..1).`, [
        {
          path: `evaluators[${i}].key`,
          message: `Key '${e.key}' is ${k.type}${k.type === 'numeric' ? ` ${k.min}..${k.max}` : ''}, not numeric 0..1`,
          code: 'incompatible_key',
        },
      ]);
    }
  }
  return ok(true);
}

export function createExperiment(op: FeedbackOp, exp: Experiment): Result<Experiment> {
  const keys = ensureKeys(op, exp.evaluators);
  if (!keys.ok) return keys;
  op.sql.exec(
    `INSERT INTO experiments (id, run_id, status, data, start_check_at) VALUES (?, ?, ?, ?, ?)`,
    exp.id,
    exp.runId,
    exp.status,
    JSON.stringify(exp),
    op.now + EXPERIMENT_START_GRACE_MS,
  );
  return ok(exp);
}

interface Row {
  data: string;
  results: string | null;
  [k: string]: SqlStorageValue;
}

export function readExperiment(sql: Sql, id: string): ExperimentWithResults | null {
  const r = sql.exec<Row>(`SELECT data, results FROM experiments WHERE id = ?`, id).toArray()[0];
  return r ? { ...(JSON.parse(r.data) as Experiment), results: r.results ? (JSON.parse(r.results) as ExampleResult[]) : [] } : null;
}

export function listExperiments(sql: Sql, limit: number, after?: string): { data: Experiment[]; nextCursor: string | null } {
  const rows = sql
    .exec<{ id: string; data: string }>(`SELECT id, data FROM experiments WHERE id < ? ORDER BY id DESC LIMIT ?`, after ?? '~', limit + 1)
    .toArray();
  const data = rows.slice(0, limit).map((r) => JSON.parse(r.data) as Experiment);
  return { data, nextCursor: rows.length > limit ? data[data.length - 1]!.id : null };
}

function finish(op: FeedbackOp, exp: Experiment, results: ExampleResult[] | null): Experiment {
  op.sql.exec(
    `UPDATE experiments SET status = ?, data = ?, results = COALESCE(?, results), start_check_at = NULL WHERE id = ?`,
    exp.status,
    JSON.stringify(exp),
    results === null ? null : JSON.stringify(results),
    exp.id,
  );
  appendEvent(op.sql, op.tenantId, 'experiment.completed', exp.finishedAt!, { experiment: exp });
  return exp;
}

/**
 * The evaluation's outcome: every score as feedback (`source: eval`), the results and summary, the
 * event. Once: a retried evaluation finds the experiment completed and changes nothing.
 */
export function completeExperiment(op: FeedbackOp, id: string, results: ExampleResult[], ratings: FeedbackWrite[]): Result<Experiment> {
  const exp = readExperiment(op.sql, id);
  if (!exp) return fail('not_found', `Experiment ${id} not found.`);
  const { results: _r, ...record } = exp;
  if (exp.status === 'completed' || exp.status === 'cancelled') return ok(record);
  for (const w of ratings) {
    const r = upsertFeedback(op, w);
    if (!r.ok) return r;
  }
  return ok(
    finish(
      op,
      { ...record, status: 'completed', error: null, summary: summarise(exp.evaluators, results), finishedAt: iso(op.now) },
      results,
    ),
  );
}

/** The experiment's run ended without an evaluation (failed, cancelled): the experiment ends with it. */
export function experimentRunEnded(op: FeedbackOp, run: RunSummary): void {
  if (run.status !== 'failed' && run.status !== 'cancelled') return;
  const row = op.sql.exec<{ id: string }>(`SELECT id FROM experiments WHERE run_id = ? AND status = 'running'`, run.id).toArray()[0];
  if (!row) return;
  const { results: _r, ...record } = readExperiment(op.sql, row.id)!;
  finish(op, { ...record, status: run.status, error: run.error ?? `the experiment's run ${run.status}`, finishedAt: iso(op.now) }, null);
}

/** The earliest pending start check (ms epoch), for the hub's alarm. */
/** When the next experiment start check is due (epoch ms), as a scalar subquery (./schedule.ts). */
export const NEXT_START_CHECK_SQL = `SELECT MIN(start_check_at) FROM experiments WHERE start_check_at IS NOT NULL`;

/** Running experiments whose start check is due. */
export function dueStartChecks(sql: Sql, now: number, limit: number): Array<{ id: string; runId: string }> {
  return sql
    .exec<{ id: string; runId: string }>(
      `SELECT id, run_id AS runId FROM experiments WHERE start_check_at IS NOT NULL AND start_check_at <= ? ORDER BY start_check_at LIMIT ?`,
      now,
      limit,
    )
    .toArray();
}

/**
 * The outcome of one start check: the run exists (its reports end the experiment from now on), it
 * never came to exist (the experiment fails, with `experiment.completed`), or it could not be
 * reached (checked again later).
 */
export function startChecked(op: FeedbackOp, id: string, run: 'exists' | 'missing' | 'unreachable'): void {
  if (run === 'unreachable') {
    op.sql.exec(`UPDATE experiments SET start_check_at = ? WHERE id = ?`, op.now + EXPERIMENT_START_RETRY_MS, id);
    return;
  }
  const exp = readExperiment(op.sql, id);
  if (run === 'exists' || !exp || exp.status !== 'running') {
    op.sql.exec(`UPDATE experiments SET start_check_at = NULL WHERE id = ?`, id);
    return;
  }
  const { results: _r, ...record } = exp;
  finish(
    op,
    {
      ...record,
      status: 'failed',
      error: `the experiment's run ${exp.runId} never started (starting it failed after the experiment was recorded)`,
      finishedAt: iso(op.now),
    },
    null,
  );
}
