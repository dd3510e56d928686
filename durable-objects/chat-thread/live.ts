/**
 * The live view over hibernatable WebSockets (GET /v1/chat/{id}/ws): a new socket gets the chat and
 * the active turn's chunks so far; then every change is pushed: `chunk` frames (as the socket's
 * protocol version accepts them), `message` (a user message joining, an assistant message stored)
 * and `turn` (its state).
 */
import type { ChatView, TurnView } from '../../src/chat/model';
import { forClient, type StreamVersion, type UIMessage } from '../../src/chat/ui-message';
import { closeQuietly } from '../tenant-hub/sync-sockets';
import type { ChunkRow } from './store';

interface SocketAttachment {
  version: StreamVersion;
}

function chunkFrame(version: StreamVersion, turnId: string, messageId: string, r: ChunkRow): string | null {
  const chunk = forClient(r.chunk, version);
  if (!chunk) return null;
  return JSON.stringify({ type: 'chunk', turnId, messageId, seq: r.seq, chunk });
}

/** Greets an accepted socket: the chat, then the active turn's chunks so far (no await in between). */
export function greet(
  ws: WebSocket,
  version: StreamVersion,
  chat: ChatView,
  active: { turnId: string; messageId: string; rows: ChunkRow[] } | null,
): void {
  ws.serializeAttachment({ version } satisfies SocketAttachment);
  ws.send(JSON.stringify({ type: 'chat', chat }));
  if (!active) return;
  for (const r of active.rows) {
    const f = chunkFrame(version, active.turnId, active.messageId, r);
    if (f) ws.send(f);
  }
}

export interface Change {
  turn: TurnView;
  rows: ChunkRow[];
  /** Messages to show (a user message joining, the assistant message stored at a segment's end). */
  messages: UIMessage[];
}

export function push(sockets: WebSocket[], c: Change): void {
  for (const ws of sockets) {
    try {
      const { version } = (ws.deserializeAttachment() ?? { version: 6 }) as SocketAttachment;
      for (const r of c.rows) {
        const f = chunkFrame(version, c.turn.id, c.turn.messageId, r);
        if (f) ws.send(f);
      }
      for (const message of c.messages) ws.send(JSON.stringify({ type: 'message', message }));
      ws.send(JSON.stringify({ type: 'turn', turn: c.turn }));
    } catch {
      closeQuietly(ws, 1011, 'send failed');
    }
  }
}
