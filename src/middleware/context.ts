/** Validates configuration once and attaches config + a request-scoped logger. */
import { createMiddleware } from 'hono/factory';
import { loadConfig } from '../config';
import { createLogger } from '../observability/log';
import type { AppEnv } from '../types';

export function requestContext() {
  return createMiddleware<AppEnv>(async function requestContext(c, next) {
    const config = loadConfig(c.env);
    c.set('config', config);
    c.set('log', createLogger({ requestId: c.get('requestId'), env: config.ENVIRONMENT }));
    await next();
  });
}
