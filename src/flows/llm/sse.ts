/**
 * A minimal Server-Sent Events reader (WHATWG HTML §9.2.6 "Interpreting an
 * event stream"): yields each event's `data` (multi-line data joined by "\n"),
 * skips comments and other fields. Every read races `signal`, so a stream that
 * stalls mid-answer still ends at the attempt's deadline.
 */

const LINE_BREAK = /\r\n|\r|\n/;

export async function* sseData(body: ReadableStream<Uint8Array>, signal: AbortSignal): AsyncGenerator<string> {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  let data: string[] = [];
  const takeLine = (line: string): string | undefined => {
    if (line === '') {
      // A blank line dispatches the event.
      const event = data.length > 0 ? data.join('\n') : undefined;
      data = [];
      return event;
    }
    if (line.startsWith(':')) return undefined;
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'data') data.push(value);
    return undefined;
  };
  try {
    for (;;) {
      const { value, done } = await raceAbort(reader.read(), signal);
      if (done) break;
      buffer += value;
      for (;;) {
        const m = LINE_BREAK.exec(buffer);
        // A trailing "\r" may be the first half of "\r\n": wait for the next chunk.
        if (!m || (m[0] === '\r' && m.index === buffer.length - 1)) break;
        const line = buffer.slice(0, m.index);
        buffer = buffer.slice(m.index + m[0].length);
        const event = takeLine(line);
        if (event !== undefined) yield event;
      }
    }
    // The stream may end without a final blank line.
    if (buffer !== '') takeLine(buffer);
    const last = takeLine('');
    if (last !== undefined) yield last;
  } finally {
    reader.cancel().catch(() => {});
  }
}

/** Resolves like `p`, or rejects with the signal's reason as soon as it aborts. */
export function raceAbort<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e) => {
        signal.removeEventListener('abort', onAbort);
        reject(e);
      },
    );
  });
}
