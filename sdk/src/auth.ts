/**
 * Credentials as openapi-fetch middleware. An API key is sent as is. A session (access + refresh token)
 * is refreshed through `POST /v1/auth/refresh` shortly before the access token expires and once more on a
 * 401; refreshes are single-flight, because a refresh token works once and presenting a used one revokes
 * its whole family (docs/security.md).
 */
import type { Middleware } from 'openapi-fetch';
import { errorFromResponse } from './errors';
import type { components } from './openapi';

/** The tokens `login`, `signup` and `refresh` answer. */
export type Tokens = Pick<components['schemas']['TokenPair'], 'accessToken' | 'refreshToken'> & { expiresIn?: number };

export type Credentials =
  /** A server credential (`ek_live_…`). */
  | { apiKey: string }
  /** A user session; `onTokens` is told each new pair so it can be stored. */
  | { accessToken?: string; refreshToken: string; onTokens?: (tokens: Tokens) => void | Promise<void> };

/** Routes that take no bearer (a stale one must not turn a login into a 401). */
const ANONYMOUS = new Set(['/v1/auth/signup', '/v1/auth/login', '/v1/auth/refresh']);

/** Refresh this long before the access token's `exp`. */
const EARLY_MS = 30_000;

/** The `exp` of a JWT in ms, or undefined when it is not a readable JWT. */
function expiryOf(token: string): number | undefined {
  const payload = token.split('.')[1];
  if (!payload) return undefined;
  try {
    const json = JSON.parse(atob(payload.replaceAll('-', '+').replaceAll('_', '/'))) as { exp?: unknown };
    return typeof json.exp === 'number' ? json.exp * 1000 : undefined;
  } catch {
    return undefined;
  }
}

/** Holds the current credential and refreshes a session's tokens. */
export class TokenStore {
  #credentials: Credentials | undefined;
  #refreshing: Promise<string> | undefined;
  readonly #refresh: (refreshToken: string) => Promise<Response>;

  constructor(credentials: Credentials | undefined, refresh: (refreshToken: string) => Promise<Response>) {
    this.#credentials = credentials;
    this.#refresh = refresh;
  }

  /** Replaces the credential (e.g. after `auth.login`). */
  set(credentials: Credentials | undefined): void {
    this.#credentials = credentials;
  }

  /** The bearer to send now, refreshing first when a session's access token is (nearly) expired. */
  async bearer(now = Date.now()): Promise<string | undefined> {
    const c = this.#credentials;
    if (!c) return undefined;
    if ('apiKey' in c) return c.apiKey;
    const exp = c.accessToken ? expiryOf(c.accessToken) : undefined;
    if (c.accessToken && (exp === undefined || exp - EARLY_MS > now)) return c.accessToken;
    return this.refresh();
  }

  /** Rotates the session's refresh token; concurrent callers share one refresh. */
  refresh(): Promise<string> {
    const c = this.#credentials;
    if (!c || 'apiKey' in c) return Promise.reject(new Error('no session to refresh'));
    this.#refreshing ??= (async () => {
      try {
        const response = await this.#refresh(c.refreshToken);
        if (!response.ok) throw await errorFromResponse(response);
        const tokens = (await response.json()) as Tokens;
        this.#credentials = { ...c, accessToken: tokens.accessToken, refreshToken: tokens.refreshToken };
        await c.onTokens?.(tokens);
        return tokens.accessToken;
      } finally {
        this.#refreshing = undefined;
      }
    })();
    return this.#refreshing;
  }

  /** Whether a 401 can be cured by refreshing. */
  get canRefresh(): boolean {
    return this.#credentials !== undefined && !('apiKey' in this.#credentials);
  }
}

/**
 * Sets `Authorization` on each request; on a 401 refreshes once and sends the request again
 * (a clone taken before it was sent, so the body and any Idempotency-Key are the same).
 */
export function authMiddleware(store: TokenStore, send: (request: Request) => Promise<Response>): Middleware {
  const pending = new Map<string, Request>();
  return {
    async onRequest({ request, id, schemaPath }) {
      if (request.headers.has('authorization') || ANONYMOUS.has(schemaPath)) return request;
      const bearer = await store.bearer();
      if (bearer) request.headers.set('authorization', `Bearer ${bearer}`);
      if (store.canRefresh) pending.set(id, request.clone());
      return request;
    },
    async onResponse({ response, id }) {
      const original = pending.get(id);
      pending.delete(id);
      if (response.status !== 401 || !original) return response;
      const bearer = await store.refresh();
      await response.body?.cancel();
      original.headers.set('authorization', `Bearer ${bearer}`);
      return send(original);
    },
    onError({ id }) {
      pending.delete(id);
    },
  };
}

/** Gives every POST an `Idempotency-Key` (one per logical call, so its retries share it) unless the caller set one. */
export const idempotencyMiddleware: Middleware = {
  onRequest({ request }) {
    if (request.method === 'POST' && !request.headers.has('idempotency-key')) request.headers.set('idempotency-key', crypto.randomUUID());
    return request;
  },
};
