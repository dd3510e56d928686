/** Error reporting through toucan-js (Sentry's SDK for Workers). No-op without SENTRY_DSN. */
import { Toucan } from 'toucan-js';
import type { Config } from '../config';

export interface ReportContext {
  config: Config;
  waitUntil: (p: Promise<unknown>) => void;
  request?: Request;
  errorId: string;
  tags?: Record<string, string>;
  user?: { id: string } | undefined;
}

/** Reports `err` to Sentry with request context; returns without waiting (delivery uses waitUntil). */
export function reportError(err: unknown, ctx: ReportContext): void {
  const dsn = ctx.config.SENTRY_DSN;
  if (!dsn) return;
  const sentry = new Toucan({
    dsn,
    environment: ctx.config.ENVIRONMENT,
    release: ctx.config.GIT_COMMIT ?? ctx.config.APP_VERSION,
    context: { waitUntil: ctx.waitUntil },
    ...(ctx.request ? { request: ctx.request } : {}),
    requestDataOptions: { allowedHeaders: ['user-agent', 'cf-ray', 'x-request-id', 'content-type'] },
  });
  sentry.setTag('error_id', ctx.errorId);
  for (const [k, v] of Object.entries(ctx.tags ?? {})) sentry.setTag(k, v);
  if (ctx.user) sentry.setUser(ctx.user);
  sentry.captureException(err);
}
