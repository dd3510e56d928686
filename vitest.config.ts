/** Tests that run inside workerd with the real bindings from wrangler.toml. */
import { cloudflareTest, readD1Migrations } from '@cloudflare/vitest-plugin';
import { defineConfig } from 'vitest/config';
import { generateSigningKeys } from './scripts/keys.mjs';

export default defineConfig(async () => {
  const migrations = await readD1Migrations('./migrations');
  // Two keys, like a rotation in progress: the first signs, both are published.
  const jwtKeys = JSON.stringify(await generateSigningKeys(2));
  return {
    plugins: [
      cloudflareTest({
        wrangler: { configPath: './wrangler.toml' },
        miniflare: {
          bindings: { ENVIRONMENT: 'test', TEST_MIGRATIONS: migrations, TOKEN_PEPPER: 'test-pepper-0123456789abcdef0123456789abcdef', JWT_PRIVATE_KEYS: jwtKeys },
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
