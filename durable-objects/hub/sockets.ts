/** Sync sockets (hibernatable): who is connected, and pushing changes to them. */
import type { Change } from '../../src/tasks/model';

export interface SocketAttachment {
  actorId: string;
  role: 'admin' | 'member' | 'viewer';
  connectedAt: string;
}

export function attachmentOf(ws: WebSocket): SocketAttachment | null {
  return (ws.deserializeAttachment() as SocketAttachment | null) ?? null;
}

/** Sends to every socket; a socket that cannot take the message is closed, never blocking the others. */
export function broadcast(sockets: WebSocket[], changes: Change[]): void {
  if (changes.length === 0) return;
  const frames = changes.map((c) => JSON.stringify({ type: 'change', ...c }));
  for (const ws of sockets) {
    try {
      for (const f of frames) ws.send(f);
    } catch {
      try {
        ws.close(1011, 'send failed');
      } catch {
        // already closed
      }
    }
  }
}
