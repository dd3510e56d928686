/**
 * The one shape for crossing a Durable Object boundary. RPC keeps only an
 * Error's message, so an expected failure travels as data: `{ ok: false, code,
 * detail, errors? }`. The Worker side turns it into the client's problem+json
 * with `unwrap`, through the same AppError codes as every other failure.
 */
import { AppError, pointerOf } from './problem';

/** Failures a Durable Object may answer with; each is an AppError code (src/lib/problem.ts). */
export type FailureCode = 'not_found' | 'precondition_failed' | 'validation_failed' | 'conflict' | 'forbidden';

/** One invalid field, by its dotted path in the request body. */
export interface FieldError {
  path: string;
  message: string;
  code: string;
}

export type Failure = { ok: false; code: FailureCode; detail: string; errors?: FieldError[] };
export type Result<T> = { ok: true; value: T } | Failure;

export const ok = <T>(value: T): Result<T> => ({ ok: true, value });

export function fail(code: FailureCode, detail: string, errors?: FieldError[]): Failure {
  return errors?.length ? { ok: false, code, detail, errors } : { ok: false, code, detail };
}

/** The value, or the failure thrown as the AppError the client sees (field errors point into the body). */
export function unwrap<T>(r: Result<T>): T {
  if (r.ok) return r.value;
  throw new AppError(
    r.code,
    r.detail,
    r.errors
      ? {
          errors: r.errors.map((e) => ({
            in: 'body' as const,
            path: e.path,
            pointer: pointerOf(e.path),
            message: e.message,
            code: e.code,
          })),
        }
      : {},
  );
}
