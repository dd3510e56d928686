/**
 * End-to-end tests: plain Node driving the real bundled Worker on workerd over
 * HTTP/WebSocket (test/support/node/worker.ts). No Cloudflare vitest plugin.
 */
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/e2e/**/*.test.ts'],
    environment: 'node',
    // Bundles the Worker once for the run; each file then starts its own workerd from that bundle.
    globalSetup: ['./test/support/node/worker.ts'],
    // Every file runs its own workerd; two cores do not gain from running files side by side.
    fileParallelism: false,
    testTimeout: 30_000,
    hookTimeout: 120_000,
    teardownTimeout: 30_000,
  },
});
