/** One structured log line and one Analytics Engine point per request. */
import { createMiddleware } from 'hono/factory';
import { routePath } from 'hono/route';
import { writeRequestMetric } from '../observability/analytics';
import type { AppEnv } from '../types';

export function accessLog() {
  return createMiddleware<AppEnv>(async function accessLog(c, next) {
    const started = performance.now();
    try {
      await next();
    } finally {
      // Workers freeze timers during I/O-less CPU work; Date.now/performance.now advance on I/O, which is what we want here.
      const latencyMs = Math.round((performance.now() - started) * 100) / 100;
      const route = c.res.status === 404 || c.res.status === 405 ? 'unmatched' : routePath(c, -1);
      const tenantId = c.get('auth')?.tenantId;
      const status = c.res.status;
      const cf = (c.req.raw as Request & { cf?: { colo?: string } }).cf;
      writeRequestMetric(c.env.ANALYTICS, {
        route,
        method: c.req.method,
        status,
        latencyMs,
        tenantId,
        environment: c.get('config')?.ENVIRONMENT ?? 'unknown',
        colo: cf?.colo,
      });
      c.get('log')?.info('request', { method: c.req.method, path: c.req.path, route, status, latencyMs, tenantId });
    }
  });
}
