/**
 * The tool runner in production: a Cloudflare Container (containers/tool-runner/
 * Dockerfile) fronted by this Durable Object class. The Worker reaches it through
 * the TOOL_RUNNER binding (src/tools/runner-client.ts); local dev and tests use
 * TOOL_RUNNER_URL instead and never start a container.
 */
import { Container } from '@cloudflare/containers';

export class ToolRunnerContainer extends Container<Env> {
  // Must match TOOL_RUNNER_PORT in the Dockerfile.
  override defaultPort = 8080;
  // Idle containers stop; the next invocation pays a cold start (a few seconds).
  override sleepAfter = '10m';
  override pingEndpoint = 'localhost/health';
  // Only for tools with an allow-list, and only through the runner's egress proxy: sandboxes have no route of their own.
  override enableInternet = true;

  constructor(ctx: ConstructorParameters<typeof Container>[0], env: Env) {
    super(ctx, env);
    // The runner refuses to start without it, so a missing secret shows up as a failed start, not as open access.
    this.envVars = { TOOL_RUNNER_SECRET: env.TOOL_RUNNER_SECRET ?? '' };
  }
}
