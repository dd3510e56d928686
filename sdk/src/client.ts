/**
 * `createEdgecrew()`: the typed client. `api` is the whole API as generated from /openapi.json
 * (openapi-fetch over `paths`); the resource helpers add what a hand-written client would: unwrapped
 * results with typed errors, pagination as async iterators, and resumable run streams.
 */
import createClient, { type Client } from 'openapi-fetch';
import { authMiddleware, type Credentials, idempotencyMiddleware, TokenStore, type Tokens } from './auth';
import { unwrap } from './errors';
import type { components, paths } from './openapi';
import { paginate } from './pagination';
import { type RetryOptions, retryingFetch } from './retry';
import { resumableStream } from './sse';
import { verify, Webhook } from './webhooks';

type Schemas = components['schemas'];
/** A run event (`data` of one `GET /v1/runs/{runId}/events` frame). */
export type RunEvent = Schemas['RunEventFrame']['data'];
/** One AI SDK UI message stream chunk (`{ type: 'text-delta', id, delta }`, `{ type: 'finish' }`, …). */
export type UIChunk = { type: string } & Record<string, unknown>;
type Json<P extends keyof paths, M extends 'post' | 'patch' | 'put'> = paths[P][M] extends {
  requestBody?: { content: { 'application/json': infer B } };
}
  ? B
  : never;

/** Paths whose GET answers a `{ data, nextCursor }` page. */
export type ListPath = {
  [P in keyof paths]: paths[P] extends { get: { responses: { 200: { content: { 'application/json': { data: unknown[] } } } } } }
    ? P
    : never;
}[keyof paths];
/** The item type of a list path. */
export type ItemOf<P extends ListPath> = paths[P] extends {
  get: { responses: { 200: { content: { 'application/json': { data: Array<infer T> } } } } };
}
  ? T
  : never;
type ListParams<P extends ListPath> = paths[P] extends { get: { parameters: { query?: infer Q; path?: infer A } } }
  ? { query?: Omit<NonNullable<Q>, 'cursor'> } & ([A] extends [undefined | never] ? { path?: never } : { path: A })
  : never;

const TERMINAL_RUN_EVENTS = new Set(['run.completed', 'run.failed', 'run.cancelled']);

export interface EdgecrewOptions {
  /** The API's origin, e.g. `https://api.edgecrew.dev`. */
  baseUrl: string;
  /** An API key, or a session's tokens (refreshed for you). Optional: `auth.login` can set it later. */
  auth?: Credentials;
  /** Retry policy (429, 503, in-flight 409, network failures of repeatable requests). */
  retry?: RetryOptions;
  /** The underlying fetch (default `globalThis.fetch`). */
  fetch?: (request: Request) => Promise<Response>;
}

