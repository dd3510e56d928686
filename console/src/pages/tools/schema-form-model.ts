/**
 * The invoke form's model: which fields a tool's inputSchema (JSON Schema 2020-12) asks for,
 * and how the values typed into them become the `input` JSON. Pure, so it is easy to test and
 * to reason about. Shapes the form cannot draw (nested objects, arrays, unions) become a JSON
 * field for that property; a schema that is not an object of properties falls back to one JSON box.
 */

export type FieldKind = 'string' | 'number' | 'integer' | 'boolean' | 'enum' | 'json';

export interface FormField {
  /** Property name; also the last part of the API's error path `input.<name>`. */
  name: string;
  kind: FieldKind;
  required: boolean;
  label: string;
  description?: string;
  options?: unknown[];
  /** Initial text in the control (from `default`, or '' / 'false'). */
  initial: string;
  multiline?: boolean;
}

export type SchemaForm = { kind: 'fields'; fields: FormField[] } | { kind: 'raw'; reason: string };

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

function typeOf(s: Json): string | undefined {
  if (typeof s.type === 'string') return s.type;
  if (Array.isArray(s.type)) {
    const t = s.type.filter((x) => x !== 'null');
    return t.length === 1 && typeof t[0] === 'string' ? t[0] : undefined;
  }
  return undefined;
}

function fieldOf(name: string, schema: unknown, required: boolean): FormField {
  const s = isObject(schema) ? schema : {};
  const label = typeof s.title === 'string' ? s.title : name;
  const description = typeof s.description === 'string' ? s.description : undefined;
  const base = { name, required, label, ...(description ? { description } : {}) };
  const def = s.default;
  if (Array.isArray(s.enum) && s.enum.length > 0) {
    const first = required ? JSON.stringify(s.enum[0]) : '';
    return { ...base, kind: 'enum', options: s.enum, initial: def === undefined ? first : JSON.stringify(def) };
  }
  if (s.const !== undefined) return { ...base, kind: 'enum', options: [s.const], initial: JSON.stringify(s.const) };
  const t = typeOf(s);
  switch (t) {
    case 'string':
      return {
        ...base,
        kind: 'string',
        initial: typeof def === 'string' ? def : '',
        multiline: typeof s.maxLength !== 'number' || s.maxLength > 200,
      };
    case 'number':
    case 'integer':
      return { ...base, kind: t, initial: typeof def === 'number' ? String(def) : '' };
    case 'boolean':
      return { ...base, kind: 'boolean', initial: def === true ? 'true' : 'false' };
    default:
      return { ...base, kind: 'json', initial: def === undefined ? '' : JSON.stringify(def, null, 2) };
  }
}

export function formFromSchema(schema: unknown): SchemaForm {
  if (schema === true || (isObject(schema) && Object.keys(schema).length === 0)) {
    return { kind: 'raw', reason: 'The input schema accepts any JSON.' };
  }
  if (!isObject(schema)) return { kind: 'raw', reason: 'The input schema rejects every input.' };
  if (typeOf(schema) !== 'object' || !isObject(schema.properties)) {
    return { kind: 'raw', reason: 'The input is not an object with named properties.' };
  }
  const required = new Set(Array.isArray(schema.required) ? schema.required.filter((r): r is string => typeof r === 'string') : []);
  const fields = Object.entries(schema.properties).map(([name, s]) => fieldOf(name, s, required.has(name)));
  return { kind: 'fields', fields };
}

export interface BuiltInput {
  input: Record<string, unknown>;
  /** Errors found before sending (a number that is not one, JSON that does not parse), by field name. */
  errors: Record<string, string>;
}

/** Turns the controls' text into the input object. Empty fields are left out (so the API names a missing required one). */
export function buildInput(fields: FormField[], values: Record<string, string>): BuiltInput {
  const input: Record<string, unknown> = {};
  const errors: Record<string, string> = {};
  for (const f of fields) {
    const text = values[f.name] ?? f.initial;
    if (f.kind === 'boolean') {
      input[f.name] = text === 'true';
      continue;
    }
    // An empty control is an absent property: the API then names a required one ("Required" under it).
    if (text.trim() === '' && f.kind !== 'string') continue;
    if (text === '') continue;
    switch (f.kind) {
      case 'string':
        input[f.name] = text;
        break;
      case 'number':
      case 'integer': {
        const n = Number(text);
        if (!Number.isFinite(n)) errors[f.name] = 'Not a number';
        else input[f.name] = n;
        break;
      }
      case 'enum':
      case 'json':
        try {
          input[f.name] = JSON.parse(text);
        } catch {
          errors[f.name] = 'Not valid JSON';
        }
        break;
    }
  }
  return { input, errors };
}
