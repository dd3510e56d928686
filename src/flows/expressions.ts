/**
 * Node wiring without eval: JSONata expressions (an interpreter, so Workers'
 * ban on eval/new Function does not bite) and `{{ expression }}` templates.
 * Every evaluation is bounded in steps and nesting, and all evaluations over
 * one scope (one node attempt) in steps together (src/flows/ceilings.ts): an
 * endless loop, such as a tail-recursive function (which JSONata runs without
 * growing its stack), fails the expression instead of holding the FlowRun.
 */
import jsonata from 'jsonata';
import { EXPRESSION_MAX_DEPTH, EXPRESSION_MAX_STEPS, EXPRESSION_MAX_STEPS_PER_SCOPE } from './ceilings';

const cache = new Map<string, jsonata.Expression>();
const MAX_CACHE = 2000;

export class ExpressionError extends Error {
  constructor(
    readonly expression: string,
    message: string,
  ) {
    super(message);
    this.name = 'ExpressionError';
  }
}

/** Thrown inside an evaluation that went past a bound; evaluate() turns it into an ExpressionError (never retried). */
class BudgetExceeded extends Error {}

interface Counter {
  steps: number;
}
/** The steps of one evaluation and of every evaluation over the same scope. */
interface Usage {
  evaluation: Counter;
  scope: Counter;
}

/** Steps taken over each scope object (a node attempt's scope: every expression the attempt evaluates). */
const perScope = new WeakMap<object, Counter>();
/** Each evaluation's usage, keyed by JSONata's per-evaluation root frame (`environment.base`). */
const usage = new WeakMap<object, Usage>();
/**
 * The usage for the evaluation about to start. JSONata creates the evaluation's root frame inside
 * evaluate() and calls the hook for it before its first await, so the first hook call that meets an
 * unknown frame, right after evaluate() set this, belongs to that evaluation.
 */
let starting: Usage | null = null;

/**
 * JSONata calls this before evaluating each node of the expression tree (the hook its own test suite's
 * "timeboxExpression" uses). Compiled expressions are shared, so the counts live with the evaluation's
 * root frame, which JSONata creates afresh for every evaluate().
 */
function onEntry(_expr: unknown, _input: unknown, environment: { base: object & { depth?: number } }): void {
  const base = environment.base;
  let u = usage.get(base);
  if (!u) {
    u = starting ?? { evaluation: { steps: 0 }, scope: { steps: 0 } };
    starting = null;
    usage.set(base, u);
  }
  if (++u.evaluation.steps > EXPRESSION_MAX_STEPS)
    throw new BudgetExceeded(`evaluation exceeded ${EXPRESSION_MAX_STEPS} steps (an endless loop or recursion?)`);
  if (++u.scope.steps > EXPRESSION_MAX_STEPS_PER_SCOPE)
    throw new BudgetExceeded(`the node's expressions exceeded ${EXPRESSION_MAX_STEPS_PER_SCOPE} steps in total`);
  if ((base.depth ?? 0) > EXPRESSION_MAX_DEPTH) throw new BudgetExceeded(`evaluation nested deeper than ${EXPRESSION_MAX_DEPTH} levels`);
}

function scopeCounter(scope: unknown): Counter {
  if (typeof scope !== 'object' || scope === null) return { steps: 0 };
  let c = perScope.get(scope);
  if (!c) {
    c = { steps: 0 };
    perScope.set(scope, c);
  }
  return c;
}

/** Compiles (and caches) an expression; throws ExpressionError with the parser's message. */
export function compile(expression: string): jsonata.Expression {
  let e = cache.get(expression);
  if (!e) {
    try {
      e = jsonata(expression);
      // JSONata looks the hook up by this symbol; its typings only admit string names.
      e.assign(Symbol.for('jsonata.__evaluate_entry') as unknown as string, onEntry);
    } catch (err) {
      throw new ExpressionError(expression, `cannot parse '${expression}': ${(err as { message?: string }).message ?? String(err)}`);
    }
    if (cache.size >= MAX_CACHE) cache.delete(cache.keys().next().value!);
    cache.set(expression, e);
  }
  return e;
}

export async function evaluate(expression: string, scope: unknown): Promise<unknown> {
  const e = compile(expression);
  try {
    starting = { evaluation: { steps: 0 }, scope: scopeCounter(scope) };
    const value = await e.evaluate(scope);
    return toPlain(value);
  } catch (err) {
    throw new ExpressionError(expression, `cannot evaluate '${expression}': ${(err as { message?: string }).message ?? String(err)}`);
  }
}

const TEMPLATE = /\{\{([\s\S]+?)\}\}/g;

/** Renders `Hello {{ input.name }}`; objects are inserted as JSON, undefined as ''. */
export async function render(template: string, scope: unknown): Promise<string> {
  const parts: Array<string | Promise<unknown>> = [];
  let last = 0;
  for (const m of template.matchAll(TEMPLATE)) {
    parts.push(template.slice(last, m.index));
    parts.push(evaluate(m[1]!.trim(), scope));
    last = m.index! + m[0].length;
  }
  parts.push(template.slice(last));
  const values = await Promise.all(parts);
  return values.map((v) => (v === undefined || v === null ? '' : typeof v === 'string' ? v : JSON.stringify(v))).join('');
}

/** Expressions inside a template, for validation on save. */
export function templateExpressions(template: string): string[] {
  return [...template.matchAll(TEMPLATE)].map((m) => m[1]!.trim());
}

/** JSONata returns arrays with a `sequence` flag and may return undefined; normalize to JSON values. */
function toPlain(v: unknown): unknown {
  if (v === undefined) return null;
  return JSON.parse(JSON.stringify(v)) as unknown;
}
