/**
 * Experiment summaries and comparisons as pure functions over results: per evaluator the mean score
 * and pass rate; between two experiments the per-evaluator deltas and, per example, regressions
 * (a score that fell, or an example that now errors) and improvements.
 */
import type { EvalScore, Evaluator, ExampleResult, ExperimentSummary } from './model';

const scored = (s: EvalScore | undefined): s is Extract<EvalScore, { score: number }> => s !== undefined && 'score' in s;

export function summarise(evaluators: readonly Evaluator[], results: readonly ExampleResult[]): ExperimentSummary {
  const out: ExperimentSummary = {
    examples: results.length,
    ok: results.filter((r) => r.status === 'ok').length,
    errored: results.filter((r) => r.status === 'errored').length,
    evaluators: {},
  };
  for (const e of evaluators) {
    const scores = results.map((r) => r.scores[e.key]).filter(scored);
    const sum = scores.reduce((n, s) => n + s.score, 0);
    out.evaluators[e.key] = {
      type: e.type,
      count: scores.length,
      errored: results.length - scores.length,
      mean: scores.length ? sum / scores.length : null,
      passRate: scores.length ? scores.filter((s) => s.passed).length / scores.length : null,
    };
  }
  return out;
}

export interface Change {
  exampleId: string;
  key: string;
  base: number | null;
  head: number | null;
  /** `score` moved past the threshold; `errored` the example no longer scores; `recovered` it scores again. */
  kind: 'score' | 'errored' | 'recovered';
}

export interface Comparison {
  keys: Record<string, { base: number | null; head: number | null; delta: number | null }>;
  regressions: Change[];
  improvements: Change[];
  /** Examples present in only one of the two experiments. */
  unmatched: { base: string[]; head: string[] };
}

/** Head against base, example by example (matched by example id); a change counts when it exceeds `threshold`. */
export function compare(
  base: { summary: ExperimentSummary; results: readonly ExampleResult[] },
  head: { summary: ExperimentSummary; results: readonly ExampleResult[] },
  threshold = 0,
): Comparison {
  const keys: Comparison['keys'] = {};
  for (const key of new Set([...Object.keys(base.summary.evaluators), ...Object.keys(head.summary.evaluators)])) {
    const b = base.summary.evaluators[key]?.mean ?? null;
    const h = head.summary.evaluators[key]?.mean ?? null;
    keys[key] = { base: b, head: h, delta: b !== null && h !== null ? h - b : null };
  }
  const regressions: Change[] = [];
  const improvements: Change[] = [];
  const heads = new Map(head.results.map((r) => [r.exampleId, r]));
  const bases = new Map(base.results.map((r) => [r.exampleId, r]));
  for (const b of base.results) {
    const h = heads.get(b.exampleId);
    if (!h) continue;
    for (const key of Object.keys(keys)) {
      const bs = b.scores[key];
      const hs = h.scores[key];
      const bv = scored(bs) ? bs.score : null;
      const hv = scored(hs) ? hs.score : null;
      const change = { exampleId: b.exampleId, key, base: bv, head: hv };
      if (bv !== null && hv === null && (hs !== undefined || h.status === 'errored')) regressions.push({ ...change, kind: 'errored' });
      else if (bv === null && hv !== null && (bs !== undefined || b.status === 'errored'))
        improvements.push({ ...change, kind: 'recovered' });
      else if (bv !== null && hv !== null && hv < bv - threshold) regressions.push({ ...change, kind: 'score' });
      else if (bv !== null && hv !== null && hv > bv + threshold) improvements.push({ ...change, kind: 'score' });
    }
  }
  return {
    keys,
    regressions,
    improvements,
    unmatched: {
      base: base.results.filter((r) => !heads.has(r.exampleId)).map((r) => r.exampleId),
      head: head.results.filter((r) => !bases.has(r.exampleId)).map((r) => r.exampleId),
    },
  };
}
