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
    if (!BODY_METHODS.has(c.req.method) || !hasBody(c.req.raw)) return next();
    const type = c.req.header('content-type') ?? '';
    if (!JSON_TYPE.test(type.trim())) {
      throw new AppError(
        'unsupported_media_type',
        type ? `Content-Type '${type.split(';')[0]}' is not supported; send application/json.` : 'Missing Content-Type; send application/json.',
        { headers: { 'accept-post': 'application/json', 'accept-patch': 'application/json' } },
      );
    }
    const text = await c.req.text();
    if (text.trim() === '') return next();
    try {
      // Hono's validator reads `bodyCache.json` before parsing the stream itself.
      const parsed: unknown = JSON.parse(text);
      (c.req as unknown as { bodyCache: Record<string, Promise<unknown>> }).bodyCache.json = Promise.resolve(parsed);
    } catch (err) {
      throw new AppError('malformed_json', `Request body is not valid JSON: ${(err as Error).message}`);
    }
    return next();
  });
}
