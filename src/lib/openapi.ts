/** Shared OpenAPI pieces: the problem schema and standard error responses for every route. */
import { z } from '@hono/zod-openapi';
import { PROBLEM_CONTENT_TYPE, PROBLEMS, type ProblemCode } from './problem';

export const FieldErrorSchema = z
  .object({
    in: z.enum(['body', 'query', 'path', 'header']),
    path: z.string().openapi({ example: 'email' }),
    pointer: z.string().openapi({ description: 'RFC 6901 JSON Pointer into the request part', example: '/email' }),
    message: z.string(),
    code: z.string(),
  })
  .openapi('FieldError');

export const ProblemSchema = z
  .object({
    type: z.string().openapi({ format: 'uri', example: 'https://edgecrew.dev/problems/validation-failed' }),
    title: z.string(),
    status: z.number().int(),
    detail: z.string(),
    instance: z.string().optional(),
    code: z.enum(Object.keys(PROBLEMS) as [ProblemCode, ...ProblemCode[]]),
    requestId: z.string().optional(),
    errors: z.array(FieldErrorSchema).optional(),
  })
  .openapi('Problem', { description: 'RFC 9457 problem details' });

const DESCRIPTIONS: Record<number, string> = {
  400: 'Malformed request (e.g. invalid JSON)',
  401: 'Missing or invalid credentials',
  403: 'The credential lacks the required role',
  404: 'Not found (also for resources of other tenants)',
  405: 'Method not allowed',
  409: 'Conflict',
  412: 'Precondition failed (stale If-Match)',
  413: 'Request body too large',
  415: 'Unsupported media type',
  422: 'Validation failed; `errors` lists the offending fields',
  428: 'Precondition required',
  429: 'Rate limited; see Retry-After',
  500: 'Internal error; `requestId` identifies it in logs',
  503: 'Service unavailable',
};

function problem(status: number) {
  return { description: DESCRIPTIONS[status] ?? 'Error', content: { [PROBLEM_CONTENT_TYPE]: { schema: ProblemSchema } } };
}

/** Responses every route can produce. */
const BASE = [400, 405, 413, 415, 422, 500];
/** Added to every authenticated route. */
const AUTHED = [401, 403, 404, 429];

export function problemResponses(extra: number[] = [], opts: { authenticated?: boolean } = {}) {
  const statuses = [...BASE, ...(opts.authenticated === false ? [] : AUTHED), ...extra];
  return Object.fromEntries([...new Set(statuses)].sort().map((s) => [s, problem(s)])) as Record<string, ReturnType<typeof problem>>;
}

/** `application/json` content helper. */
export function jsonContent<T extends z.ZodType>(schema: T, description: string) {
  return { description, content: { 'application/json': { schema } } };
}

/** A required JSON request body. */
export function jsonBody<T extends z.ZodType>(schema: T, description?: string) {
  return { required: true, content: { 'application/json': { schema } }, ...(description ? { description } : {}) };
}

export const BearerAuth = [{ bearerAuth: [] }];
