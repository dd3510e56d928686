/** Sync sockets (hibernatable): who is connected, and pushing changes to them. */
import type { Change } from '../../src/tasks/model';
import { backlogFits, changesSince, latestVersion, type ResyncSignal, sinceTooOld } from './sync-log';

/**
 * A socket's catch-up is bounded: past these the hub answers one `resync` frame instead of
 * replaying history, so a `since=0` from any viewer costs one small query, not the whole log.
 */
export const CATCH_UP = { maxChanges: 1_000, maxBytes: 1 << 20, page: 500 } as const;

export interface SocketAttachment {
  actorId: string;
  role: 'admin' | 'member' | 'viewer';
  connectedAt: string;
  /** The credential's expiry (ms epoch); the socket is closed once it passes. */
  expiresAt: number | null;
  /** The credential behind the socket: a mutate frame is rate limited against it like an HTTP request. */
  actorType?: 'user' | 'api_key';
  credentialId?: string;
  plan?: 'free' | 'pro';
}

/**
 * Attachments read back while the hub is in memory: a broadcast to 1,000 sockets otherwise
 * deserializes 1,000 attachments per change (issue 20). Woken from hibernation, the map starts
 * empty and fills on first read; every write goes through `attach`, which keeps both in step.
 */
const attachments = new WeakMap<WebSocket, SocketAttachment | null>();

export function attachmentOf(ws: WebSocket): SocketAttachment | null {
  const known = attachments.get(ws);
  if (known !== undefined) return known;
  const read = (ws.deserializeAttachment() as SocketAttachment | null) ?? null;
  attachments.set(ws, read);
  return read;
}

/** Stores a socket's attachment (it survives hibernation) and remembers it in memory. */
export function attach(ws: WebSocket, attachment: SocketAttachment): void {
  ws.serializeAttachment(attachment);
  attachments.set(ws, attachment);
}

/** Sends to every socket; a socket that cannot take the message is closed, never blocking the others. */
export function broadcast(sockets: WebSocket[], changes: Change[], now = Date.now()): void {
  if (changes.length === 0) return;
  const frames = changes.map((c) => JSON.stringify({ type: 'change', ...c }));
  for (const ws of sockets) {
    const who = attachmentOf(ws);
    if (who?.expiresAt != null && now >= who.expiresAt) {
      // The credential expired: reconnect with a fresh one and `since` (nothing is missed).
      closeQuietly(ws, 4001, 'credential expired');
      continue;
    }
    try {
      for (const f of frames) ws.send(f);
    } catch {
      closeQuietly(ws, 1011, 'send failed');
    }
  }
}

export function closeQuietly(ws: WebSocket, code: number, reason: string): void {
  try {
    ws.close(code, reason);
  } catch {
    // already closed
  }
}

/** The `resync` frame: reload from GET /v1/sync/snapshot; live changes after `version` follow on this socket. */
export function resyncFrame(signal: ResyncSignal): string {
  return JSON.stringify({ type: 'resync', reason: signal.reason, version: signal.version, snapshot: '/v1/sync/snapshot' });
}

/**
 * Sends a new socket its catch-up: the changes after `since` then `synced`, or one `resync` frame
 * when `since` is past the horizon or the backlog exceeds CATCH_UP. Synchronous (no await), so the
 * caller registers the socket with no change falling in between.
 */
export function sendCatchUp(ws: WebSocket, sql: SqlStorage, since: number): 'synced' | 'resync' {
  if (sinceTooOld(sql, since)) {
    ws.send(resyncFrame({ resync: true, reason: 'since_too_old', version: latestVersion(sql) }));
    return 'resync';
  }
  if (!backlogFits(sql, since, CATCH_UP.maxChanges, CATCH_UP.maxBytes)) {
    ws.send(resyncFrame({ resync: true, reason: 'too_far_behind', version: latestVersion(sql) }));
    return 'resync';
  }
  let cursor = since;
  for (;;) {
    const page = changesSince(sql, cursor, CATCH_UP.page);
    if ('resync' in page) break; // checked above; the log cannot change within this synchronous call
    for (const c of page.changes) ws.send(JSON.stringify({ type: 'change', ...c }));
    cursor = page.version;
    if (!page.hasMore) break;
  }
  ws.send(JSON.stringify({ type: 'synced', version: cursor }));
  return 'synced';
}
