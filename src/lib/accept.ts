/**
 * Content negotiation for the few routes that answer either JSON or a stream (RFC 9110 §12.5.1):
 * the stream when the caller ranks `text/event-stream` above JSON, JSON otherwise (ties, no Accept).
 * Each type's weight comes from its most specific range: `text/event-stream`, else `text/*`, else
 * `*\/*`; `application/json`, else `application/*`, else `*\/*`.
 */
export function prefersEventStream(accept: string | undefined | null): boolean {
  if (!accept) return false;
  const weights = new Map<string, number>();
  for (const range of accept.split(',')) {
    const [type = '', ...params] = range.split(';').map((s) => s.trim().toLowerCase());
    const weight = params.find((p) => p.startsWith('q='));
    const q = weight === undefined ? 1 : Number(weight.slice(2));
    if (type === '' || !(q >= 0 && q <= 1)) continue;
    weights.set(type, Math.max(weights.get(type) ?? 0, q));
  }
  const of = (...ranges: string[]) => {
    for (const r of ranges) {
      const q = weights.get(r);
      if (q !== undefined) return q;
    }
    return 0;
  };
  const stream = of('text/event-stream', 'text/*', '*/*');
  const json = of('application/json', 'application/*', '*/*');
  return stream > 0 && stream > json;
}
