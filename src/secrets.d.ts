// Secrets are set with `wrangler secret put` (or .dev.vars locally) and so are not
// in wrangler.toml; `wrangler types` cannot see them. Declared here, validated in config.ts.
interface Env {
  SENTRY_DSN?: string;
  JWT_PRIVATE_KEYS?: string;
  TOKEN_PEPPER?: string;
  APP_VERSION?: string;
  GIT_COMMIT?: string;
}
