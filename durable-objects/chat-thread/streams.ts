/**
 * Followers of a turn's UI stream: each is a cursor over the turn's chunk log
 * (so replay and live have no gap between them) writing SSE frames to a
 * stream the Worker hands to the client, until the segment it follows ends
 * (its `finish` or `abort`), then `data: [DONE]`. What a client is sent:
 *  - a full replay by default: every chunk of the message so far, earlier
 *    segments' `finish` and later segments' `start` left out, so the AI SDK
 *    (which resets its message on the first `start` of a resumed stream)
 *    rebuilds the whole message with no duplicate parts;
 *  - after `Last-Event-ID: n`, exactly the chunks after n;
 *  - each chunk as its protocol version accepts it (`forClient`).
 * A client that goes away only removes its follower: the turn goes on.
 */
import { forClient, SSE_DONE, type StreamVersion, sseChunk, type UIChunk } from '../../src/chat/ui-message';
import type { ChunkRow } from './store';

const encoder = new TextEncoder();
/** A comment line keeps idle connections (a queued turn, a slow model) open through proxies. */
export const KEEPALIVE_MS = 15_000;
const PAGE = 200;

export interface FollowSource {
  read(turnId: string, after: number, limit: number): ChunkRow[];
  /** False once the turn is gone or no longer streams anything new (then the follower ends). */
  live(turnId: string): boolean;
}

export interface Follow {
  turnId: string;
  /** Chunks after this log position (0 = from the start). */
  after: number;
  /** The segment whose end ends the stream. */
  segment: number;
  version: StreamVersion;
}

interface Follower extends Follow {
  writer: WritableStreamDefaultWriter<Uint8Array>;
  sentStart: boolean;
  wake: (() => void) | null;
}

const ENDS = new Set<UIChunk['type']>(['finish', 'abort']);

export class TurnStreams {
  #followers = new Set<Follower>();

  constructor(private readonly source: FollowSource) {}

  get size(): number {
    return this.#followers.size;
  }

  /** The turns someone is still reading (their logs must stay until they finish). */
  followed(): string[] {
    return [...new Set([...this.#followers].map((f) => f.turnId))];
  }

  open(f: Follow): ReadableStream<Uint8Array> {
    const { readable, writable } = new TransformStream<Uint8Array, Uint8Array>();
    const follower: Follower = { ...f, writer: writable.getWriter(), sentStart: false, wake: null };
    this.#followers.add(follower);
    void this.#run(follower).finally(() => this.#followers.delete(follower));
    return readable;
  }

  /** New chunks are in the log (or a turn changed): wake every follower. */
  notify(): void {
    for (const f of this.#followers) {
      const wake = f.wake;
      f.wake = null;
      wake?.();
    }
  }

  async #run(f: Follower): Promise<void> {
    try {
      for (;;) {
        // No await between reading the log and parking on `wake`: a chunk appended meanwhile wakes us.
        const rows = this.source.read(f.turnId, f.after, PAGE);
        let frames = '';
        let ended = false;
        for (const row of rows) {
          f.after = row.seq;
          const c = row.chunk;
          if (c.type === 'finish' && row.segment < f.segment) continue;
          if (c.type === 'start') {
            if (f.sentStart) continue;
            f.sentStart = true;
          }
          const out = forClient(c, f.version);
          if (out) frames += sseChunk(row.seq, out);
          if (ENDS.has(c.type) && row.segment >= f.segment) {
            ended = true;
            break;
          }
        }
        if (frames) await f.writer.write(encoder.encode(frames));
        if (ended) break;
        if (rows.length > 0) continue;
        if (!this.source.live(f.turnId)) break;
        let timer: ReturnType<typeof setTimeout> | undefined;
        const idle = await new Promise<boolean>((resolve) => {
          f.wake = () => resolve(false);
          timer = setTimeout(() => resolve(true), KEEPALIVE_MS);
        });
        if (timer !== undefined) clearTimeout(timer);
        f.wake = null;
        if (idle) await f.writer.write(encoder.encode(': keep-alive\n\n'));
      }
      await f.writer.write(encoder.encode(SSE_DONE));
      await f.writer.close();
    } catch {
      // The client went away: only this follower ends.
      await f.writer.abort().catch(() => undefined);
    }
  }
}

/** A stream that is already complete (an answer that leaves the turn still waiting). */
export function fixedStream(chunks: UIChunk[]): ReadableStream<Uint8Array> {
  const body = chunks.map((c) => `data: ${JSON.stringify(c)}\n\n`).join('') + SSE_DONE;
  return new Response(body).body!;
}
