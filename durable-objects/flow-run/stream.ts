/**
 * Live run events: Server-Sent Events (with Last-Event-ID resume) and
 * hibernatable WebSockets. Every event is in the run's append-only log first;
 * subscribers get a replay from their cursor, then live frames.
 */
import type { RunEvent } from '../../src/flows/run-model';
import { closeQuietly } from '../tenant-hub/sync-sockets';

const encoder = new TextEncoder();

export function sseFrame(e: RunEvent): Uint8Array {
  return encoder.encode(`id: ${e.seq}\nevent: ${e.type}\ndata: ${JSON.stringify(e)}\n\n`);
}

export class SseHub {
  /** Each subscriber's writes go through its own promise chain: backlog, then live frames, then close. */
  #subs = new Map<WritableStreamDefaultWriter<Uint8Array>, Promise<void>>();

  #enqueue(w: WritableStreamDefaultWriter<Uint8Array>, work: () => Promise<void>): void {
    const chain = (this.#subs.get(w) ?? Promise.resolve()).then(work).catch(() => {
      this.#subs.delete(w);
    });
    if (this.#subs.has(w)) this.#subs.set(w, chain);
  }

  /** Opens a stream that first replays `backlog`; `closed` ends it right after (terminal runs). */
  open(backlog: RunEvent[], closed: boolean): Response {
    const { readable, writable } = new TransformStream<Uint8Array, Uint8Array>();
    const writer = writable.getWriter();
    // Registered at once, so events flushed while the backlog is still being read queue behind it.
    this.#subs.set(writer, Promise.resolve());
    this.#enqueue(writer, async () => {
      await writer.write(encoder.encode(`retry: 2000\n\n`));
      for (const e of backlog) await writer.write(sseFrame(e));
    });
    if (closed) this.#end(writer);
    return new Response(readable, {
      headers: {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-store',
        connection: 'keep-alive',
        'x-accel-buffering': 'no',
      },
    });
  }

  #end(w: WritableStreamDefaultWriter<Uint8Array>): void {
    this.#enqueue(w, async () => {
      await w.close();
      this.#subs.delete(w);
    });
  }

  push(events: RunEvent[], terminal: boolean): void {
    for (const w of [...this.#subs.keys()]) {
      this.#enqueue(w, async () => {
        for (const e of events) await w.write(sseFrame(e));
      });
      if (terminal) this.#end(w);
    }
  }
}

export function pushToSockets(sockets: WebSocket[], events: RunEvent[]): void {
  const frames = events.map((e) => JSON.stringify(e));
  for (const ws of sockets) {
    try {
      for (const f of frames) ws.send(f);
    } catch {
      closeQuietly(ws, 1011, 'send failed');
    }
  }
}
