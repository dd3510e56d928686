/** The one Hono environment type shared by every router and middleware. */
import type { Config } from './config';
import type { Logger } from './observability/log';

/** Who is calling, resolved from the credential (never from the URL or body). */
export interface AuthContext {
  tenantId: string;
  /** `usr_…` for a member's access token, `key_…` for an API key. */
  actorId: string;
  actorType: 'user' | 'api_key';
  role: 'admin' | 'member' | 'viewer';
  /** Identifier of the credential (token `jti` or key id), for scoping idempotency and rate limits. */
  credentialId: string;
  plan: 'free' | 'pro';
  /** When the credential stops being valid (ms epoch); null for a key without expiry. Sockets close then. */
  expiresAt?: number | null;
}

export interface AppVariables {
  requestId: string;
  config: Config;
  log: Logger;
  auth?: AuthContext;
}

export interface AppEnv {
  Bindings: Env;
  Variables: AppVariables;
}
