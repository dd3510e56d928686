/**
 * Server-Sent Events that survive a dropped connection: each reconnect sends `Last-Event-ID` (the last
 * sequence delivered), frames at or below it are skipped, so the caller sees every sequence once, in order.
 */
import { errorFromResponse } from './errors';

/** One SSE frame (`id:`, `event:`, `data:`; `data` lines joined by newlines). */
export interface SseFrame {
  id: string | undefined;
  event: string;
  data: string;
}

/** Parses a `text/event-stream` body into frames; `onRetry` hears the server's `retry:` field. */
export async function* parseSse(body: ReadableStream<Uint8Array>, onRetry?: (ms: number) => void): AsyncGenerator<SseFrame> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  let frame: { id?: string; event?: string; data: string[] } = { data: [] };
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += decoder.decode(value, { stream: true });
      const lines = buffer.split(/\r\n|\r|\n/);
      buffer = lines.pop() ?? '';
      for (const line of lines) {
        if (line === '') {
          if (frame.data.length > 0) yield { id: frame.id, event: frame.event ?? 'message', data: frame.data.join('\n') };
          frame = { data: [] };
          continue;
        }
        if (line.startsWith(':')) continue;
        const colon = line.indexOf(':');
        const field = colon < 0 ? line : line.slice(0, colon);
        const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
        if (field === 'data') frame.data.push(value);
        else if (field === 'id') frame.id = value;
        else if (field === 'event') frame.event = value;
        else if (field === 'retry' && /^\d+$/.test(value)) onRetry?.(Number(value));
      }
    }
  } finally {
    await reader.cancel().catch(() => {});
  }
}

export interface ResumableOptions<T> {
  /** Opens the stream after `lastEventId` (undefined: from the start). */
  open: (lastEventId: number | undefined, signal: AbortSignal | undefined) => Promise<Response>;
  /** Resume after this sequence. */
  after?: number | undefined;
  /** The event after which the server closes the stream for good. */
  isLast?: (event: T) => boolean;
  /** A frame without a sequence that ends the stream (e.g. the UI message stream's `[DONE]`). */
  isEnd?: (frame: SseFrame) => boolean;
  signal?: AbortSignal | undefined;
  /** Reconnects in a row that deliver nothing new before giving up; default 5. */
  maxIdleReconnects?: number;
}

/** Frames with numeric ids, parsed as JSON, across reconnects, until `isLast`, `isEnd` or a 204. */
export async function* resumableStream<T>(options: ResumableOptions<T>): AsyncGenerator<T> {
  let last = options.after;
  let retryMs = 1000;
  let idle = 0;
  const maxIdle = options.maxIdleReconnects ?? 5;
  for (;;) {
    let progressed = false;
    try {
      const response = await options.open(last, options.signal);
      // 204: nothing is streaming any more (a chat turn that ended while the connection was down).
      if (response.status === 204) return;
      if (!response.ok || !response.body) throw await errorFromResponse(response);
      for await (const frame of parseSse(response.body, (ms) => (retryMs = ms))) {
        if (options.isEnd?.(frame)) return;
        // A frame without an id (a stream the server sends whole) is passed on; it is never resumed into.
        const seq = frame.id === undefined ? undefined : Number(frame.id);
        if (seq !== undefined && (!Number.isInteger(seq) || (last !== undefined && seq <= last))) continue;
        if (seq !== undefined) last = seq;
        progressed = true;
        const event = JSON.parse(frame.data) as T;
        yield event;
        if (options.isLast?.(event)) return;
      }
    } catch (err) {
      // Answers (4xx, or 5xx after the client's retries) are final; a broken connection is resumed.
      if (options.signal?.aborted || (err instanceof Error && err.name === 'EdgecrewError')) throw err;
    }
    idle = progressed ? 0 : idle + 1;
    if (idle > maxIdle) throw new Error(`event stream made no progress after ${maxIdle} reconnects (last sequence ${last ?? 'none'})`);
    await new Promise((resolve) => setTimeout(resolve, retryMs * (idle === 0 ? 0.1 : 1) + Math.random() * 100));
  }
}
