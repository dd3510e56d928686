/** Shared OpenAPI pieces: the problem schema, standard error responses, Retry-After, Idempotency-Key and SSE content. */
import { type OpenAPIHono, z } from '@hono/zod-openapi';
import type { Context, TypedResponse } from 'hono';
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

/** `components.headers.RetryAfter`, registered by `registerSharedComponents`. */
export const retryAfterRef = { $ref: '#/components/headers/RetryAfter' } as const;
/** Statuses whose problem response documents Retry-After (the in-flight 409 gets it from `documentIdempotency`). */
const RETRY_STATUSES = new Set([429, 503]);

function problem(status: number) {
  return {
    description: DESCRIPTIONS[status] ?? 'Error',
    content: { [PROBLEM_CONTENT_TYPE]: { schema: ProblemSchema } },
    ...(RETRY_STATUSES.has(status) ? { headers: { 'Retry-After': retryAfterRef } } : {}),
  };
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

/**
 * A 200 whose body is JSON text already in the route's documented shape `T` (stored JSON written out as
 * it is, not parsed and serialized again): typed as `c.json` would be, so the route still checks.
 */
export function jsonText<T>(c: Context, text: string): TypedResponse<T, 200, 'json'> {
  return c.body(text, 200, { 'content-type': 'application/json' }) as unknown as TypedResponse<T, 200, 'json'>;
}

export const BearerAuth = [{ bearerAuth: [] }];

/** A path parameter `{name}`: an id of 1 to 64 characters. */
export function idParam<K extends string>(name: K) {
  const id = z
    .string()
    .min(1)
    .max(64)
    .openapi({ param: { name, in: 'path' } });
  return z.object({ [name]: id } as { [P in K]: typeof id });
}

const Timestamp = z.string().openapi({ format: 'date-time' });

/** A versioned resource (flows, agents): its head as GET shows it (`version` is the one shown; `latestVersion` with `?version=`). */
export const versionedHeadFields = {
  id: z.string(),
  name: z.string(),
  description: z.string().nullable(),
  version: z.number().int(),
  latestVersion: z.number().int().optional(),
  createdBy: z.string(),
  createdAt: Timestamp,
  updatedAt: Timestamp,
};

/** One immutable version of a versioned resource, before its body. */
export const versionFields = { version: z.number().int(), createdBy: z.string(), createdAt: Timestamp };

/** `?version=`: read a versioned resource at a given version rather than its latest. */
export const VersionQuery = z.object({
  version: z.coerce
    .number()
    .int()
    .min(1)
    .optional()
    .openapi({ param: { name: 'version', in: 'query' } }),
});

type Registry = OpenAPIHono['openAPIRegistry'];

/** Components the helpers here refer to by `$ref`; `mountDocs` registers them once. */
export function registerSharedComponents(registry: Registry): void {
  registry.registerComponent('headers', 'RetryAfter', {
    description:
      'Seconds to wait before retrying (RFC 9110 §10.2.3). Always sent on 429 and on the 409 for an in-flight ' +
      'Idempotency-Key; on 503 when the server can tell when to retry.',
    schema: { type: 'integer', minimum: 0 },
  });
  registry.registerComponent('parameters', 'IdempotencyKey', {
    name: 'Idempotency-Key',
    in: 'header',
    required: false,
    description:
      'Makes an authenticated POST safe to retry (draft-ietf-httpapi-idempotency-key-header): the first response is ' +
      'replayed for 24 h with `Idempotent-Replayed: true`; another body with the same key is a 422; a retry while the ' +
      'first is still in flight is a 409 with Retry-After. Accepted and ignored on anonymous POSTs.',
    schema: { type: 'string', minLength: 1, maxLength: 255, pattern: '^[\\x21-\\x7e]+$' },
  });
}

/**
 * Documents the idempotency middleware on every POST, the way the middleware applies: globally, so no
 * route can forget it. Each POST gets the Idempotency-Key parameter; each authenticated POST gets a 409
 * (merged into any 409 it documents already) carrying Retry-After. Call after every route is mounted.
 */
export function documentIdempotency(registry: Registry): void {
  for (const def of registry.definitions) {
    if (def.type !== 'route' || def.route.method !== 'post') continue;
    // Route configs are module singletons shared by every app instance: replace, never mutate nested objects.
    const route = def.route;
    const authenticated = (route.security ?? []).some((req) => 'bearerAuth' in req);
    const conflict = route.responses[409] as ReturnType<typeof problem> | undefined;
    def.route = {
      ...route,
      parameters: [...(route.parameters ?? []), { $ref: '#/components/parameters/IdempotencyKey' }] as typeof route.parameters,
      responses: authenticated
        ? {
            ...route.responses,
            409: {
              ...(conflict ?? problem(409)),
              description: `${conflict?.description ?? 'Conflict'}; or a request with this Idempotency-Key is still in flight (retry after Retry-After)`,
              headers: { 'Retry-After': retryAfterRef },
            },
          }
        : route.responses,
    };
  }
}

/**
 * A `text/event-stream` response whose events are documented.
 *
 * The document is OpenAPI 3.1, which cannot describe one item of a stream (3.2 adds `itemSchema`); we stay
 * on 3.1 because swagger-parser, Redocly's 3.1 rules and most client generators do not read 3.2 yet. So we
 * use the 3.0/3.1 convention SSE-aware generators and testers read (Speakeasy, Schemathesis): the media
 * type's `schema` describes ONE event, `{ id, event, data }`, one variant per event name, `data` being the
 * parsed JSON. `x-sse-events` lists the same names with their payload schema for readers and custom
 * generators. Moving to 3.2 is renaming `schema` to `itemSchema` here.
 */
export function sseContent(description: string, frameName: string, events: Record<string, z.ZodType>) {
  const named = Object.entries(events).map(([event, data]) => ({ event, name: eventSchemaName(event), data }));
  const [first, ...rest] = named.map(({ event, name, data }) =>
    z.object({ id: z.string().openapi({ description: 'Resume with Last-Event-ID' }), event: z.literal(event), data: data.openapi(name) }),
  );
  if (!first) throw new Error(`sseContent(${frameName}): list at least one event`);
  return {
    description,
    content: {
      'text/event-stream': {
        schema: z
          .discriminatedUnion('event', [first, ...rest])
          .openapi(frameName, { description: 'One event as the client parses it (`data` is JSON)' }),
        'x-sse-events': Object.fromEntries(named.map(({ event, name }) => [event, { $ref: `#/components/schemas/${name}` }])),
      },
    },
  };
}

/** `run.created` → `RunCreatedEvent`: the component name of an event's payload schema. */
export function eventSchemaName(event: string): string {
  return `${event.replace(/(?:^|[._-])([a-z])/g, (_, c: string) => c.toUpperCase())}Event`;
}
