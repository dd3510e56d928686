/** Sync sockets (hibernatable): who is connected, and pushing changes to them. */
import type { Change } from '../../src/tasks/model';

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

export function attachmentOf(ws: WebSocket): SocketAttachment | null {
  return (ws.deserializeAttachment() as SocketAttachment | null) ?? null;
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