/** Creates a client. Every POST carries an automatic Idempotency-Key, so retries never repeat a side effect. */
export function createEdgecrew(options: EdgecrewOptions) {
  const baseUrl = options.baseUrl.replace(/\/+$/, '');
  const base = options.fetch ?? ((request: Request) => fetch(request));
  const send = retryingFetch(options.retry, base);
  const tokens = new TokenStore(options.auth, (refreshToken) =>
    send(
      new Request(`${baseUrl}/v1/auth/refresh`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ refreshToken }),
      }),
    ),
  );
  const api: Client<paths> = createClient<paths>({ baseUrl, fetch: send });
  api.use(idempotencyMiddleware, authMiddleware(tokens, send));

  /** Keeps the session from a login/signup answer, telling `onTokens` when the caller gave one. */
  const startSession = (result: Tokens) => {
    const onTokens = options.auth && !('apiKey' in options.auth) ? options.auth.onTokens : undefined;
    tokens.set({ accessToken: result.accessToken, refreshToken: result.refreshToken, ...(onTokens ? { onTokens } : {}) });
    return result;
  };

  /** Iterates every item of a list operation, page by page. */
  function list<P extends ListPath>(path: P, params?: ListParams<P>): AsyncGenerator<ItemOf<P>> {
    return paginate(async (cursor) => {
      const query = { ...(params?.query ?? {}), ...(cursor ? { cursor } : {}) };
      const init = { params: { query, ...(params?.path ? { path: params.path } : {}) } };
      return unwrap(await api.GET(path as never, init as never)) as { data: ItemOf<P>[]; nextCursor?: string | null };
    });
  }

  return {
    /** The whole API, typed from /openapi.json: `api.GET('/v1/tasks/{taskId}', { params: { path: { taskId } } })`. */
    api,
    paginate: list,
    auth: {
      signup: async (body: Json<'/v1/auth/signup', 'post'>) => startSession(unwrap(await api.POST('/v1/auth/signup', { body }))),
      login: async (body: Json<'/v1/auth/login', 'post'>) => startSession(unwrap(await api.POST('/v1/auth/login', { body }))),
      /** Rotates the session's tokens now (normally automatic). */
      refresh: () => tokens.refresh(),
      logout: async () => {
        unwrap(await api.POST('/v1/auth/logout', {}));
        tokens.set(undefined);
      },
    },
    tasks: {
      create: async (body: Json<'/v1/tasks', 'post'>) => unwrap(await api.POST('/v1/tasks', { body })),
      get: async (taskId: string) => unwrap(await api.GET('/v1/tasks/{taskId}', { params: { path: { taskId } } })),
      update: async (taskId: string, body: Json<'/v1/tasks/{taskId}', 'patch'>) =>
        unwrap(await api.PATCH('/v1/tasks/{taskId}', { params: { path: { taskId } }, body })),
      complete: async (taskId: string) => unwrap(await api.POST('/v1/tasks/{taskId}/complete', { params: { path: { taskId } } })),
      delete: async (taskId: string) => {
        unwrap(await api.DELETE('/v1/tasks/{taskId}', { params: { path: { taskId } } }));
      },
      /** Every task matching `query`, across pages. */
      list: (query?: ListParams<'/v1/tasks'>['query']) => list('/v1/tasks', query ? { query } : undefined),
    },
    flows: {
      create: async (body: Json<'/v1/flows', 'post'>) => unwrap(await api.POST('/v1/flows', { body })),
      list: (query?: ListParams<'/v1/flows'>['query']) => list('/v1/flows', query ? { query } : undefined),
      /** Starts a run of the flow's current version. */
      run: async (flowId: string, body: Json<'/v1/flows/{flowId}/runs', 'post'>): Promise<Schemas['Run']> =>
        // Asked as JSON: the same POST answers the run's event stream to a client that asks for one (runStream).
        unwrap(
          await api.POST('/v1/flows/{flowId}/runs', { params: { path: { flowId } }, body, headers: { accept: 'application/json' } }),
        ) as Schemas['Run'],
      /**
       * Starts a run and yields its events live until it ends, in one request (the POST asks for
       * `text/event-stream`). A dropped connection resumes through `GET /v1/runs/{id}/events` with
       * Last-Event-ID; a POST sent again before its answer arrived carries the same Idempotency-Key, so
       * the run starts once (a replay answers the run's JSON, and its events come from the GET).
       */
      runStream: (
        flowId: string,
        body: Json<'/v1/flows/{flowId}/runs', 'post'>,
        opts: { signal?: AbortSignal } = {},
      ): AsyncGenerator<RunEvent> => {
        const key = crypto.randomUUID();
        let runId: string | undefined;
        return resumableStream<RunEvent>({
          signal: opts.signal,
          isLast: (event) => TERMINAL_RUN_EVENTS.has(event.type),
          open: async (lastEventId, signal) => {
            const init = { parseAs: 'stream' as const, ...(signal ? { signal } : {}) };
            if (runId === undefined) {
              const headers = { accept: 'text/event-stream', 'idempotency-key': key };
              const { response, error } = await api.POST('/v1/flows/{flowId}/runs', {
                params: { path: { flowId } },
                body,
                headers,
                ...init,
              });
              // A problem (422, 403…) is final, with its fields, as from flows.run.
              if (!response.ok) unwrap({ error, response });
              runId = response.headers.get('location')?.split('/').pop();
              if (runId === undefined || response.headers.get('content-type')?.startsWith('text/event-stream')) return response;
              await response.body?.cancel();
            }
            const headers: Record<string, string> = { accept: 'text/event-stream' };
            if (lastEventId !== undefined) headers['last-event-id'] = String(lastEventId);
            return (await api.GET('/v1/runs/{runId}/events', { params: { path: { runId } }, headers, ...init })).response;
          },
        });
      },
    },
    runs: {
      get: async (runId: string) => unwrap(await api.GET('/v1/runs/{runId}', { params: { path: { runId } } })),
      list: (query?: ListParams<'/v1/runs'>['query']) => list('/v1/runs', query ? { query } : undefined),
      signal: async (runId: string, body: Json<'/v1/runs/{runId}/signal', 'post'>) =>
        unwrap(await api.POST('/v1/runs/{runId}/signal', { params: { path: { runId } }, body })),
      cancel: async (runId: string) => unwrap(await api.POST('/v1/runs/{runId}/cancel', { params: { path: { runId } } })),
      /**
       * The run's events from the start (or after sequence `after`), live until the run ends. A dropped
       * connection is resumed with Last-Event-ID: every sequence arrives once, in order.
       */
      stream: (runId: string, opts: { after?: number; signal?: AbortSignal } = {}): AsyncGenerator<RunEvent> =>
        resumableStream<RunEvent>({
          after: opts.after,
          signal: opts.signal,
          isLast: (event) => TERMINAL_RUN_EVENTS.has(event.type),
          open: async (lastEventId, signal) => {
            const headers: Record<string, string> = { accept: 'text/event-stream' };
            if (lastEventId !== undefined) headers['last-event-id'] = String(lastEventId);
            const { response } = await api.GET('/v1/runs/{runId}/events', {
              params: { path: { runId } },
              headers,
              parseAs: 'stream',
              ...(signal ? { signal } : {}),
            });
            return response;
          },
        }),
    },
    chat: {
      /**
       * Sends `text` to the assistant in chat `chatId` (created by its first message) and yields the answer's
       * AI SDK UI message chunks. A dropped connection resumes the turn (`GET /v1/chat/{chatId}/stream` with
       * Last-Event-ID): every chunk once, in order, until `[DONE]`.
       */
      send: (chatId: string, text: string, opts: { timezone?: string; signal?: AbortSignal } = {}): AsyncGenerator<UIChunk> =>
        resumableStream<UIChunk>({
          signal: opts.signal,
          isEnd: (frame) => frame.data === '[DONE]',
          open: async (lastEventId, signal) => {
            const init = { parseAs: 'stream' as const, ...(signal ? { signal } : {}) };
            if (lastEventId === undefined) {
              const message = { role: 'user' as const, parts: [{ type: 'text', text }] };
              const body = { id: chatId, message, ...(opts.timezone ? { timezone: opts.timezone } : {}) };
              return (await api.POST('/v1/chat', { body, ...init })).response;
            }
            const headers = { 'last-event-id': String(lastEventId) };
            return (await api.GET('/v1/chat/{chatId}/stream', { params: { path: { chatId } }, headers, ...init })).response;
          },
        }),
      /** Resumes the chat's active turn after chunk `after` (from its start when omitted); ends at once when none runs. */
      resume: (chatId: string, opts: { after?: number; signal?: AbortSignal } = {}): AsyncGenerator<UIChunk> =>
        resumableStream<UIChunk>({
          after: opts.after,
          signal: opts.signal,
          isEnd: (frame) => frame.data === '[DONE]',
          open: async (lastEventId, signal) => {
            const headers: Record<string, string> = lastEventId === undefined ? {} : { 'last-event-id': String(lastEventId) };
            const init = { params: { path: { chatId } }, headers, parseAs: 'stream' as const, ...(signal ? { signal } : {}) };
            return (await api.GET('/v1/chat/{chatId}/stream', init)).response;
          },
        }),
    },
    webhooks: { verify, Webhook },
  };
}

/** The client `createEdgecrew` returns. */
export type Edgecrew = ReturnType<typeof createEdgecrew>;
