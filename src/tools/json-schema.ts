/**
 * JSON Schema for tools without code generation: Workers forbid `eval`/`new
 * Function`, so Ajv's compiler cannot run there; @cfworker/json-schema
 * interprets schemas instead (drafts 4 to 2020-12; 2020-12 here).
 */
import { type OutputUnit, type Schema, Validator } from '@cfworker/json-schema';
import { type FieldError, fieldPath } from '../lib/problem';

const DRAFT = '2020-12';
export const MAX_SCHEMA_BYTES = 64 * 1024;
const MAX_DEPTH = 32;
const MAX_ERRORS = 50;

const TYPES = ['array', 'boolean', 'integer', 'null', 'number', 'object', 'string'];
const sub = { $ref: '#/$defs/schema' };
const subs = { type: 'object', additionalProperties: sub };
const list = { type: 'array', minItems: 1, items: sub };
const count = { type: 'integer', minimum: 0 };
const str = { type: 'string' };

/** The structure of a schema (a pragmatic subset of the 2020-12 meta-schema: the keywords the validator knows). */
const META: Schema = {
  $defs: {
    schema: { anyOf: [{ type: 'boolean' }, { $ref: '#/$defs/object' }] },
    object: {
      type: 'object',
      properties: {
        type: { anyOf: [{ enum: TYPES }, { type: 'array', minItems: 1, uniqueItems: true, items: { enum: TYPES } }] },
        properties: subs,
        patternProperties: subs,
        $defs: subs,
        definitions: subs,
        dependentSchemas: subs,
        ...Object.fromEntries(
          [
            'additionalProperties',
            'unevaluatedProperties',
            'items',
            'additionalItems',
            'unevaluatedItems',
            'contains',
            'not',
            'if',
            'then',
            'else',
            'propertyNames',
          ].map((k) => [k, sub]),
        ),
        ...Object.fromEntries(['prefixItems', 'allOf', 'anyOf', 'oneOf'].map((k) => [k, list])),
        required: { type: 'array', uniqueItems: true, items: str },
        dependentRequired: { type: 'object', additionalProperties: { type: 'array', items: str } },
        enum: { type: 'array' },
        ...Object.fromEntries(
          ['minLength', 'maxLength', 'minItems', 'maxItems', 'minProperties', 'maxProperties', 'minContains', 'maxContains'].map((k) => [
            k,
            count,
          ]),
        ),
        ...Object.fromEntries(['minimum', 'maximum', 'exclusiveMinimum', 'exclusiveMaximum'].map((k) => [k, { type: 'number' }])),
        multipleOf: { type: 'number', exclusiveMinimum: 0 },
        uniqueItems: { type: 'boolean' },
        ...Object.fromEntries(['pattern', 'format', 'title', 'description', '$schema', '$id', '$anchor', '$comment'].map((k) => [k, str])),
        // Only references inside the document: nothing is fetched.
        $ref: { type: 'string', pattern: '^#' },
      },
    },
  },
  $ref: '#/$defs/schema',
};
const metaValidator = new Validator(META, DRAFT, false);

// Wrapper keywords whose failure is always explained by a more precise error beneath them.
const WRAPPERS = new Set([
  'properties',
  'patternProperties',
  'additionalProperties',
  'unevaluatedProperties',
  'items',
  'prefixItems',
  'additionalItems',
  'unevaluatedItems',
  'allOf',
  '$ref',
  '$recursiveRef',
  'dependentSchemas',
  'if',
  'then',
  'else',
  'contains',
]);

function decodePointer(location: string): string[] {
  const body = location.replace(/^#/, '');
  if (body === '' || body === '/') return [];
  return body
    .slice(1)
    .split('/')
    .map((t) => decodeURIComponent(t).replaceAll('~1', '/').replaceAll('~0', '~'));
}

/** Turns validator output into 422 field errors under `prefix` (e.g. `['input']`). */
export function toFieldErrors(errors: OutputUnit[], prefix: string[], location: FieldError['in'] = 'body'): FieldError[] {
  const out: FieldError[] = [];
  const seen = new Set<string>();
  for (const e of errors) {
    if (WRAPPERS.has(e.keyword)) continue;
    const segments = [...prefix, ...decodePointer(e.instanceLocation)];
    let message = e.error;
    let code = e.keyword;
    const missing = e.keyword === 'required' ? /required property "(.*)"/.exec(e.error) : null;
    if (missing) {
      segments.push(missing[1]!);
      message = 'Required';
    } else if (e.keyword === 'false') {
      message = `Unknown or forbidden field '${segments[segments.length - 1] ?? ''}'`;
      code = 'unrecognized_keys';
    }
    const key = `${segments.join('/')}|${message}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push({ in: location, ...fieldPath(segments), message, code: `schema.${code}` });
    if (out.length >= MAX_ERRORS) break;
  }
  return out;
}

function depth(value: unknown, level = 0): number {
  if (level > MAX_DEPTH || typeof value !== 'object' || value === null) return level;
  let max = level;
  for (const v of Object.values(value)) max = Math.max(max, depth(v, level + 1));
  return max;
}

/** Checks `schema` is a usable JSON Schema; field errors under `field` (empty when it is). */
export function checkSchema(schema: unknown, field: string): FieldError[] {
  const at = (message: string, code: string, segments: string[] = []): FieldError[] => [
    { in: 'body', ...fieldPath([field, ...segments]), message, code },
  ];
  if (new TextEncoder().encode(JSON.stringify(schema) ?? '').length > MAX_SCHEMA_BYTES)
    return at(`Schema larger than ${MAX_SCHEMA_BYTES} bytes`, 'too_big');
  if (depth(schema) > MAX_DEPTH) return at(`Schema nested deeper than ${MAX_DEPTH} levels`, 'too_deep');
  const meta = metaValidator.validate(schema);
  if (!meta.valid) return toFieldErrors(meta.errors, [field]);
  // Regular expressions are compiled lazily by the validator; find bad ones now.
  const bad = findBadPattern(schema, []);
  if (bad) return at(`Invalid regular expression: ${bad.message}`, 'invalid_pattern', bad.path);
  try {
    new Validator(schema as Schema, DRAFT, true).validate(null);
  } catch (err) {
    return at((err as Error).message.split('\n')[0] ?? 'Invalid schema', 'invalid_schema');
  }
  return [];
}

function findBadPattern(node: unknown, path: string[]): { path: string[]; message: string } | null {
  if (typeof node !== 'object' || node === null) return null;
  const obj = node as Record<string, unknown>;
  const patterns: Array<[string, string[]]> = [];
  if (typeof obj.pattern === 'string') patterns.push([obj.pattern, [...path, 'pattern']]);
  if (obj.patternProperties && typeof obj.patternProperties === 'object') {
    for (const key of Object.keys(obj.patternProperties)) patterns.push([key, [...path, 'patternProperties', key]]);
  }
  for (const [source, at] of patterns) {
    try {
      new RegExp(source, 'u');
    } catch (err) {
      return { path: at, message: (err as Error).message };
    }
  }
  for (const [k, v] of Object.entries(obj)) {
    const found = findBadPattern(v, [...path, k]);
    if (found) return found;
  }
  return null;
}

/** Validates `value` against an already checked schema; field errors under `prefix`. */
export function validateValue(schema: unknown, value: unknown, prefix: string[]): FieldError[] {
  const result = new Validator(schema as Schema, DRAFT, false).validate(value);
  return result.valid ? [] : toFieldErrors(result.errors, prefix);
}
