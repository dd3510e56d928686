/** One structured log line and one Analytics Engine point per request. */
import { createMiddleware } from 'hono/factory';
import { routePath } from 'hono/route';
import { writeRequestMetric } from '../observability/analytics';
import { exposesTiming, NO_STAGES } from '../observability/timing';
import type { AppEnv } from '../types';

export function accessLog() {
  return createMiddleware<AppEnv>(async function accessLog(c, next) {
    const started = performance.now();
    try {
      await next();
    } finally {
      // Workers freeze timers during I/O-less CPU work; Date.now/performance.now advance on I/O, which is what we want here.
      const elapsed = performance.now() - started;
      const latencyMs = Math.round(elapsed * 100) / 100;
      const config = c.get('config');
      const timer = c.get('requestCtx')?.timing;
      if (config && exposesTiming(config.ENVIRONMENT)) {
        const timing = timer?.header(elapsed);
        // A streamed or upgraded response may have immutable headers: the breakdown is best effort.
        if (timing && c.res.status !== 101) {
          try {
            c.res.headers.set('server-timing', timing);
          } catch {}
        }
      }
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
        environment: config?.ENVIRONMENT ?? 'unknown',
        colo: cf?.colo,
        stages: timer?.durations() ?? NO_STAGES,
      });
      c.get('log')?.info('request', { method: c.req.method, path: c.req.path, route, status, latencyMs, tenantId });
    }
  });
}
