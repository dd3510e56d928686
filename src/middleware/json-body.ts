/**
 * Enforces the JSON body rules once for every route: 415 for a body that is not
 * JSON, 400 for malformed JSON. The parsed body is cached on the request, so the
 * zod validator that runs later reads it without parsing again.
 */
import { createMiddleware } from 'hono/factory';
import { AppError } from '../lib/problem';
import type { AppEnv } from '../types';

const BODY_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
const JSON_TYPE = /^application\/([a-z0-9.+-]*\+)?json(\s*;.*)?$/i;

function hasBody(req: Request): boolean {
  const length = req.headers.get('content-length');
  if (length !== null) return Number(length) > 0;
  return req.body !== null;
}

export function jsonBody() {
  return createMiddleware<AppEnv>(async function jsonBody(c, next) {
    if (!BODY_METHODS.has(c.req.method)) return next();
    const type = c.req.header('content-type') ?? '';
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
    const text = await c.req.text();
    // An empty JSON body is an empty object: optional bodies pass, required fields are each reported (422).
    const source = text.trim() === '' ? '{}' : text;
    try {
      // Hono's validator reads `bodyCache.json` before parsing the stream itself.
      // It may also re-read the first cached body as text, so that one carries the normalized source too.
      const parsed: unknown = JSON.parse(source);
      const cache = (c.req as unknown as { bodyCache: Record<string, Promise<unknown>> }).bodyCache;
      cache.text = Promise.resolve(source);
      cache.json = Promise.resolve(parsed);
    } catch (err) {
      throw new AppError('malformed_json', `Request body is not valid JSON: ${(err as Error).message}`);
    }
    return next();
  });
}
