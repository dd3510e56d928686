/**
 * Node wiring without eval: JSONata expressions (an interpreter, so Workers'
 * ban on eval/new Function does not bite) and `{{ expression }}` templates.
 */
import jsonata from 'jsonata';

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

/** Compiles (and caches) an expression; throws ExpressionError with the parser's message. */
export function compile(expression: string): jsonata.Expression {
  let e = cache.get(expression);
  if (!e) {
    try {
      e = jsonata(expression);
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
