/** Tests that run inside workerd with the real bindings from wrangler.toml. */
import { cloudflareTest, readD1Migrations } from '@cloudflare/vitest-plugin';
import { defineConfig } from 'vitest/config';
import { ensureConsoleBuilt } from './scripts/console-build.mjs';
import { generateSigningKeys } from './scripts/keys.mjs';
import { FAKE_RESEND_KEY } from './test/support/node/fake-resend';
import { holdPortIn } from './test/support/node/held-port';
import { DEFAULT_TEST_SECRETS } from './test/support/node/secrets';

export default defineConfig(async () => {
  // wrangler.toml's [assets] serves console/dist: build the console first when its sources changed.
  await ensureConsoleBuilt();
  const migrations = await readD1Migrations('./migrations');
  // Two keys, like a rotation in progress: the first signs, both are published.
  const jwtKeys = JSON.stringify(await generateSigningKeys(2));
  // globalSetup starts the real tool runner and the fake email API after this config is read, so their
  // ports are held here (forwarding to the servers once they listen) and handed over through the
  // environment (test/support/node/held-port.ts, test/support/node/global-setup.ts).
  await holdPortIn('EDGECREW_TOOL_RUNNER_PORT', 'tool-runner');
  await holdPortIn('EDGECREW_FAKE_RESEND_PORT', 'fake-resend');
  // Email goes through the HTTP provider to the fake Resend API (test/support/node/fake-resend.ts);
  // tests of the send_email binding call it directly.
  const email = {
    EMAIL_PROVIDER: 'http',
    EMAIL_HTTP_URL: `http://127.0.0.1:${process.env.EDGECREW_FAKE_RESEND_PORT}`,
    EMAIL_HTTP_API_KEY: FAKE_RESEND_KEY,
    EMAIL_FROM: 'notifications@edgecrew.test',
  };
  const toolRunner = {
    TOOL_RUNNER_URL: `http://127.0.0.1:${process.env.EDGECREW_TOOL_RUNNER_PORT}`,
    TOOL_RUNNER_SECRET: DEFAULT_TEST_SECRETS.TOOL_RUNNER_SECRET,
  };
  return {
    plugins: [
      cloudflareTest({
        wrangler: { configPath: './wrangler.toml' },
        // The AI binding only exists remotely (it needs a Cloudflare login); tests use fakes instead.
        remoteBindings: false,
        miniflare: {
          bindings: {
            ENVIRONMENT: 'test',
            TEST_MIGRATIONS: migrations,
            TOKEN_PEPPER: 'test-pepper-0123456789abcdef0123456789abcdef',
            JWT_PRIVATE_KEYS: jwtKeys,
            WEBHOOK_SECRET_KEY: 'test-webhook-secret-key-0123456789abcdef0123456789abcdef',
            LLM_KEY_SECRET: 'test-llm-key-secret-0123456789abcdef0123456789abcdef',
            ...toolRunner,
            ...email,
          },
        },
      }),
    ],
    test: {
      include: ['test/workers/**/*.test.ts'],
      setupFiles: ['./test/workers/setup.ts'],
      globalSetup: ['./test/support/node/global-setup.ts'],
      testTimeout: 20_000,
      // Request logs are structured JSON for production; keep test output to warnings and errors.
      onConsoleLog: (log: string) => !log.includes('"level":"info"'),
      hookTimeout: 30_000,
    },
  };
});
