/** The one Hono environment type shared by every router and middleware. */
import type { Config } from './config';
import type { RequestCtx, ServiceCtx } from './lib/context';
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
  /** An OAuth access token's scopes (/mcp only; src/mcp/scopes.ts); absent for API keys and access JWTs, which hold them all. */
  scopes?: string[];
}

/** The request's bearer credential as `credential()` resolved it, once: from the Authorization header, else a stream route's `?ticket=` (`via: 'query'`). */
export type ResolvedCredential =
  | { via: 'header' | 'query'; ok: true; auth: AuthContext }
  | { via: 'header' | 'query'; ok: false; error: unknown };

export interface AppVariables {
  requestId: string;
  config: Config;
  log: Logger;
  /** What every service verb receives, set by `requestContext()`. */
  requestCtx: RequestCtx;
  /** Absent when the request presented no credential. */
  credential?: ResolvedCredential;
  /** The authenticated caller, set by a route's `authenticate` guard. */
  auth?: AuthContext;
  /** The authenticated service context, set by a route's `authenticate` guard (read it only on guarded routes). */
  ctx: ServiceCtx;
  /**
   * What a replay of this keyed POST answers when its own response is a stream, which is never stored
   * (a run started with `Accept: text/event-stream` is replayed as the run's JSON): src/middleware/idempotency.ts.
   */
  replayAnswer?: { status: number; headers: Record<string, string>; body: string };
}

export interface AppEnv {
  Bindings: Env;
  Variables: AppVariables;
}
