/** The generated OpenAPI 3.1 document and its interactive reference. */
import type { OpenAPIHono } from '@hono/zod-openapi';
import { Scalar } from '@scalar/hono-api-reference';
import pkg from '../../package.json';
import { documentIdempotency, registerSharedComponents } from '../lib/openapi';
import type { AppEnv } from '../types';

export const OPENAPI_INFO = {
  title: 'Edgecrew API',
  version: pkg.version,
  description:
    'Multi-tenant API for AI-assisted products: flows, tools, tasks, events and identity. ' +
    'Every error is RFC 9457 problem+json. Authenticate with `Authorization: Bearer <access token | API key>`.',
};

/**
 * The document's top-level fields for a server origin. Exported so the SDK generator
 * (scripts/sdk/generate.mjs) builds the same document in-process as `/openapi.json` serves.
 */
export function openApiConfig(origin: string) {
  return {
    openapi: '3.1.0' as const,
    info: OPENAPI_INFO,
    servers: [{ url: origin }],
    tags: [
      { name: 'Platform', description: 'Health and documentation' },
      { name: 'Auth', description: 'Sign-up, login, tokens' },
      { name: 'Tenant', description: 'The caller, its tenant and audit log' },
      { name: 'Members', description: 'Members and invitations' },
      { name: 'API keys', description: 'Server credentials' },
      { name: 'Tasks', description: 'Tasks, reminders, recurrence, notifications' },
      { name: 'Notifications', description: 'Email notifications: preferences, deliveries, one-click unsubscribe' },
      { name: 'Sync', description: 'Ordered, gap-free change stream over HTTP and WebSocket' },
      { name: 'Flows', description: 'Versioned DAG workflow definitions' },
      { name: 'Agents', description: 'Versioned tool-calling agents that run as agent nodes in flows' },
      { name: 'Assistant', description: 'The task assistant: chat that Vercel AI SDK clients (useChat) speak, with resume and stop' },
      { name: 'Runs', description: 'Durable runs: state, live events, cancel, signal, resume, rerun' },
      { name: 'LLM providers', description: 'Per-tenant LLM providers for llm nodes (keys encrypted at rest)' },
      { name: 'Knowledge bases', description: 'Documents indexed for retrieval (BM25, vectors, hybrid) by flows and agents' },
      { name: 'Tools', description: 'Sandboxed Python and JavaScript tools: registry, versions, invocation' },
      { name: 'Feedback keys', description: 'What ratings measure: boolean, numeric, categorical or text keys (admin)' },
      { name: 'Feedback', description: 'Ratings of AI outputs, stats and trends, presigned rating from the browser' },
      { name: 'Datasets', description: 'Versioned example sets: given, from runs, or from corrections in feedback' },
      { name: 'Experiments', description: 'A dataset run over a flow version on the engine, graded by evaluators, compared' },
      { name: 'Webhooks', description: 'Signed event deliveries to your endpoints: endpoints, secrets, delivery log, replay' },
    ],
  };
}

/** Mounts `/openapi.json` and `/docs`. Call after every other route is registered. */
export function mountDocs(app: OpenAPIHono<AppEnv>): void {
  app.openAPIRegistry.registerComponent('securitySchemes', 'bearerAuth', {
    type: 'http',
    scheme: 'bearer',
    description: 'An access token (JWT from /v1/auth/login) or an API key (`ek_live_…`).',
  });
  registerSharedComponents(app.openAPIRegistry);
  documentIdempotency(app.openAPIRegistry);
  app.doc31('/openapi.json', (c) => openApiConfig(new URL(c.req.url).origin));
  app.get(
    '/docs',
    async function docsCsp(c, next) {
      await next();
      // The reference page loads Scalar's bundle from its CDN; everything else keeps the strict API CSP.
      c.header(
        'content-security-policy',
        "default-src 'self'; script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; style-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net https://fonts.googleapis.com; font-src 'self' data: https://fonts.gstatic.com https://cdn.jsdelivr.net; img-src 'self' data: https:; connect-src 'self'",
      );
    },
    Scalar({ url: '/openapi.json', pageTitle: 'Edgecrew API reference' }),
  );
}
