/** Node-side services the workerd tests talk to over loopback. */
import type { TestProject } from 'vitest/node';
import { startFakeOpenAi } from './fake-openai';
import { startFakeResend } from './fake-resend';
import { startFakeSentry } from './fake-sentry';
import { startFlowHttp } from './flow-http';
import { namedPort } from './held-port';
import { DEFAULT_TEST_SECRETS } from './secrets';
import { startToolRunner } from './tool-runner';
import { startWebhookReceiver } from './webhook-receiver';

declare module 'vitest' {
  export interface ProvidedContext {
    fakeSentryUrl: string;
    /** OpenAI-compatible chat-completions fake (test/support/node/fake-openai.ts). */
    fakeOpenAiUrl: string;
    /** Resend-compatible email API (test/support/node/fake-resend.ts); the Worker's EMAIL_HTTP_URL reaches it through the port vitest.config.ts holds. */
    fakeResendUrl: string;
    /** Webhook receiver verifying deliveries with the standardwebhooks library (test/support/node/webhook-receiver.ts). */
    webhookReceiverUrl: string;
    /** Scripted endpoint for the flow http node: flaky, slow, held, 429 (test/support/node/flow-http.ts). */
    flowHttpUrl: string;
    /** The real tool runner (containers/tool-runner); the Worker's TOOL_RUNNER_URL reaches it through the port vitest.config.ts holds. */
    toolRunnerUrl: string;
    /** The isolation mode that runner picked for this machine ('bwrap' where namespaces work, else 'wasm'). */
    toolRunnerSandbox: 'bwrap' | 'wasm';
  }
}

export default async function setup(project: TestProject) {
  const sentry = await startFakeSentry();
  project.provide('fakeSentryUrl', sentry.url);
  const openai = await startFakeOpenAi();
  project.provide('fakeOpenAiUrl', openai.url);
  // vitest.config.ts holds the port named in the Worker's EMAIL_HTTP_URL binding and forwards it here.
  const resendPort = await namedPort('EDGECREW_FAKE_RESEND_PORT', 'fake-resend');
  const resend = await startFakeResend(resendPort.listen);
  resendPort.forwardTo(Number(new URL(resend.url).port));
  project.provide('fakeResendUrl', resend.url);
  const receiver = await startWebhookReceiver();
  project.provide('webhookReceiverUrl', receiver.url);
  const flowHttp = await startFlowHttp();
  project.provide('flowHttpUrl', flowHttp.url);
  const runnerPort = await namedPort('EDGECREW_TOOL_RUNNER_PORT', 'tool-runner');
  const toolRunner = await startToolRunner({
    secret: DEFAULT_TEST_SECRETS.TOOL_RUNNER_SECRET,
    port: runnerPort.listen,
    // The runner's own choice (bubblewrap where it works), unless TOOL_SANDBOX=bwrap|wasm asks for one.
    ...(process.env.TOOL_SANDBOX === 'bwrap' || process.env.TOOL_SANDBOX === 'wasm' ? { sandbox: process.env.TOOL_SANDBOX } : {}),
    // Loopback egress targets are allowed so allow-list tools can reach a local server.
    // Test files run in parallel, each with a few invocations at once: room enough that none sees 503.
    env: { TOOL_RUNNER_CONCURRENCY: '16', TOOL_RUNNER_EGRESS_ALLOW_PRIVATE: '1' },
  });
  runnerPort.forwardTo(toolRunner.port);
  project.provide('toolRunnerUrl', toolRunner.url);
  project.provide('toolRunnerSandbox', toolRunner.sandbox);
  return async () => {
    // The held ports first: no later failure may leave them listening.
    await Promise.allSettled([resendPort.close(), runnerPort.close()]);
    await sentry.close();
    await openai.close();
    await resend.close();
    await receiver.close();
    await flowHttp.close();
    await toolRunner.stop();
  };
}
