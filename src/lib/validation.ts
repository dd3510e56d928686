/** Maps zod failures (from @hono/zod-openapi's validator) to the 422 problem with field paths. */
import type { z } from 'zod';
import { AppError, type FieldError, fieldPath } from './problem';

const TARGET_TO_IN: Record<string, FieldError['in']> = {
  json: 'body',
  form: 'body',
  query: 'query',
  param: 'path',
  header: 'header',
  cookie: 'header',
};

export function validationError(error: z.ZodError, target: string): AppError {
  const location = TARGET_TO_IN[target] ?? 'body';
  const errors: FieldError[] = error.issues.flatMap((issue): FieldError[] =>
    // An unknown key is reported at the key itself, so clients see e.g. `role` or `tenantId`.
    issue.code === 'unrecognized_keys'
      ? issue.keys.map((key) => ({ in: location, ...fieldPath([...issue.path, key]), message: `Unknown field '${key}'`, code: issue.code }))
      : [{ in: location, ...fieldPath(issue.path), message: issue.message, code: issue.code }],
  );
  const fields = [...new Set(errors.map((e) => e.path || '(root)'))].join(', ');
  return new AppError('validation_failed', `The request ${location} has invalid fields: ${fields}.`, { errors });
}

/** The `defaultHook` for every OpenAPIHono router: throw so `onError` renders one shape. */
export function validationHook(result: { success: true } | { success: false; error: z.ZodError; target: string }): void {
  if (!result.success) throw validationError(result.error, result.target);
}
