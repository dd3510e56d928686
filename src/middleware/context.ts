/** Validates configuration once and attaches config, a request-scoped logger and the request's service context. */
import type { Context } from 'hono';
import { createMiddleware } from 'hono/factory';
import { loadConfig } from '../config';
import type { RequestCtx } from '../lib/context';
import { requestCtxFor } from '../lib/request-ctx';
import { createLogger } from '../observability/log';
import type { AppEnv } from '../types';

export function requestContext() {
  return createMiddleware<AppEnv>(async function requestContext(c, next) {
    const config = loadConfig(c.env);
    c.set('config', config);
    c.set('log', createLogger({ requestId: c.get('requestId'), env: config.ENVIRONMENT }));
    c.set('requestCtx', buildRequestCtx(c, config));
    await next();
  });
}

function buildRequestCtx(c: Context<AppEnv>, config: RequestCtx['config']): RequestCtx {
  // Deferred: app.request() in tests has no execution context until something is handed to it.
  return requestCtxFor(c.env, {
    requestId: c.get('requestId'),
    ip: c.req.header('cf-connecting-ip') ?? null,
    config,
    waitUntil: (p) => c.executionCtx.waitUntil(p),
  });
}
