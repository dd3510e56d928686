/**
 * Pure rules over feedback keys and ratings: does a score or value fit a key (field errors naming
 * what is wrong), what a score means normalised, whether it is positive. No I/O; the hub applies
 * them inside the write's transaction.
 */
import type { FieldError } from '../lib/result';
import type { FeedbackKey, FeedbackPatch } from './model';

export const MAX_TEXT = 4000;

/** The stored form of a rating's measure: a score (boolean, numeric) or a value (categorical, text). */
export interface Measure {
  score: number | null;
  value: string | null;
}

/**
 * Checks `score` / `value` against `key`. Boolean keys take `score` true/false or 1/0; numeric keys
 * a `score` in [min, max]; categorical keys a `value` among the categories; text keys a `value`.
 */
export function measureFor(
  key: FeedbackKey,
  input: Pick<FeedbackPatch, 'score' | 'value'>,
): { ok: true; measure: Measure } | { ok: false; errors: FieldError[] } {
  const errors: FieldError[] = [];
  const { score, value } = input;
  const wantsScore = key.type === 'boolean' || key.type === 'numeric';
  if (wantsScore && value !== undefined)
    errors.push({ path: 'value', message: `Key '${key.key}' is ${key.type}: send score, not value`, code: 'value_not_allowed' });
  if (!wantsScore && score !== undefined)
    errors.push({ path: 'score', message: `Key '${key.key}' is ${key.type}: send value, not score`, code: 'score_not_allowed' });
  if (errors.length) return { ok: false, errors };

  if (key.type === 'boolean') {
    if (score === undefined) return missing('score', key);
    if (score === true || score === 1) return { ok: true, measure: { score: 1, value: null } };
    if (score === false || score === 0) return { ok: true, measure: { score: 0, value: null } };
    return bad('score', `Key '${key.key}' is boolean: use true/false or 1/0`, 'not_boolean');
  }
  if (key.type === 'numeric') {
    if (score === undefined) return missing('score', key);
    if (typeof score !== 'number' || !Number.isFinite(score))
      return bad('score', `Key '${key.key}' is numeric: send a number`, 'not_a_number');
    if (score < key.min! || score > key.max!)
      return bad('score', `Key '${key.key}' takes scores from ${key.min} to ${key.max}; got ${score}`, 'out_of_range');
    return { ok: true, measure: { score, value: null } };
  }
  if (value === undefined) return missing('value', key);
  if (key.type === 'categorical') {
    if (!key.categories!.includes(value))
      return bad('value', `Key '${key.key}' takes one of: ${key.categories!.join(', ')}; got '${value}'`, 'unknown_category');
    return { ok: true, measure: { score: null, value } };
  }
  if (value.length === 0 || value.length > MAX_TEXT) return bad('value', `Text must be 1 to ${MAX_TEXT} characters`, 'bad_length');
  return { ok: true, measure: { score: null, value } };
}

function missing(path: 'score' | 'value', key: FeedbackKey) {
  return bad(path, `Key '${key.key}' is ${key.type}: ${path} is required`, 'required');
}

function bad(path: string, message: string, code: string): { ok: false; errors: FieldError[] } {
  return { ok: false, errors: [{ path, message, code }] };
}

/** A score mapped to 0..1 with 1 the good end (boolean and numeric keys); null otherwise. */
export function normalised(key: Pick<FeedbackKey, 'type' | 'min' | 'max' | 'higherIsBetter'>, score: number | null): number | null {
  if (score === null) return null;
  let n: number;
  if (key.type === 'boolean') n = score;
  else if (key.type === 'numeric') n = key.max === key.min ? 1 : (score - key.min!) / (key.max! - key.min!);
  else return null;
  return key.higherIsBetter ? n : 1 - n;
}

/** Positive: a boolean on its good side, a numeric score strictly past the middle of the range towards the good end. */
export function isPositive(key: Pick<FeedbackKey, 'type' | 'min' | 'max' | 'higherIsBetter'>, score: number | null): boolean | null {
  const n = normalised(key, score);
  return n === null ? null : n > 0.5;
}

/** A key's type-specific fields agree with its type (after a create or a merged patch). */
export function keyShapeErrors(k: Pick<FeedbackKey, 'type' | 'min' | 'max' | 'categories'>): FieldError[] {
  const errors: FieldError[] = [];
  const numeric = k.type === 'numeric';
  if (numeric) {
    if (k.min === null) errors.push({ path: 'min', message: 'A numeric key needs min', code: 'required' });
    if (k.max === null) errors.push({ path: 'max', message: 'A numeric key needs max', code: 'required' });
    if (k.min !== null && k.max !== null && !(k.min < k.max))
      errors.push({ path: 'max', message: `max must be greater than min (${k.min})`, code: 'bad_range' });
  } else {
    if (k.min !== null) errors.push({ path: 'min', message: `Only numeric keys take min (this key is ${k.type})`, code: 'not_allowed' });
    if (k.max !== null) errors.push({ path: 'max', message: `Only numeric keys take max (this key is ${k.type})`, code: 'not_allowed' });
  }
  if (k.type === 'categorical') {
    if (!k.categories?.length) errors.push({ path: 'categories', message: 'A categorical key needs categories', code: 'required' });
    else if (new Set(k.categories).size !== k.categories.length)
      errors.push({ path: 'categories', message: 'Categories must be distinct', code: 'duplicate' });
  } else if (k.categories !== null) {
    errors.push({ path: 'categories', message: `Only categorical keys take categories (this key is ${k.type})`, code: 'not_allowed' });
  }
  return errors;
}

/** A window like `12h` or `7d` in milliseconds (1 hour to 90 days), or null when it does not parse. */
export function windowMs(window: string): number | null {
  const m = /^(\d{1,4})([hd])$/.exec(window);
  if (!m) return null;
  const ms = Number(m[1]) * (m[2] === 'h' ? 3600_000 : 86_400_000);
  return ms >= 3600_000 && ms <= 90 * 86_400_000 ? ms : null;
}
