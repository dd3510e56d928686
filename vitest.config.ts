/** Tests that run inside workerd with the real bindings from wrangler.toml. */
import { cloudflareTest, readD1Migrations } from '@cloudflare/vitest-plugin';
import { defineConfig } from 'vitest/config';

export default defineConfig(async () => {
  const migrations = await readD1Migrations('./migrations');
  return {
    plugins: [
      cloudflareTest({
        wrangler: { configPath: './wrangler.toml' },
        miniflare: {
          bindings: { ENVIRONMENT: 'test', TEST_MIGRATIONS: migrations, TOKEN_PEPPER: 'test-pepper-0123456789abcdef0123456789abcdef' },
        },
      }),
    ],
    test: {
      include: ['test/workers/**/*.test.ts'],
      setupFiles: ['./test/workers/setup.ts'],
      globalSetup: ['./test/support/node/global-setup.ts'],
      testTimeout: 20_000,
      // Request logs are structured JSON for production; keep test output to warnings and errors.
      onConsoleLog: (log) => !log.includes('"level":"info"'),
      hookTimeout: 30_000,
    },
  };
});
