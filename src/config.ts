/**
 * Typed, validated configuration. Parsed once per isolate from the Worker's
 * `env` before any routing; a bad deployment fails loudly at the entry.
 */
import { z } from 'zod';

const optionalSecret = z
  .string()
  .optional()
  .transform((v) => (v === undefined || v.trim() === '' ? undefined : v.trim()));

export const ConfigSchema = z.object({
  ENVIRONMENT: z.enum(['development', 'test', 'staging', 'production']),
  CORS_ORIGINS: z
    .string()
    .default('*')
    .transform((s) =>
      s
        .split(',')
        .map((o) => o.trim())
        .filter(Boolean),
    ),
  MAX_BODY_BYTES: z.coerce
    .number()
    .int()
    .min(1024)
    .max(100 * 1024 * 1024)
    .default(1024 * 1024),
  JWT_ISSUER: z.string().url(),
  JWT_AUDIENCE: z.string().min(1),
  APP_VERSION: z.string().optional(),
  GIT_COMMIT: z.string().optional(),
  SENTRY_DSN: optionalSecret.pipe(z.string().url().optional()),
  JWT_PRIVATE_KEYS: optionalSecret,
  TOKEN_PEPPER: optionalSecret,
  /** The tool runner as a plain process (local dev, tests); unset in production, where the TOOL_RUNNER container binding is used. */
  TOOL_RUNNER_URL: optionalSecret.pipe(z.string().url().optional()),
  /** Signs every request to the tool runner (HMAC-SHA256); the runner holds the same value. */
  TOOL_RUNNER_SECRET: optionalSecret,
  /** Encrypts webhook signing secrets at rest (src/events/secret-box.ts); comma-separated for rotation. */
  WEBHOOK_SECRET_KEY: optionalSecret,
  /** Encrypts tenants' LLM provider API keys at rest (src/flows/llm/key-box.ts); comma-separated for rotation. */
  LLM_KEY_SECRET: optionalSecret,
  /** How email leaves (docs/notifications.md): the `EMAIL` send_email binding, a Resend-compatible HTTP API, or not at all. */
  EMAIL_PROVIDER: z.enum(['binding', 'http', 'none']).default('binding'),
  /** The sender address (a domain onboarded to Cloudflare Email Service / the provider). */
  EMAIL_FROM: z.email().default('notifications@edgecrew.local'),
  EMAIL_FROM_NAME: z.string().min(1).max(100).default('Edgecrew'),
  /** Base URL of the Resend-compatible API (`POST {url}/emails`). */
  EMAIL_HTTP_URL: z.string().url().default('https://api.resend.com'),
  EMAIL_HTTP_API_KEY: optionalSecret,
  /** Public origin of this API for links in emails (unsubscribe, verification); default JWT_ISSUER. */
  PUBLIC_URL: optionalSecret.pipe(z.string().url().optional()),
});

export type Config = z.infer<typeof ConfigSchema>;

/** Thrown when the deployment's vars/secrets do not validate; names every bad field. */
export class ConfigError extends Error {
  constructor(readonly fields: string[]) {
    super(`Invalid Worker configuration: ${fields.join('; ')}`);
    this.name = 'ConfigError';
  }
}

const cache = new WeakMap<object, Config>();

/** Validates `env` once per env object (the runtime reuses it across requests in an isolate). */
export function loadConfig(env: Env): Config {
  const hit = cache.get(env);
  if (hit) return hit;
  const parsed = ConfigSchema.safeParse(env);
  if (!parsed.success) {
    throw new ConfigError(parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`));
  }
  cache.set(env, parsed.data);
  return parsed.data;
}

/** Staging and production refuse what local development allows (e.g. loopback targets). */
export function isDeployed(config: Config): boolean {
  return config.ENVIRONMENT === 'staging' || config.ENVIRONMENT === 'production';
}
