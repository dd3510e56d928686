/** Typed errors: every non-2xx answer of the API is RFC 9457 problem+json, carried here with its `type` and `code`. */
import type { components } from './openapi';

/** The wire shape of an error response (`components.schemas.Problem`). */
export type Problem = components['schemas']['Problem'];
/** A stable problem code (`validation_failed`, `not_found`, …); docs/errors.md lists them. */
export type ProblemCode = Problem['code'];
/** One offending input field of a 422. */
export type FieldError = components['schemas']['FieldError'];

/** An error answer of the API. `type` is the problem's URI, `code` its stable name, `errors` the fields of a 422. */
export class EdgecrewError extends Error {
  readonly status: number;
  readonly type: string;
  readonly code: ProblemCode | undefined;
  readonly title: string;
  readonly detail: string;
  readonly errors: FieldError[];
  readonly requestId: string | undefined;
  /** The whole problem document, extensions included. */
  readonly problem: Partial<Problem> & Record<string, unknown>;

  constructor(status: number, problem: Partial<Problem> & Record<string, unknown>) {
    super(problem.detail ?? problem.title ?? `HTTP ${status}`);
    this.name = 'EdgecrewError';
    this.status = status;
    this.type = problem.type ?? 'about:blank';
    this.code = problem.code;
    this.title = problem.title ?? `HTTP ${status}`;
    this.detail = problem.detail ?? '';
    this.errors = problem.errors ?? [];
    this.requestId = problem.requestId;
    this.problem = problem;
  }
}

/** Reads a failed response into an `EdgecrewError` (a body that is not problem+json keeps only the status). */
export async function errorFromResponse(response: Response): Promise<EdgecrewError> {
  const text = await response.text().catch(() => '');
  let problem: Record<string, unknown> = {};
  try {
    const parsed: unknown = text ? JSON.parse(text) : {};
    if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) problem = parsed as Record<string, unknown>;
  } catch {
    problem = { detail: text.slice(0, 500) };
  }
  return new EdgecrewError(response.status, problem);
}

/** Turns an openapi-fetch result into its data, throwing `EdgecrewError` for an error answer. */
export function unwrap<T>(result: { data?: T; error?: unknown; response: Response }): T {
  if (result.response.ok) return result.data as T;
  const problem = result.error && typeof result.error === 'object' ? (result.error as Record<string, unknown>) : {};
  throw new EdgecrewError(result.response.status, problem);
}
