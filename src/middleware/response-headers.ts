/**
 * The request id and CORS: the id is chosen before the handler (logs and problem bodies quote it); the
 * `X-Request-Id` and CORS response headers are set once, after the handler, on the response it made.
 * Preflights (OPTIONS) answer 204 here, before body rules and credentials.
 *
 * Hono's requestId() and cors() set their headers before the handler instead. That makes Hono create a
 * placeholder response and copy it, headers and all, into the handler's response: three Response objects
 * and two header copies per request, about 40 µs of CPU locally (docs/performance.md).
 */
import type { Context } from 'hono';
import { createMiddleware } from 'hono/factory';
import { OAUTH_CORS_PATHS } from '../oauth/server';
import type { AppEnv } from '../types';

/** A caller's id is echoed only when it is well-formed (docs/api.md); otherwise we mint a UUID. */
const REQUEST_ID = /^[A-Za-z0-9._:-]{8,128}$/;

const ALLOW_METHODS = 'GET,POST,PUT,PATCH,DELETE,OPTIONS';
const ALLOW_HEADERS = [
  'Authorization',
  'Content-Type',
  'Idempotency-Key',
  'If-Match',
  'If-None-Match',
  'Last-Event-ID',
  'X-Request-Id',
  'Mcp-Protocol-Version',
  'Mcp-Session-Id',
].join(',');
const EXPOSE_HEADERS = [
  'X-Request-Id',
  'ETag',
  'Retry-After',
  'Location',
  'Idempotent-Replayed',
  'Mcp-Session-Id',
  'WWW-Authenticate',
].join(',');
const MAX_AGE_S = '600';

/** Sets `requestId` on the context: the caller's `X-Request-Id` when well-formed, else a new UUID. */
export function requestId() {
  return createMiddleware<AppEnv>(async function requestId(c, next) {
    const given = c.req.header('X-Request-Id');
    c.set('requestId', given !== undefined && REQUEST_ID.test(given) ? given : crypto.randomUUID());
    await next();
  });
}

/**
 * `X-Request-Id` and CORS on every response. Origins come from config (`CORS_ORIGINS`, `*` for any);
 * the OAuth discovery, registration and token endpoints take no ambient credential and allow any origin
 * (src/oauth/server.ts). Runs after config is loaded and after the request id is chosen.
 */
export function responseHeaders() {
  return createMiddleware<AppEnv>(async function responseHeaders(c, next) {
    const origins = c.get('config').CORS_ORIGINS;
    const anyOrigin = origins.includes('*') || OAUTH_CORS_PATHS.has(c.req.path);
    const origin = c.req.header('origin') ?? '';
    const allowOrigin = anyOrigin ? '*' : origins.includes(origin) ? origin : null;
    const headers: [string, string][] = [['X-Request-Id', c.get('requestId')]];
    if (allowOrigin !== null) headers.push(['Access-Control-Allow-Origin', allowOrigin]);
    headers.push(['Access-Control-Expose-Headers', EXPOSE_HEADERS]);
    // A listed origin is echoed, so caches must key on it.
    if (!anyOrigin) headers.push(['Vary', 'Origin']);

    if (c.req.method === 'OPTIONS') {
      headers.push(
        ['Access-Control-Max-Age', MAX_AGE_S],
        ['Access-Control-Allow-Methods', ALLOW_METHODS],
        ['Access-Control-Allow-Headers', ALLOW_HEADERS],
        ['Vary', 'Access-Control-Request-Headers'],
      );
      return new Response(null, { status: 204, headers: toHeaders(headers) });
    }
    await next();
    setOn(c, headers);
  });
}

function toHeaders(pairs: [string, string][]): Headers {
  const out = new Headers();
  for (const [k, v] of pairs) k === 'Vary' ? out.append(k, v) : out.set(k, v);
  return out;
}

/**
 * Sets the headers on the handler's response. A response passed through from a `fetch` (a Durable
 * Object's WebSocket upgrade or stream) has immutable headers: it is copied first, as Hono does.
 */
function setOn(c: Context<AppEnv>, pairs: [string, string][]): void {
  const apply = (headers: Headers) => {
    for (const [k, v] of pairs) k === 'Vary' ? headers.append(k, v) : headers.set(k, v);
  };
  try {
    apply(c.res.headers);
  } catch (err) {
    if (!(err instanceof TypeError)) throw err;
    const copy = new Response(c.res.body, c.res);
    apply(copy.headers);
    c.res = copy;
  }
}
