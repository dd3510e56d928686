/**
 * Server-Sent Events, the one reader: parses `text/event-stream` frames incrementally from a
 * `Response` or its body, in workerd and in Node alike.
 */

export interface SseFrame {
  id: string | null;
  event: string | null;
  data: string;
  /** The raw field lines of the frame (comments dropped). */
  lines: string[];
  /** The field names in order, e.g. `['id', 'event', 'data']`. */
  fields: string[];
}

/**
 * One frame from the text between two blank lines; null when it carries no data (comments, or a
 * frame with only `retry:`, which is returned separately).
 */
export function parseSseBlock(block: string): { frame: SseFrame | null; retry: number | null } {
  const lines = block.split('\n').filter((l) => l !== '' && !l.startsWith(':'));
  const field = (name: string) => lines.filter((l) => l.startsWith(`${name}:`)).map((l) => l.slice(name.length + 1).replace(/^ /, ''));
  const retry = field('retry').length ? Number(field('retry')[0]) : null;
  if (!field('data').length) return { frame: null, retry };
  return {
    frame: {
      id: field('id')[0] ?? null,
      event: field('event')[0] ?? null,
      data: field('data').join('\n'),
      lines,
      fields: lines.map((l) => (l.includes(':') ? l.slice(0, l.indexOf(':')) : l)),
    },
    retry,
  };
}

/** Reads an event stream frame by frame; `next()` is null once the server has ended the stream. */
export class SseReader {
  #reader: ReadableStreamDefaultReader<Uint8Array>;
  #decoder = new TextDecoder();
  #buffer = '';
  #ended = false;
  /** The last `retry:` the server sent. */
  retry: number | null = null;

  constructor(source: Response | ReadableStream<Uint8Array>) {
    const body = 'getReader' in source ? source : source.body;
    if (!body) throw new Error('SseReader: the response has no body');
    this.#reader = body.getReader();
  }

  async next(timeoutMs = 10_000): Promise<SseFrame | null> {
    for (;;) {
      const cut = this.#buffer.indexOf('\n\n');
      if (cut >= 0) {
        const { frame, retry } = parseSseBlock(this.#buffer.slice(0, cut));
        this.#buffer = this.#buffer.slice(cut + 2);
        if (retry !== null) this.retry = retry;
        if (frame) return frame;
        continue;
      }
      if (this.#ended) return null;
      let timer: ReturnType<typeof setTimeout> | undefined;
      const chunk = await Promise.race([
        this.#reader.read(),
        new Promise<never>((_, reject) => {
          timer = setTimeout(
            () => reject(new Error(`no SSE frame within ${timeoutMs} ms (buffer: ${JSON.stringify(this.#buffer.slice(0, 200))})`)),
            timeoutMs,
          );
        }),
      ]).finally(() => timer !== undefined && clearTimeout(timer));
      if (chunk.done) this.#ended = true;
      else this.#buffer += this.#decoder.decode(chunk.value, { stream: true });
    }
  }

  /** Frames until (and including) the first whose event is `type`. */
  async until(type: string, timeoutMs = 10_000): Promise<SseFrame[]> {
    const out: SseFrame[] = [];
    for (;;) {
      const f = await this.next(timeoutMs);
      if (!f) throw new Error(`stream ended before '${type}' (got ${out.map((x) => x.event).join(', ')})`);
      out.push(f);
      if (f.event === type) return out;
    }
  }

  /** Every frame until the server ends the stream. */
  async rest(timeoutMs = 10_000): Promise<SseFrame[]> {
    const out: SseFrame[] = [];
    try {
      for (let f = await this.next(timeoutMs); f; f = await this.next(timeoutMs)) out.push(f);
    } catch (err) {
      throw new Error(
        `${(err as Error).message}; stream still open after ${out.map((f) => `${f.id}:${f.event}`).join(', ') || 'no frame'}`,
      );
    }
    return out;
  }

  /** Disconnects (as a client going away would). */
  async cancel(): Promise<void> {
    await this.#reader.cancel().catch(() => undefined);
  }
}
