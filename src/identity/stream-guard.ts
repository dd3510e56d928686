/**
 * Run streams (SSE and WebSocket) end when the credential that opened them
 * stops being valid: at its expiry, and on key revocation or member removal,
 * as hub sync sockets do (TenantHub.closeSessions). The Worker holds these
 * streams, so it watches them: a change made through this isolate
 * (`forgetApiKey`/`forgetMembership`) flags its streams, which recheck within
 * a second, and every stream rechecks itself each RECHECK_MS against D1, which
 * bounds the delay for changes made elsewhere.
 */
import { and, eq } from 'drizzle-orm';
import type { Db } from '../db/client';
import { apiKeys, memberships } from '../db/schema';
import type { AuthContext } from '../types';

export const RECHECK_MS = 30_000;
export const CLOSE_REVOKED = { code: 1008, reason: 'credential revoked' } as const;
export const CLOSE_EXPIRED = { code: 4001, reason: 'credential expired' } as const;
type CloseWhy = typeof CLOSE_REVOKED | typeof CLOSE_EXPIRED;

interface Watch {
  auth: AuthContext;
  /** Set from any request; read by the watch's own loop (I/O objects belong to the request that opened them, so only it acts). */
  kicked: boolean;
}
const watches = new Set<Watch>();
/** How often a watch looks at its `kicked` flag (no I/O: a flag and a clock). */
const TICK_MS = 1000;

/** Whether `auth`'s credential still stands (read from D1, not the cache: this runs rarely). */
async function stillValid(db: Db, auth: AuthContext, now: number): Promise<boolean> {
  if (auth.expiresAt != null && auth.expiresAt <= now) return false;
  if (auth.actorType === 'api_key') {
    const row = await db.select({ revokedAt: apiKeys.revokedAt }).from(apiKeys).where(eq(apiKeys.id, auth.actorId)).get();
    return !!row && !row.revokedAt;
  }
  const row = await db
    .select({ role: memberships.role })
    .from(memberships)
    .where(and(eq(memberships.tenantId, auth.tenantId), eq(memberships.userId, auth.actorId)))
    .get();
  return !!row;
}

/** Watches `auth` until the returned stop is called; `close` runs once, in the opening request, with why the stream ends. */
export function watchCredential(db: Db, auth: AuthContext, close: (why: CloseWhy) => void): () => void {
  let done = false;
  const watch: Watch = { auth, kicked: false };
  const stop = () => {
    done = true;
    watches.delete(watch);
  };
  watches.add(watch);
  let nextCheck = Date.now() + RECHECK_MS;
  const tick = async () => {
    if (done) return;
    const now = Date.now();
    if (watch.kicked || now >= nextCheck || (auth.expiresAt != null && auth.expiresAt <= now)) {
      watch.kicked = false;
      nextCheck = now + RECHECK_MS;
      const ok = await stillValid(db, auth, now).catch(() => true); // D1 unavailable: the next recheck decides
      if (done) return;
      if (!ok) {
        stop();
        close(auth.expiresAt != null && auth.expiresAt <= Date.now() ? CLOSE_EXPIRED : CLOSE_REVOKED);
        return;
      }
    }
    const untilExpiry = auth.expiresAt == null ? TICK_MS : auth.expiresAt - Date.now();
    setTimeout(() => void tick(), Math.max(0, Math.min(TICK_MS, untilExpiry)));
  };
  setTimeout(() => void tick(), TICK_MS);
  return stop;
}

/** A credential changed in this isolate: its streams recheck at their next tick. */
export function recheckStreams(match: (auth: AuthContext) => boolean): void {
  for (const w of watches) if (match(w.auth)) w.kicked = true;
}

/** A sendable close code (1005/1006 only describe a closure, they cannot be sent). */
const sendable = (code: number) => (code === 1005 || code === 1006 || code < 1000 ? 1000 : code);

/**
 * `res` (a run's SSE stream or WebSocket from its Durable Object) passed through the Worker so it
 * ends when `auth` stops being valid. A socket is relayed (the Worker holds both ends: the price of
 * closing it from here without the run's object knowing about credentials).
 */
export function guardStream(db: Db, auth: AuthContext, res: Response, waitUntil: (p: Promise<unknown>) => void): Response {
  const upstream = res.webSocket;
  if (upstream) {
    const [client, server] = Object.values(new WebSocketPair()) as [WebSocket, WebSocket];
    server.accept();
    upstream.accept();
    let stop = () => {};
    const closeBoth = (code: number, reason: string) => {
      stop();
      for (const ws of [server, upstream]) {
        try {
          ws.close(sendable(code), reason);
        } catch {
          // already closed
        }
      }
    };
    upstream.addEventListener('message', (e) => {
      try {
        server.send(e.data);
      } catch {
        closeBoth(1011, 'send failed');
      }
    });
    server.addEventListener('message', (e) => {
      try {
        upstream.send(e.data);
      } catch {
        closeBoth(1011, 'send failed');
      }
    });
    upstream.addEventListener('close', (e) => closeBoth(e.code, e.reason));
    server.addEventListener('close', (e) => closeBoth(e.code, e.reason));
    stop = watchCredential(db, auth, (why) => closeBoth(why.code, why.reason));
    return new Response(null, { status: 101, webSocket: client });
  }
  if (!res.body || res.status !== 200) return res;
  return pipeGuarded(db, auth, res, res.body, waitUntil);
}

/**
 * The stream's bytes piped through natively (IdentityTransformStream, pipeTo): no JavaScript per chunk
 * (issue 20: a read and a write per event cost about 1.5 ms of CPU per 10-node run). A revoked or
 * expired credential aborts the pipe: the source is cancelled (a run's object drops the subscriber) and the
 * client's stream ends cleanly. A client that goes away errors the pipe, which cancels the source
 * too; a source that ends closes the client's stream, and a source that breaks errors it.
 */
function pipeGuarded(db: Db, auth: AuthContext, res: Response, body: ReadableStream, waitUntil: (p: Promise<unknown>) => void): Response {
  const { readable, writable } = new IdentityTransformStream();
  const revoke = new AbortController();
  const stop = watchCredential(db, auth, () => revoke.abort());
  const pipe = body
    .pipeTo(writable, { signal: revoke.signal, preventAbort: true })
    .catch(async (err: unknown) => {
      // Revoked: the client's stream ends cleanly. The source broke (an evicted object): the client's
      // stream is errored too, so it ends at once instead of hanging open without data.
      if (revoke.signal.aborted) await writable.close().catch(() => undefined);
      else await writable.abort(err).catch(() => undefined);
    })
    .finally(stop);
  // The request's pending work ends with its response body; the pipe's end (and the watch's removal)
  // must still run.
  waitUntil(pipe);
  return new Response(readable, { status: res.status, headers: res.headers });
}
