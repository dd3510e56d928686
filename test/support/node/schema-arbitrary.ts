/**
 * fast-check arbitraries from the JSON Schemas /openapi.json publishes (OpenAPI 3.1 = JSON Schema 2020-12):
 * values the schema accepts, and values it should refuse (for property-based fuzzing of the API).
 * Covers what our document uses: $ref, type (and type lists), enum/const, anyOf/oneOf/allOf,
 * properties/required/additionalProperties, string lengths/pattern/format, number bounds, array bounds.
 */
import fc from 'fast-check';

type Json = Record<string, any>;
type Components = { schemas: Record<string, Json> };

const MAX_DEPTH = 4;

function deref(schema: Json, components: Components): Json {
  let s = schema;
  for (let i = 0; s.$ref && i < 10; i++) s = components.schemas[String(s.$ref).split('/').pop()!] ?? {};
  return s;
}

function stringArb(s: Json): fc.Arbitrary<string> {
  const minLength = s.minLength ?? 0;
  const maxLength = Math.min(s.maxLength ?? 40, minLength + 40);
  if (s.pattern) {
    try {
      return fc.stringMatching(new RegExp(s.pattern)).filter((x) => x.length >= minLength && x.length <= (s.maxLength ?? Infinity));
    } catch {
      // a pattern JavaScript cannot compile: fall through to plain strings
    }
  }
  switch (s.format) {
    case 'date-time':
      return fc.date({ min: new Date('2000-01-01'), max: new Date('2100-01-01'), noInvalidDate: true }).map((d) => d.toISOString());
    case 'date':
      return fc
        .date({ min: new Date('2000-01-01'), max: new Date('2100-01-01'), noInvalidDate: true })
        .map((d) => d.toISOString().slice(0, 10));
    case 'email':
      return fc.emailAddress().filter((e) => e.length <= (s.maxLength ?? 254));
    case 'uri':
    case 'url':
      return fc.webUrl({ withQueryParameters: true });
    case 'uuid':
      return fc.uuid();
  }
  const arbs = [fc.string({ minLength, maxLength }), fc.string({ minLength, maxLength, unit: 'grapheme' })];
  // Long values too: limits are where parsers, indexes and LIKE patterns break.
  const top = Math.min(s.maxLength ?? 300, 1000);
  if (top > maxLength) arbs.push(fc.string({ minLength: Math.max(minLength, top - 20), maxLength: top }));
  return fc.oneof(...arbs);
}

function numberArb(s: Json, integer: boolean): fc.Arbitrary<number> {
  const min = s.minimum ?? (s.exclusiveMinimum !== undefined ? s.exclusiveMinimum + (integer ? 1 : 1e-9) : -1e6);
  const max = s.maximum ?? (s.exclusiveMaximum !== undefined ? s.exclusiveMaximum - (integer ? 1 : 1e-9) : 1e6);
  return integer
    ? fc.integer({ min: Math.max(Math.ceil(min), Number.MIN_SAFE_INTEGER), max: Math.min(Math.floor(max), Number.MAX_SAFE_INTEGER) })
    : fc.double({ min, max, noNaN: true, noDefaultInfinity: true });
}

/** Values `schema` accepts (best effort: keywords it does not model are ignored, so a few may still be refused). */
export function validArb(schema: Json, components: Components, depth = 0): fc.Arbitrary<unknown> {
  const s = deref(schema, components);
  if (depth > MAX_DEPTH) return fc.constant(s.type === 'array' ? [] : s.type === 'string' ? 'x' : null);
  if ('const' in s) return fc.constant(s.const);
  if (Array.isArray(s.enum)) return fc.constantFrom(...s.enum);
  if (Array.isArray(s.anyOf) || Array.isArray(s.oneOf))
    return fc.oneof(...(s.anyOf ?? s.oneOf).map((x: Json) => validArb(x, components, depth + 1)));
  if (Array.isArray(s.allOf)) {
    // Our document uses allOf for a $ref plus annotations: the first branch carries the shape.
    const [first, ...rest] = s.allOf as Json[];
    return validArb(Object.assign({}, ...rest, deref(first!, components)), components, depth + 1);
  }
  const types: string[] = Array.isArray(s.type) ? s.type : s.type ? [s.type] : s.properties ? ['object'] : [];
  if (types.length === 0) return fc.jsonValue({ maxDepth: 2 });
  return fc.oneof(
    ...types.map((t): fc.Arbitrary<unknown> => {
      switch (t) {
        case 'string':
          return stringArb(s);
        case 'integer':
          return numberArb(s, true);
        case 'number':
          return numberArb(s, false);
        case 'boolean':
          return fc.boolean();
        case 'null':
          return fc.constant(null);
        case 'array':
          return fc.array(validArb(s.items ?? {}, components, depth + 1), {
            minLength: s.minItems ?? 0,
            maxLength: Math.min(s.maxItems ?? 4, (s.minItems ?? 0) + 4),
          });
        default:
          return objectArb(s, components, depth);
      }
    }),
  );
}

function objectArb(s: Json, components: Components, depth: number): fc.Arbitrary<unknown> {
  const props: Record<string, Json> = s.properties ?? {};
  const required = new Set<string>(s.required ?? []);
  const shape: Record<string, fc.Arbitrary<unknown>> = {};
  for (const [k, v] of Object.entries(props)) shape[k] = validArb(v, components, depth + 1);
  const known = fc.record(shape, { requiredKeys: Object.keys(props).filter((k) => required.has(k)) });
  if (Object.keys(props).length === 0 && s.additionalProperties !== false) {
    const values =
      typeof s.additionalProperties === 'object' ? validArb(s.additionalProperties, components, depth + 1) : fc.jsonValue({ maxDepth: 1 });
    return fc.dictionary(fc.string({ minLength: 1, maxLength: 12 }), values, { maxKeys: 3 });
  }
  return known;
}

/** Values `schema` should refuse: a required field missing, a field of the wrong type, an unknown field, or any JSON at all. */
export function invalidArb(schema: Json, components: Components): fc.Arbitrary<unknown> {
  const s = deref(schema, components);
  const wrongType = fc.oneof(fc.constant(null), fc.integer(), fc.string({ maxLength: 3 }), fc.boolean(), fc.constant([]), fc.constant({}));
  const props: Record<string, Json> = s.properties ?? {};
  const keys = Object.keys(props);
  const mutations: Array<fc.Arbitrary<unknown>> = [fc.jsonValue({ maxDepth: 3 }), fc.string({ unit: 'binary', maxLength: 50 })];
  if (keys.length > 0) {
    const base = objectArb(s, components, 0) as fc.Arbitrary<Record<string, unknown>>;
    mutations.push(
      fc.tuple(base, fc.constantFrom(...keys), wrongType).map(([o, k, v]) => ({ ...o, [k]: v })),
      fc.tuple(base, fc.string({ minLength: 1, maxLength: 8 })).map(([o, k]) => ({ ...o, [`x_${k}`]: 1 })),
      fc.tuple(base, fc.constantFrom(...keys), fc.string({ minLength: 200, maxLength: 400 })).map(([o, k, v]) => ({ ...o, [k]: v })),
    );
    const required: string[] = s.required ?? [];
    if (required.length > 0) {
      mutations.push(
        fc.tuple(base, fc.constantFrom(...required)).map(([o, k]) => {
          const { [k]: _dropped, ...rest } = o;
          return rest;
        }),
      );
    }
  }
  return fc.oneof(...mutations);
}
