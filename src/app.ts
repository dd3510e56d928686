/**
 * createApp(): the one place that wires the HTTP pipeline. Order matters:
 * request id → config/logger → access log/metrics → security headers, CORS and X-Request-Id (preflights end here;
 * the headers are set on the handler's response) →
 * body limit → OAuth endpoints (form bodies) → JSON body rules → credential (resolved once) → routes (whose guard runs Idempotency-Key last); errors and 404/405 → problem+json.
 */
import { OpenAPIHono } from '@hono/zod-openapi';
import type { MiddlewareHandler } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { AppError } from './lib/problem';
import { validationHook } from './lib/validation';
import { accessLog } from './middleware/access-log';
import { credential } from './middleware/auth';
import { requestContext } from './middleware/context';
import { handleError, notFoundHandler } from './middleware/errors';
import { jsonBody } from './middleware/json-body';
import { requestId, responseHeaders } from './middleware/response-headers';
import { accountRoutes } from './routes/account';
import { agentRoutes } from './routes/agents';
import { apiKeyRoutes } from './routes/api-keys';
import { auditRoutes } from './routes/audit';
import { authRoutes } from './routes/auth';
import { chatRoutes } from './routes/chat';
import { datasetRoutes } from './routes/datasets';
import { deadLetterRoutes } from './routes/dead-letters';
import { mountDocs } from './routes/docs';
import { emailRoutes } from './routes/email';
import { experimentRoutes } from './routes/experiments';
import { feedbackRoutes } from './routes/feedback';
import { flowRoutes } from './routes/flows';
import { healthRoutes } from './routes/health';
import { invitationRoutes } from './routes/invitations';
import { jwksRoutes } from './routes/jwks';
import { knowledgeRoutes } from './routes/knowledge';
import { llmProviderRoutes } from './routes/llm-providers';
import { mcpRoutes } from './routes/mcp';
import { memberRoutes } from './routes/members';
import { notificationRoutes } from './routes/notifications';
import { oauthRoutes } from './routes/oauth';
import { runRoutes } from './routes/runs';
import { streamTicketRoutes } from './routes/stream-tickets';
import { syncRoutes } from './routes/sync';
import { taskRoutes } from './routes/tasks';
import { toolRoutes } from './routes/tools';
import { webhookRoutes } from './routes/webhooks';
import type { AppEnv } from './types';

/** One body-limit middleware per configured size (the config is fixed per deployment), not one per request. */
const bodyLimits = new Map<number, MiddlewareHandler<AppEnv>>();
function bodyLimitOf(maxSize: number): MiddlewareHandler<AppEnv> {
  let limit = bodyLimits.get(maxSize);
  if (limit === undefined) {
    limit = bodyLimit({
      maxSize,
      onError: () => {
        throw new AppError('payload_too_large', `Request body exceeds ${maxSize} bytes.`);
      },
    });
    bodyLimits.set(maxSize, limit);
  }
  return limit;
}

export interface CreateAppOptions {
  /** Extra routes registered before 404/405 handling (tests use this for fault injection). */
  extend?: (app: OpenAPIHono<AppEnv>) => void;
}

export function createApp(options: CreateAppOptions = {}): OpenAPIHono<AppEnv> {
  const app = new OpenAPIHono<AppEnv>({
    defaultHook: (result) => {
      validationHook(result as Parameters<typeof validationHook>[0]);
    },
  });

  app.use(requestId());
  app.use(requestContext());
  app.use(accessLog());
  app.use(responseHeaders());
  app.use(async function limitBody(c, next) {
    return bodyLimitOf(c.get('config').MAX_BODY_BYTES)(c, next);
  });
  // OAuth for /mcp takes form bodies and no bearer credential: mounted before the JSON rules and credential().
  app.route('/', oauthRoutes);
  app.use(jsonBody());
  app.use(credential());

  app.route('/', healthRoutes);
  app.route('/', jwksRoutes);
  app.route('/', authRoutes);
  app.route('/', accountRoutes);
  app.route('/', memberRoutes);
  app.route('/', invitationRoutes);
  app.route('/', apiKeyRoutes);
  app.route('/', auditRoutes);
  app.route('/', taskRoutes);
  app.route('/', toolRoutes);
  app.route('/', syncRoutes);
  app.route('/', streamTicketRoutes);
  app.route('/', notificationRoutes);
  app.route('/', emailRoutes);
  app.route('/', flowRoutes);
  app.route('/', agentRoutes);
  app.route('/', chatRoutes);
  app.route('/', runRoutes);
  app.route('/', llmProviderRoutes);
  app.route('/', knowledgeRoutes);
  app.route('/', feedbackRoutes);
  app.route('/', datasetRoutes);
  app.route('/', experimentRoutes);
  app.route('/', webhookRoutes);
  app.route('/', deadLetterRoutes);
  app.route('/', mcpRoutes);
  options.extend?.(app);
  mountDocs(app);

  app.onError(handleError);
  app.notFound(notFoundHandler(app));
  return app;
}
