/** The single `onError` and `notFound` for the app: everything leaves as problem+json. */
import type { Context, Hono } from 'hono';
import { HTTPException } from 'hono/http-exception';
import { TrieRouter } from 'hono/router/trie-router';
import { ConfigError } from '../config';
import { newId } from '../lib/ids';
import { AppError, PROBLEM_CONTENT_TYPE, toProblem } from '../lib/problem';
import { createLogger, errorFields } from '../observability/log';
import { reportError } from '../observability/sentry';
import type { AppEnv } from '../types';

function send(c: Context<AppEnv>, err: AppError): Response {
  const body = toProblem(err, c.req.path, c.get('requestId'));
  const res = new Response(JSON.stringify(body), {
    status: err.status,
    headers: { 'content-type': PROBLEM_CONTENT_TYPE, ...err.headers },
  });
  return res;
}

/**
 * Platform errors that say "try again shortly" rather than "this request is wrong": D1 or a Durable Object
 * unreachable, overloaded or reset (Cloudflare documents these as retryable). They answer 503 with
 * Retry-After, still logged and reported like any unhandled error.
 */
const TRANSIENT =
  /network connection lost|overloaded|object to be reset|exceeded its (memory|cpu)|timed out|internal error in (d1|durable object)|d1_error: .*(unavailable|timeout|busy)|database is locked/i;

export function isTransientPlatformError(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const retryable = (err as { retryable?: unknown }).retryable === true;
  const cause = err.cause instanceof Error ? err.cause.message : '';
  return retryable || TRANSIENT.test(err.message) || TRANSIENT.test(cause);
}

/** Maps anything thrown to a problem. Unknown errors become an opaque 500 with an error id. */
export function handleError(err: Error, c: Context<AppEnv>): Response {
  if (err instanceof AppError) return send(c, err);
  if (err instanceof HTTPException) {
    // Hono's own exceptions (e.g. its JSON validator); map by status, never echo internals.
    if (err.status === 413) return send(c, new AppError('payload_too_large', 'Request body exceeds the size limit.'));
    if (err.status === 400) return send(c, new AppError('malformed_json', 'Request body is not valid JSON.'));
    if (err.status === 401) return send(c, new AppError('unauthorized', 'Authentication required.'));
  }
  const errorId = newId('err');
  const log = c.get('log') ?? createLogger({ requestId: c.get('requestId') });
  if (err instanceof ConfigError) {
    log.error('configuration invalid', { errorId, fields: err.fields });
  } else {
    log.error('unhandled error', { errorId, path: c.req.path, method: c.req.method, ...errorFields(err) });
  }
  const config = c.get('config');
  if (config) {
    reportError(err, {
      config,
      errorId,
      request: c.req.raw,
      waitUntil: (p) => c.executionCtx.waitUntil(p),
      tags: { request_id: c.get('requestId') ?? '' },
      user: c.get('auth') ? { id: c.get('auth')!.actorId } : undefined,
    });
  }
  if (isTransientPlatformError(err)) {
    return send(
      c,
      new AppError('service_unavailable', `A storage backend is briefly unavailable; retry shortly (error id ${errorId}).`, {
        headers: { 'retry-after': '5' },
        extensions: { errorId },
      }),
    );
  }
  return send(
    c,
    new AppError('internal_error', `An internal error occurred. Quote error id ${errorId} when reporting it.`, {
      extensions: { errorId },
    }),
  );
}

/**
 * 404 for unknown paths, 405 (with Allow) when the path exists under other methods.
 * Hono answers 404 for both, so we look the path up in a router built from the app's routes.
 */
export function notFoundHandler(app: Hono<AppEnv>) {
  let router: TrieRouter<string> | undefined;
  const methods = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'];
  return function notFound(c: Context<AppEnv>): Response {
    if (!router) {
      router = new TrieRouter<string>();
      for (const r of app.routes) if (r.method !== 'ALL') router.add(r.method, r.path, r.method);
    }
    const r = router;
    const allowed = methods.filter((m) => r.match(m, c.req.path)[0].length > 0);
    if (allowed.length > 0 && !allowed.includes(c.req.method)) {
      if (allowed.includes('GET')) allowed.push('HEAD');
      return send(
        c,
        new AppError('method_not_allowed', `Method ${c.req.method} is not allowed on ${c.req.path}.`, {
          headers: { allow: allowed.join(', ') },
        }),
      );
    }
    return send(c, new AppError('not_found', `No route matches ${c.req.method} ${c.req.path}.`));
  };
}
