/** Worker entry: HTTP (Hono), Queue consumer, cron sweeper, inbound email (replies that act), Durable Object classes. */
// Installs the deterministic router model in the agent loop's slot (agents without a provider).
import './agents/router-model';
import { createApp } from './app';
import { ConfigError, loadConfig } from './config';
import { runSweeper } from './cron/sweeper';
import { handleInboundEmail } from './email/inbound';
import { PROBLEM_CONTENT_TYPE, problemType } from './lib/problem';
import { createLogger, errorFields } from './observability/log';
import { reportError } from './observability/sentry';
import { consumeQueue } from './queue/router';

export { ChatThread } from '../durable-objects/chat-thread/chat-thread';
export { FlowRun } from '../durable-objects/flow-run/flow-run';
export { KnowledgeShard } from '../durable-objects/knowledge-shard/knowledge-shard';
export { TenantHub } from '../durable-objects/tenant-hub/tenant-hub';

const app = createApp();

export default {
  fetch(request, env, ctx) {
    // Validate the deployment's configuration before routing; a bad one answers 500 and logs every field.
    try {
      loadConfig(env);
    } catch (err) {
      createLogger().error('configuration invalid', err instanceof ConfigError ? { fields: err.fields } : errorFields(err));
      return new Response(
        JSON.stringify({
          type: problemType('internal_error'),
          title: 'Internal server error',
          status: 500,
          detail: 'The service is misconfigured.',
          code: 'internal_error',
        }),
        { status: 500, headers: { 'content-type': PROBLEM_CONTENT_TYPE } },
      );
    }
    return app.fetch(request, env, ctx);
  },

  async queue(batch, env, ctx) {
    const config = loadConfig(env);
    try {
      await consumeQueue(batch, env, config);
    } catch (err) {
      reportError(err, { config, errorId: crypto.randomUUID(), waitUntil: (p) => ctx.waitUntil(p), tags: { handler: 'queue' } });
      throw err;
    }
  },

  /** Email Routing: replies to reminders ("done", "snooze 1h"), src/email/inbound.ts. */
  async email(message, env, ctx) {
    try {
      await handleInboundEmail(message, env, ctx);
    } catch (err) {
      const config = loadConfig(env);
      reportError(err, { config, errorId: crypto.randomUUID(), waitUntil: (p) => ctx.waitUntil(p), tags: { handler: 'email' } });
    }
  },

  async scheduled(controller, env, ctx) {
    const config = loadConfig(env);
    try {
      await runSweeper(env, config, new Date(controller.scheduledTime));
    } catch (err) {
      reportError(err, { config, errorId: crypto.randomUUID(), waitUntil: (p) => ctx.waitUntil(p), tags: { handler: 'scheduled' } });
      throw err;
    }
  },
} satisfies ExportedHandler<Env>;
export { ToolRunnerContainer } from './tools/container';
