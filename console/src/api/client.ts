/**
 * The console's one API client: the generated `@edgecrew/sdk` (openapi-fetch over the PUBLIC API's
 * /openapi.json types, token refresh, Idempotency-Key on POSTs) plus the session the console keeps.
 *
 * Tokens: the access token lives in memory only. The refresh token (rotated on every use, a reused one
 * revokes its family) is kept in sessionStorage, so a reload of this tab stays signed in and closing
 * the tab forgets it; nothing goes to localStorage (docs/console.md "Auth").
 *
 * Tenants: an access token belongs to one tenant. Switching tenant is a login naming `tenantId`
 * (POST /v1/auth/login), which is how the API does it; there is no tenant header.
 */
import { type components, createEdgecrew, EdgecrewError, type paths } from '@edgecrew/sdk';

export type Schemas = components['schemas'];
export type Role = Schemas['Role'];
export type { paths };

/** One offending input field, as the console shows it next to the field. */
export interface FieldProblem {
  path: string;
  message: string;
}

/** A problem+json answer (RFC 9457), reduced to what the UI shows. */
export interface ApiProblem {
  status: number;
  title: string;
  detail: string;
  code?: string;
  errors: FieldProblem[];
}

/** Thrown for every non-2xx answer; `problem` is the parsed problem+json. */
export class ApiError extends Error {
  readonly problem: ApiProblem;
  constructor(problem: ApiProblem) {
    super(problem.detail || problem.title);
    this.name = 'ApiError';
    this.problem = problem;
  }
  get status(): number {
    return this.problem.status;
  }
}

/** Any thrown value as an `ApiProblem` (network failures become status 0). */
export function toProblem(err: unknown): ApiProblem {
  if (err instanceof ApiError) return err.problem;
  if (err instanceof EdgecrewError) {
    return {
      status: err.status,
      title: err.title,
      detail: err.detail,
      ...(err.code ? { code: err.code } : {}),
      errors: err.errors.map((e) => ({ path: e.path, message: e.message })),
    };
  }
  const message = err instanceof Error ? err.message : String(err);
  return { status: 0, title: 'Network error', detail: message, errors: [] };
}

/** The signed-in user as the console needs it. */
export interface Session {
  user: Schemas['User'] | null;
  tenant: Schemas['Tenant'];
  role: Role;
  tenants: Array<{ id: string; name: string; role: Role }>;
}

const REFRESH_KEY = 'edgecrew.refresh';

function storage(): Storage | undefined {
  try {
    return globalThis.sessionStorage;
  } catch {
    return undefined;
  }
}

function keepRefreshToken(token: string | undefined): void {
  const s = storage();
  if (!s) return;
  if (token) s.setItem(REFRESH_KEY, token);
  else s.removeItem(REFRESH_KEY);
}

