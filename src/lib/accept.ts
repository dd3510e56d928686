/**
 * Content negotiation for the few routes that answer either JSON or a stream (RFC 9110 §12.5.1):
 * the stream when the caller ranks `text/event-stream` above JSON, JSON otherwise (no Accept, `*\/*`).
 */
export function prefersEventStream(accept: string | undefined | null): boolean {
  if (!accept) return false;
  let stream = 0;
  let json = 0;
  for (const range of accept.split(',')) {
    const [type = '', ...params] = range.split(';').map((s) => s.trim().toLowerCase());
    const weight = params.find((p) => p.startsWith('q='));
    const q = weight === undefined ? 1 : Number(weight.slice(2));
    if (!(q >= 0 && q <= 1)) continue;
    if (type === 'text/event-stream') stream = Math.max(stream, q);
    else if (type === 'application/json') json = Math.max(json, q);
  }
  return stream > 0 && stream > json;
}
