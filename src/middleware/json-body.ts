/**
 * Enforces the JSON body rules once for every route: 415 for a body that is not
 * JSON, 400 for malformed JSON. The parsed body is cached on the request, so the
 * zod validator that runs later reads it without parsing again.
 */
import { createMiddleware } from 'hono/factory';
import { AppError } from '../lib/problem';
import { decodeUtf8, parseStrictJson } from '../lib/strict-json';
import type { AppEnv } from '../types';

const BODY_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
const JSON_TYPE = /^application\/([a-z0-9.+-]*\+)?json(\s*;.*)?$/i;
/** Links in emails: RFC 8058 one-click unsubscribe (mail providers POST `List-Unsubscribe=One-Click`) and the verification page's button post forms. */
const FORM_PATHS = /^\/v1\/(email\/unsubscribe|auth\/verify-email)\/[^/]+$/;
const FORM_TYPE = /^(application\/x-www-form-urlencoded|multipart\/form-data)(\s*;.*)?$/i;

function hasBody(req: Request): boolean {
  const length = req.headers.get('content-length');
  if (length !== null) return Number(length) > 0;
  return req.body !== null;
}

export function jsonBody() {
  return createMiddleware<AppEnv>(async function jsonBody(c, next) {
    if (!BODY_METHODS.has(c.req.method)) return next();
    const type = c.req.header('content-type') ?? '';
    if (FORM_PATHS.test(c.req.path) && FORM_TYPE.test(type.trim())) return next();
    const isJson = JSON_TYPE.test(type.trim());
    // No body and no JSON content type: nothing to parse (the route's schema decides if a body was required).
    if (!isJson && !hasBody(c.req.raw)) return next();
    if (!isJson) {
      throw new AppError(
        'unsupported_media_type',
        type
          ? `Content-Type '${type.split(';')[0]}' is not supported; send application/json.`
          : 'Missing Content-Type; send application/json.',
        { headers: { 'accept-post': 'application/json', 'accept-patch': 'application/json' } },
      );
    }
    const decoded = decodeUtf8(await c.req.arrayBuffer());
    if (!decoded.ok) throw new AppError('malformed_json', decoded.reason);
    // An empty JSON body is an empty object: optional bodies pass, required fields are each reported (422).
    const source = decoded.text.trim() === '' ? '{}' : decoded.text;
    // Duplicate keys and lone surrogates are refused too: the body must mean one thing (src/lib/strict-json.ts).
    const parsed = parseStrictJson(source);
    if (!parsed.ok) throw new AppError('malformed_json', parsed.reason);
    // Hono's validator reads `bodyCache.json` before parsing the stream itself.
    // It may also re-read the first cached body as text, so that one carries the normalized source too.
    const cache = (c.req as unknown as { bodyCache: Record<string, Promise<unknown>> }).bodyCache;
    cache.text = Promise.resolve(source);
    cache.json = Promise.resolve(parsed.value);
    return next();
  });
}