/** Creates the client for the API at `baseUrl` (the console's own origin by default). */
export function createClient(baseUrl: string = globalThis.location?.origin ?? 'http://127.0.0.1:8787') {
  const onTokens = (t: { refreshToken: string }) => keepRefreshToken(t.refreshToken);
  const stored = storage()?.getItem(REFRESH_KEY) ?? undefined;
  // The SDK refreshes the access token shortly before it expires and once on a 401 (single-flight).
  const sdk = createEdgecrew({ baseUrl, auth: { refreshToken: stored ?? '', onTokens } });
  let session: Session | null = null;
  const listeners = new Set<(s: Session | null) => void>();
  /** Told when a stored session has a fresh access token, before /v1/me answers (to start fetching early). */
  const restoredListeners = new Set<() => void>();
  const publish = (s: Session | null) => {
    session = s;
    for (const l of listeners) l(s);
  };

  /** Unwraps an openapi-fetch result, throwing `ApiError` with the parsed problem. */
  function unwrap<T>(result: { data?: T; error?: unknown; response: Response }): T {
    if (result.response.ok) return result.data as T;
    const p = (result.error && typeof result.error === 'object' ? result.error : {}) as Partial<Schemas['Problem']>;
    throw new ApiError({
      status: result.response.status,
      title: p.title ?? `HTTP ${result.response.status}`,
      detail: p.detail ?? '',
      ...(p.code ? { code: p.code } : {}),
      errors: (p.errors ?? []).map((e) => ({ path: e.path, message: e.message })),
    });
  }

  async function call<T>(promise: Promise<{ data?: T; error?: unknown; response: Response }>): Promise<T> {
    try {
      return unwrap(await promise);
    } catch (err) {
      throw err instanceof ApiError ? err : new ApiError(toProblem(err));
    }
  }

  async function loadMe(): Promise<Session> {
    const me = await call(sdk.api.GET('/v1/me'));
    const s: Session = { user: me.user, tenant: me.tenant, role: me.role, tenants: me.tenants };
    publish(s);
    return s;
  }

  function fromAuth(r: Schemas['AuthResult']): Session {
    keepRefreshToken(r.refreshToken);
    const s: Session = { user: r.user, tenant: r.tenant, role: r.role, tenants: r.tenants ?? [{ ...r.tenant, role: r.role }] };
    publish(s);
    return s;
  }

  return {
    /** The whole typed API (openapi-fetch): `await client.call(client.api.GET('/v1/tasks'))`. */
    api: sdk.api,
    call,
    get session() {
      return session;
    },
    subscribe(listener: (s: Session | null) => void): () => void {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    /** Calls `listener` once a stored session is usable again (a page can start its first request). */
    onRestored(listener: () => void): () => void {
      restoredListeners.add(listener);
      return () => restoredListeners.delete(listener);
    },
    /** Restores this tab's session from its refresh token; null when there is none (or it was revoked). */
    async restore(): Promise<Session | null> {
      if (!storage()?.getItem(REFRESH_KEY)) return null;
      try {
        await sdk.auth.refresh();
        for (const l of restoredListeners) l();
        return await loadMe();
      } catch {
        keepRefreshToken(undefined);
        publish(null);
        return null;
      }
    },
    async signIn(body: { email: string; password: string; tenantId?: string }): Promise<Session> {
      try {
        // The SDK types its answer as the tokens it keeps; the body is the whole AuthResult.
        return fromAuth((await sdk.auth.login(body)) as Schemas['AuthResult']);
      } catch (err) {
        throw new ApiError(toProblem(err));
      }
    },
    async signUp(body: { email: string; password: string; name: string; tenantName: string }): Promise<Session> {
      try {
        return fromAuth((await sdk.auth.signup(body)) as Schemas['AuthResult']);
      } catch (err) {
        throw new ApiError(toProblem(err));
      }
    },
    /** Signs in to another tenant of the same user (a login naming `tenantId`). */
    switchTenant(body: { email: string; password: string; tenantId: string }): Promise<Session> {
      return this.signIn(body);
    },
    async signOut(): Promise<void> {
      const refreshToken = storage()?.getItem(REFRESH_KEY) ?? undefined;
      try {
        await call(sdk.api.POST('/v1/auth/logout', { body: refreshToken ? { refreshToken } : {} }));
      } finally {
        keepRefreshToken(undefined);
        publish(null);
      }
    },
    /**
     * A single-use ticket (60 s) to open the stream at `path` (sync WebSocket, run SSE, chat stream):
     * browsers cannot set Authorization on a WebSocket or EventSource. Returns the URL with `?ticket=`.
     */
    async streamUrl(path: string, query: Record<string, string> = {}): Promise<string> {
      const t = await call(sdk.api.POST('/v1/stream-tickets', { body: { path } }));
      const url = new URL(path, baseUrl);
      for (const [k, v] of Object.entries(query)) url.searchParams.set(k, v);
      url.searchParams.set('ticket', t.ticket);
      return url.href;
    },
    reloadSession: loadMe,
  };
}

export type Client = ReturnType<typeof createClient>;

/** The console's client (same origin as the page). */
export const client = createClient();
