/**
 * One outbound webhook POST: a hard timeout, no redirects followed (a 3xx is a
 * failure, and following one could lead to a target the SSRF guard never saw),
 * and at most 1 KiB of the response body kept for the attempt log.
 */

export const WEBHOOK_TIMEOUT_MS = 10_000;
export const EXCERPT_BYTES = 1024;

export interface HttpResult {
  status: number | null;
  retryAfter: string | null;
  excerpt: string | null;
  error: string | null;
  durationMs: number;
}

/** Reads at most `max` bytes of the body, then cancels the rest. */
async function readExcerpt(res: Response, max: number): Promise<string> {
  if (!res.body) return '';
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    while (size < max) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      size += value.byteLength;
    }
  } finally {
    await reader.cancel().catch(() => undefined);
  }
  const bytes = new Uint8Array(Math.min(size, max));
  let at = 0;
  for (const c of chunks) {
    const take = Math.min(c.byteLength, bytes.byteLength - at);
    bytes.set(c.subarray(0, take), at);
    at += take;
    if (at >= bytes.byteLength) break;
  }
  let text = new TextDecoder().decode(bytes);
  // A multi-byte character cut at the limit decodes to U+FFFD (3 bytes): trim until it fits again.
  while (new TextEncoder().encode(text).byteLength > max) text = text.slice(0, -1);
  return text;
}

export async function postWebhook(
  url: string,
  headers: Record<string, string>,
  body: string,
  timeoutMs = WEBHOOK_TIMEOUT_MS,
): Promise<HttpResult> {
  const started = Date.now();
  const signal = AbortSignal.timeout(timeoutMs);
  try {
    const res = await fetch(url, {
      method: 'POST',
      headers: { ...headers, 'content-type': 'application/json', 'user-agent': 'Edgecrew-Webhooks/1.0' },
      body,
      redirect: 'manual',
      signal,
    });
    const excerpt = await readExcerpt(res, EXCERPT_BYTES);
    return { status: res.status, retryAfter: res.headers.get('retry-after'), excerpt, error: null, durationMs: Date.now() - started };
  } catch (err) {
    const timedOut = signal.aborted || (err as Error)?.name === 'TimeoutError';
    const error = timedOut ? `timeout after ${timeoutMs} ms` : `network error: ${String((err as Error)?.message ?? err).slice(0, 200)}`;
    return { status: null, retryAfter: null, excerpt: null, error, durationMs: Date.now() - started };
  }
}
