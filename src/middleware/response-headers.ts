/**
 * The request id, security headers and CORS: the id is chosen before the handler (logs and problem
 * bodies quote it); the `X-Request-Id`, security and CORS response headers are set once, after the
 * handler, on the response it made, in one pass. Preflights (OPTIONS) answer 204 here, before body
 * rules and credentials.
 *
 * Hono's requestId() and cors() set their headers before the handler instead. That makes Hono create a
 * placeholder response and copy it, headers and all, into the handler's response: three Response objects
 * and two header copies per request, about 40 µs of CPU locally. Hono's secureHeaders() reads the
 * response's headers object again for every header it sets (about 30 µs), and overwrites a route's own
 * Content-Security-Policy (the /docs page's, which must load its script). docs/performance-history.md, "Third round".
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

/**
 * The security headers of every response (the set Hono's secureHeaders() sends by default, with a strict
 * CSP for an API, two years of HSTS with preload, same-site CORP and no referrer). They always win over a
 * header the handler set, except the Content-Security-Policy of the pages listed in OWN_CSP_PATHS.
 */
const CSP = 'Content-Security-Policy';
/** Pages that set their own CSP: the API reference loads its script from jsDelivr (src/routes/docs.ts). */
const OWN_CSP_PATHS: ReadonlySet<string> = new Set(['/docs']);
const SECURITY_HEADERS: readonly (readonly [string, string])[] = [
  ['Cross-Origin-Opener-Policy', 'same-origin'],
  ['Cross-Origin-Resource-Policy', 'same-site'],
  ['Origin-Agent-Cluster', '?1'],
  ['Referrer-Policy', 'no-referrer'],
  ['Strict-Transport-Security', 'max-age=63072000; includeSubDomains; preload'],
  ['X-Content-Type-Options', 'nosniff'],
  ['X-DNS-Prefetch-Control', 'off'],
  ['X-Download-Options', 'noopen'],
  ['X-Frame-Options', 'SAMEORIGIN'],
  ['X-Permitted-Cross-Domain-Policies', 'none'],
  ['X-XSS-Protection', '0'],
];
const STRICT_CSP = "default-src 'none'; frame-ancestors 'none'";

/** Sets `requestId` on the context: the caller's `X-Request-Id` when well-formed, else a new UUID. */
export function requestId() {
  return createMiddleware<AppEnv>(async function requestId(c, next) {
    const given = c.req.header('X-Request-Id');
    c.set('requestId', given !== undefined && REQUEST_ID.test(given) ? given : crypto.randomUUID());
    await next();
  });
}

/**
 * The security headers, `X-Request-Id` and CORS on every response, preflights answered here. Origins come
 * from config (`CORS_ORIGINS`, `*` for any);
 * the OAuth discovery, registration and token endpoints take no ambient credential and allow any origin
 * (src/oauth/server.ts). Runs after config is loaded and after the request id is chosen.
 */
export function responseHeaders() {
  return createMiddleware<AppEnv>(async function responseHeaders(c, next) {
    const origins = c.get('config').CORS_ORIGINS;
    const anyOrigin = origins.includes('*') || OAUTH_CORS_PATHS.has(c.req.path);
    const origin = c.req.header('origin') ?? '';
    const allowOrigin = anyOrigin ? '*' : origins.includes(origin) ? origin : null;
    const headers: (readonly [string, string])[] = [...SECURITY_HEADERS, ['X-Request-Id', c.get('requestId')]];
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
      const preflight = new Headers([[CSP, STRICT_CSP]]);
      setAll(preflight, headers);
      return new Response(null, { status: 204, headers: preflight });
    }
    await next();
    setOn(c, headers, OWN_CSP_PATHS.has(c.req.path));
  });
}

/**
 * Sets the headers on the handler's response. A response passed through from a `fetch` (a Durable
 * Object's WebSocket upgrade or stream) has immutable headers: it is copied first, as Hono does.
 */
function setOn(c: Context<AppEnv>, pairs: readonly (readonly [string, string])[], ownCsp: boolean): void {
  const apply = (headers: Headers) => {
    if (!ownCsp || !headers.has(CSP)) headers.set(CSP, STRICT_CSP);
    setAll(headers, pairs);
  };
  try {
    apply(c.res.headers);
  } catch (err) {
    if (!(err instanceof TypeError)) throw err;
    const copy = new Response(c.res.body, c.res);
    // Forget the immutable one first: Hono's setter would otherwise copy its headers over ours.
    c.res = undefined;
    c.res = copy;
    apply(copy.headers);
  }
}

/** Sets each pair; `Vary` is appended, since a response may already vary on something else. */
function setAll(headers: Headers, pairs: readonly (readonly [string, string])[]): void {
  for (const [k, v] of pairs) k === 'Vary' ? headers.append(k, v) : headers.set(k, v);
}
