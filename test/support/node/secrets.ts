/**
 * Secrets every test Worker gets. wrangler.toml cannot hold secrets, so the
 * workerd tests (vitest.config.ts) and the Node e2e harness share this one
 * object; a test that needs another value overrides it per Worker.
 * TEST-ONLY VALUES: published in this repository, never valid anywhere else.
 */

/**
 * Two fixed ES256 keys (as `npm run keys:generate` makes them), like a rotation
 * in progress: `test-k1` signs, both are published at /.well-known/jwks.json.
 * Fixed rather than generated per run so failures reproduce and tokens can be
 * decoded offline.
 */
const TEST_JWT_KEYS = [
  {
    kty: 'EC',
    crv: 'P-256',
    x: 'imqEON-yWSMn0tiS-hSoZlLE312avlkUpjKjuVG4UnM',
    y: '-2t91ljuRWQWJE9XBf4XjCqHd07w9xdqkt5nW4HCQAo',
    d: 'CZQrzIP6970-LY-Lo0ntNZkzC5Gl9S6mGZVOVxgBuJE',
    kid: 'test-k1',
    alg: 'ES256',
    use: 'sig',
  },
  {
    kty: 'EC',
    crv: 'P-256',
    x: 'OZfxZWBsFRPQSkWQ_m_wHVOIgOoHmQ3vlXZrtSHDpT8',
    y: 'lym0QqzdMt32CSGOZMfG9hlUEVM6rKnvfL0gCHe1bKY',
    d: 'KayS82CapSEeSIG67S2nVyKp8kZpv4F5Rrupa8ew1wc',
    kid: 'test-k2',
    alg: 'ES256',
    use: 'sig',
  },
] as const;

export const DEFAULT_TEST_SECRETS = {
  TOKEN_PEPPER: 'test-pepper-0123456789abcdef0123456789abcdef',
  JWT_PRIVATE_KEYS: JSON.stringify(TEST_JWT_KEYS),
  WEBHOOK_SECRET_KEY: 'test-webhook-secret-key-0123456789abcdef0123456789abcdef',
  LLM_KEY_SECRET: 'test-llm-key-secret-0123456789abcdef0123456789abcdef',
  TOOL_RUNNER_SECRET: 'test-tool-runner-secret-0123456789abcdef0123456789',
} as const satisfies Readonly<Record<string, string>>;

export type TestSecretName = keyof typeof DEFAULT_TEST_SECRETS;
