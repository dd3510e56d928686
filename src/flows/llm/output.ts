/**
 * Structured output for `llm` nodes: the answer parsed as JSON and checked
 * against the node's JSON Schema with @cfworker/json-schema, an interpreter
 * (Workers forbid `eval`/`new Function`, which rules out Ajv's compiled
 * validators). Pure functions over data.
 */
import { type Schema, type SchemaDraft, Validator } from '@cfworker/json-schema';

/** A JSON Schema as it comes from a flow definition (an object, or `true`/`false`). */
export type JsonSchema = Record<string, unknown> | boolean;

export interface OutputProblem {
  /** JSON Pointer into the answer ('' = the whole answer). */
  path: string;
  message: string;
}

/** The JSON in an answer, tolerating a surrounding Markdown code fence (models add them despite instructions). */
export function parseJsonAnswer(text: string): { ok: true; value: unknown } | { ok: false; problem: OutputProblem } {
  let body = text.trim();
  const fence = /^```[A-Za-z0-9_-]*\s*\n([\s\S]*?)\n?```$/.exec(body);
  if (fence) body = fence[1]!.trim();
  try {
    return { ok: true, value: JSON.parse(body) };
  } catch (err) {
    return { ok: false, problem: { path: '', message: `The answer is not JSON: ${(err as Error).message}` } };
  }
}

/** Every violation of `schema` by `value` (empty when valid). */
export function validateAgainst(schema: JsonSchema, value: unknown): OutputProblem[] {
  const result = new Validator(schema as Schema | boolean, draftOf(schema), false).validate(value);
  if (result.valid) return [];
  // The validator reports each failing keyword and its parents; the innermost ones name the cause.
  const seen = new Set<string>();
  const out: OutputProblem[] = [];
  for (const e of result.errors) {
    const path = e.instanceLocation.replace(/^#/, '');
    const key = `${path}\u0000${e.error}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push({ path, message: e.error });
  }
  return out.slice(0, 20);
}

/** Whether `schema` is usable (checked when a flow is saved, so a bad schema fails validation, not a run). */
export function schemaProblem(schema: JsonSchema): string | undefined {
  try {
    new Validator(schema as Schema | boolean, draftOf(schema)).validate(null);
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}

function draftOf(schema: JsonSchema): SchemaDraft {
  const uri = typeof schema === 'object' && typeof schema.$schema === 'string' ? schema.$schema : '';
  if (uri.includes('draft-04')) return '4';
  if (uri.includes('draft-07') || uri.includes('draft-06')) return '7';
  if (uri.includes('2019-09')) return '2019-09';
  return '2020-12';
}
