/**
 * Evaluators: each grades one example's answer and returns a score in 0..1 (1 = best) and whether
 * it passed, or the reason it could not grade. Pure functions over data, except `llm_judge`, which
 * asks a model through the tenant's providers (./judge.ts) and is passed in.
 */
import { parseJsonAnswer, validateAgainst } from '../flows/llm/output';
import type { EvalScore, Evaluator } from './model';

/** What an evaluator sees of one example. */
export interface Sample {
  exampleId: string;
  input: unknown;
  expected: unknown;
  /** The run's answer (already narrowed to the evaluator's `field`). */
  actual: unknown;
  durationMs: number | null;
  costUsd: number | null;
}

export type Judge = (evaluator: Extract<Evaluator, { type: 'llm_judge' }>, sample: Sample) => Promise<EvalScore>;

/** The value at a dotted path (`json.city`, `items.0.name`), or undefined. */
export function pick(value: unknown, field: string | undefined): unknown {
  if (field === undefined || field === '') return value;
  return field
    .split('.')
    .reduce<unknown>((v, k) => (v !== null && typeof v === 'object' ? (v as Record<string, unknown>)[k] : undefined), value);
}

/** A run's answer: the output of its one sink node, else every sink's output by node id. */
export function answerOf(runOutput: unknown): unknown {
  if (runOutput && typeof runOutput === 'object' && !Array.isArray(runOutput)) {
    const keys = Object.keys(runOutput);
    if (keys.length === 1) return (runOutput as Record<string, unknown>)[keys[0]!];
  }
  return runOutput;
}

/** JSON with sorted keys: equal values, equal strings. */
export function canonical(value: unknown): string {
  if (value === undefined) return 'null';
  if (value === null || typeof value !== 'object') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  const o = value as Record<string, unknown>;
  return `{${Object.keys(o)
    .sort()
    .map((k) => `${JSON.stringify(k)}:${canonical(o[k])}`)
    .join(',')}}`;
}

const asText = (v: unknown) => (typeof v === 'string' ? v : canonical(v));
const binary = (passed: boolean, detail?: string, value?: number): EvalScore => ({
  score: passed ? 1 : 0,
  passed,
  ...(value !== undefined ? { value } : {}),
  ...(detail !== undefined ? { detail } : {}),
});
const noExpected = (type: string): EvalScore => ({ error: `${type} needs the example's expected output` });

export async function scoreSample(e: Evaluator, s: Sample, judge: Judge): Promise<EvalScore> {
  switch (e.type) {
    case 'exact': {
      if (s.expected === undefined || s.expected === null) return noExpected('exact');
      if (typeof s.actual === 'string' && typeof s.expected === 'string') {
        const norm = (t: string) => (e.ignoreCase ? t.trim().toLowerCase() : t.trim());
        return binary(norm(s.actual) === norm(s.expected));
      }
      return binary(canonical(s.actual) === canonical(s.expected));
    }
    case 'contains': {
      const needle = e.value ?? (s.expected === undefined || s.expected === null ? undefined : asText(s.expected));
      if (needle === undefined) return { error: 'contains needs `value` or the example’s expected output' };
      const hay = asText(s.actual);
      return binary(e.ignoreCase ? hay.toLowerCase().includes(needle.toLowerCase()) : hay.includes(needle));
    }
    case 'regex':
      return binary(new RegExp(e.pattern, e.flags).test(asText(s.actual)));
    case 'json_schema': {
      // A model's text holding a JSON object or array is graded as that JSON; any other string as the string.
      let value = s.actual;
      if (typeof value === 'string') {
        const parsed = parseJsonAnswer(value);
        if (parsed.ok && parsed.value !== null && typeof parsed.value === 'object') value = parsed.value;
      }
      const problems = validateAgainst(e.schema, value);
      return binary(problems.length === 0, problems[0] ? `${problems[0].path || '(root)'}: ${problems[0].message}` : undefined);
    }
    case 'numeric_tolerance': {
      const a = Number(s.actual);
      const x = Number(s.expected);
      if (s.expected === undefined || s.expected === null) return noExpected('numeric_tolerance');
      if (!Number.isFinite(a) || !Number.isFinite(x)) return binary(false, 'the answer or the expected output is not a number');
      const allowed = e.relative ? e.tolerance * Math.abs(x) : e.tolerance;
      return binary(Math.abs(a - x) <= allowed, `|${a} - ${x}| = ${Math.abs(a - x)}`, a);
    }
    case 'latency':
      if (s.durationMs === null) return { error: 'the run has no duration' };
      return binary(s.durationMs <= e.maxMs, `${s.durationMs} ms (max ${e.maxMs})`, s.durationMs);
    case 'cost':
      if (s.costUsd === null) return { error: 'the run has no cost' };
      return binary(s.costUsd <= e.maxUsd, `$${s.costUsd} (max $${e.maxUsd})`, s.costUsd);
    case 'llm_judge':
      return judge(e, s);
  }
}
