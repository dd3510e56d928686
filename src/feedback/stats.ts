/**
 * Feedback statistics as pure functions over ratings, so a test can check them exactly against a
 * hand-computed fixture. Definitions (docs/feedback.md "Stats"):
 * - `mean`: arithmetic mean of the scores (boolean scores are 1 / 0, so the mean is the true rate);
 * - `positiveRate`: share of scores on the good side (rules.ts `isPositive`);
 * - `p50`: the nearest-rank median, the ⌈n/2⌉-th smallest score (always a score that was given);
 * - `distribution`: counts per score (`true`/`false` for boolean keys) or per categorical value.
 */
import type { Bucket, FeedbackKey, GroupBy } from './model';
import { isPositive } from './rules';

export interface RatingRow {
  score: number | null;
  value: string | null;
  updatedAt: string;
  runId: string | null;
  flowId: string | null;
  flowVersion: number | null;
  nodeId: string | null;
  provider: string | null;
  model: string | null;
  agentId: string | null;
}

type KeyShape = Pick<FeedbackKey, 'type' | 'min' | 'max' | 'higherIsBetter'>;

/** One bucket's figures. */
export function summarise(key: KeyShape, rows: readonly Pick<RatingRow, 'score' | 'value'>[]): Omit<Bucket, 'group'> {
  const scores = rows.map((r) => r.score).filter((s): s is number => s !== null);
  const scored = scores.length > 0;
  let sum = 0;
  let positive = 0;
  for (const s of scores) {
    sum += s;
    if (isPositive(key, s)) positive += 1;
  }
  const sorted = [...scores].sort((a, b) => a - b);
  return {
    count: rows.length,
    mean: scored ? sum / scores.length : null,
    positiveRate: scored ? positive / scores.length : null,
    p50: scored ? sorted[Math.ceil(sorted.length / 2) - 1]! : null,
    distribution: distribution(key, rows),
  };
}

function distribution(key: KeyShape, rows: readonly Pick<RatingRow, 'score' | 'value'>[]): Record<string, number> | null {
  if (key.type === 'text') return null;
  const out: Record<string, number> = {};
  for (const r of rows) {
    const label = key.type === 'boolean' ? (r.score === 1 ? 'true' : 'false') : key.type === 'numeric' ? String(r.score) : (r.value ?? '');
    out[label] = (out[label] ?? 0) + 1;
  }
  return out;
}

/** The UTC day (YYYY-MM-DD) of an instant. */
export function dayOf(iso: string): string {
  return iso.slice(0, 10);
}

/** The Monday (UTC, YYYY-MM-DD) of the ISO week holding an instant. */
export function weekOf(iso: string): string {
  const d = new Date(`${iso.slice(0, 10)}T00:00:00Z`);
  const back = (d.getUTCDay() + 6) % 7; // Monday → 0 … Sunday → 6
  return new Date(d.getTime() - back * 86_400_000).toISOString().slice(0, 10);
}

export function groupOf(row: RatingRow, by: GroupBy): string | number | null {
  switch (by) {
    case 'day':
      return dayOf(row.updatedAt);
    case 'week':
      return weekOf(row.updatedAt);
    default:
      return row[by];
  }
}

const TIME_GROUPS: ReadonlySet<GroupBy> = new Set(['day', 'week']);

/** Buckets in group order (nulls last); time buckets carry `delta` and `drift` against the bucket before. */
export function bucketise(key: KeyShape, rows: readonly RatingRow[], by: GroupBy | null, margin?: number): Bucket[] {
  if (by === null) return rows.length === 0 ? [] : [{ group: null, ...summarise(key, rows) }];
  const groups = new Map<string | number | null, RatingRow[]>();
  for (const r of rows) {
    const g = groupOf(r, by);
    const list = groups.get(g);
    if (list) list.push(r);
    else groups.set(g, [r]);
  }
  const order = [...groups.keys()].sort(compareGroups);
  const buckets: Bucket[] = order.map((g) => ({ group: g, ...summarise(key, groups.get(g)!) }));
  if (!TIME_GROUPS.has(by)) return buckets;
  let previous: number | null = null;
  for (const b of buckets) {
    const delta: number | null = previous !== null && b.mean !== null ? b.mean - previous : null;
    b.delta = delta;
    b.drift = delta !== null && margin !== undefined && (key.higherIsBetter ? delta < -margin : delta > margin);
    if (b.mean !== null) previous = b.mean;
  }
  return buckets;
}

function compareGroups(a: string | number | null, b: string | number | null): number {
  if (a === b) return 0;
  if (a === null) return 1;
  if (b === null) return -1;
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  return String(a) < String(b) ? -1 : 1;
}

/** The drift rule on two windows: the current mean fell (or, lower being better, rose) by more than the margin. */
export function drifted(key: Pick<FeedbackKey, 'higherIsBetter'>, current: number, previous: number, margin: number): boolean {
  return key.higherIsBetter ? current < previous - margin : current > previous + margin;
}
