// Vars set at deploy time (`wrangler deploy --var GIT_COMMIT:…`), so not in wrangler.toml and
// unseen by `wrangler types`. Secrets come from .dev.vars.example via `npm run types`.
interface Env {
  APP_VERSION?: string;
  GIT_COMMIT?: string;
}
