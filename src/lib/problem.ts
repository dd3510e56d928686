/**
 * One error vocabulary (RFC 9457 problem details). Services throw `AppError`
 * with a stable code; `onError` renders it. Nothing else reaches a client.
 */

/** Stable problem codes; each has a fixed HTTP status and title. */
export const PROBLEMS = {
  bad_request: { status: 400, title: 'Bad request' },
  malformed_json: { status: 400, title: 'Malformed JSON' },
  unauthorized: { status: 401, title: 'Unauthorized' },
  forbidden: { status: 403, title: 'Forbidden' },
  not_found: { status: 404, title: 'Not found' },
  method_not_allowed: { status: 405, title: 'Method not allowed' },
  conflict: { status: 409, title: 'Conflict' },
  gone: { status: 410, title: 'Gone' },
  resync_required: { status: 410, title: 'Resync required' },
  precondition_failed: { status: 412, title: 'Precondition failed' },
  payload_too_large: { status: 413, title: 'Payload too large' },
  unsupported_media_type: { status: 415, title: 'Unsupported media type' },
  validation_failed: { status: 422, title: 'Validation failed' },
  idempotency_key_reused: { status: 422, title: 'Idempotency key reused with a different request' },
  precondition_required: { status: 428, title: 'Precondition required' },
  rate_limited: { status: 429, title: 'Too many requests' },
  internal_error: { status: 500, title: 'Internal server error' },
  service_unavailable: { status: 503, title: 'Service unavailable' },
} as const satisfies Record<string, { status: number; title: string }>;

export type ProblemCode = keyof typeof PROBLEMS;

/** Base of every problem `type` URI; `docs/errors.md` documents each one. */
export const PROBLEM_TYPE_BASE = 'https://edgecrew.dev/problems/';

export function problemType(code: ProblemCode): string {
  return PROBLEM_TYPE_BASE + code.replaceAll('_', '-');
}

/** One offending input field. `pointer` is an RFC 6901 JSON Pointer into `in`. */
export interface FieldError {
  in: 'body' | 'query' | 'path' | 'header';
  path: string;
  pointer: string;
  message: string;
  code: string;
}

/** The wire shape of every error response. */
export interface ProblemDetails {
  type: string;
  title: string;
  status: number;
  detail: string;
  instance?: string;
  code: ProblemCode;
  requestId?: string;
  errors?: FieldError[];
  [extension: string]: unknown;
}

export interface AppErrorOptions {
  errors?: FieldError[];
  headers?: Record<string, string>;
  extensions?: Record<string, unknown>;
  cause?: unknown;
}

/** A failure the client is meant to see. Throw it from anywhere. */
export class AppError extends Error {
  readonly code: ProblemCode;
  readonly status: number;
  readonly errors: FieldError[] | undefined;
  readonly headers: Record<string, string>;
  readonly extensions: Record<string, unknown>;

  constructor(code: ProblemCode, detail: string, options: AppErrorOptions = {}) {
    super(detail, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'AppError';
    this.code = code;
    this.status = PROBLEMS[code].status;
    this.errors = options.errors;
    this.headers = options.headers ?? {};
    this.extensions = options.extensions ?? {};
  }
}

/** Builds the problem body for an `AppError`. */
export function toProblem(err: AppError, instance?: string, requestId?: string): ProblemDetails {
  const body: ProblemDetails = {
    ...err.extensions,
    type: problemType(err.code),
    title: PROBLEMS[err.code].title,
    status: err.status,
    detail: err.message,
    code: err.code,
  };
  if (instance !== undefined) body.instance = instance;
  if (requestId !== undefined) body.requestId = requestId;
  if (err.errors !== undefined) body.errors = err.errors;
  return body;
}

export const PROBLEM_CONTENT_TYPE = 'application/problem+json';

/** Renders a problem as a Response (used where no Hono context exists, e.g. config failure). */
export function problemResponse(problem: ProblemDetails, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(problem), {
    status: problem.status,
    headers: { 'content-type': PROBLEM_CONTENT_TYPE, ...headers },
  });
}

/** Converts a path array (zod issue path) to a dotted path and an RFC 6901 pointer. */
export function fieldPath(segments: ReadonlyArray<PropertyKey>): { path: string; pointer: string } {
  const parts = segments.map((s) => String(s));
  const path = parts.reduce<string>((acc, part, i) => (/^\d+$/.test(part) ? `${acc}[${part}]` : i === 0 ? part : `${acc}.${part}`), '');
  const pointer = `/${parts.map((p) => p.replaceAll('~', '~0').replaceAll('/', '~1')).join('/')}`;
  return { path, pointer: parts.length === 0 ? '' : pointer };
}

/** The RFC 6901 pointer for a dotted path with `[i]` indexes (the inverse of `fieldPath`). */
export function pointerOf(path: string): string {
  if (path === '') return '';
  return fieldPath(path.replace(/\[(\d+)\]/g, '.$1').split('.')).pointer;
}
