/**
 * Retries as a `fetch` wrapper: 429, 503 and the idempotency layer's 409 "still in flight" are retried,
 * honouring `Retry-After` (seconds or an HTTP date) plus jitter; network failures are retried when the
 * request is safe to repeat (a GET/HEAD/PUT/DELETE, or a POST that carries an Idempotency-Key).
 */

export interface RetryOptions {
  /** Retries after the first attempt; default 3. `0` disables retrying. */
  maxRetries?: number;
  /** First backoff when the answer has no Retry-After, doubled per retry (full jitter); default 500 ms. */
  baseDelayMs?: number;
  /** Longest wait the client accepts; a longer Retry-After is returned to the caller instead; default 30 s. */
  maxDelayMs?: number;
  /** Extra random wait on top of Retry-After, up to this many ms, so clients told the same moment spread out; default 250. */
  jitterMs?: number;
}

const RETRY_STATUSES = new Set([429, 503]);
const SAFE_METHODS = new Set(['GET', 'HEAD', 'PUT', 'DELETE', 'OPTIONS']);

/** Milliseconds a `Retry-After` value asks for, or undefined when absent or unreadable. */
export function retryAfterMs(value: string | null, now = Date.now()): number | undefined {
  const v = value?.trim() ?? '';
  if (/^\d+$/.test(v)) return Number(v) * 1000;
  // Otherwise only an HTTP date (RFC 9110 §10.2.3: `Thu, 03 Dec 2026 10:00:05 GMT`), never a negative or fractional number.
  if (!/^[A-Za-z]/.test(v)) return undefined;
  const at = Date.parse(v);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

function repeatable(request: Request): boolean {
  return SAFE_METHODS.has(request.method) || request.headers.has('idempotency-key');
}

/** Whether `response` to `request` is worth another attempt. */
function retryableResponse(request: Request, response: Response): boolean {
  if (RETRY_STATUSES.has(response.status)) return true;
  // Only the in-flight 409 (a keyed request still running) says Retry-After; other conflicts are final.
  return response.status === 409 && request.headers.has('idempotency-key') && response.headers.has('retry-after');
}

const sleep = (ms: number, signal?: AbortSignal | null) =>
  new Promise<void>((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener(
      'abort',
      () => {
        clearTimeout(timer);
        reject(signal.reason);
      },
      { once: true },
    );
  });

/** A `fetch` that retries as described above. Every attempt sends a clone of `request` (same headers, same body). */
export function retryingFetch(options: RetryOptions = {}, base: (request: Request) => Promise<Response> = (r) => fetch(r)) {
  const maxRetries = options.maxRetries ?? 3;
  const baseDelayMs = options.baseDelayMs ?? 500;
  const maxDelayMs = options.maxDelayMs ?? 30_000;
  const jitterMs = options.jitterMs ?? 250;

  return async function fetchWithRetries(request: Request): Promise<Response> {
    for (let attempt = 0; ; attempt++) {
      const last = attempt >= maxRetries;
      let response: Response;
      try {
        response = await base(last ? request : request.clone());
      } catch (err) {
        if (last || !repeatable(request) || request.signal.aborted) throw err;
        await sleep(Math.random() * baseDelayMs * 2 ** attempt, request.signal);
        continue;
      }
      if (last || !retryableResponse(request, response)) return response;
      const asked = retryAfterMs(response.headers.get('retry-after'));
      const delay =
        asked === undefined ? Math.random() * Math.min(maxDelayMs, baseDelayMs * 2 ** attempt) : asked + Math.random() * jitterMs;
      if (delay > maxDelayMs) return response;
      await response.body?.cancel();
      await sleep(delay, request.signal);
    }
  };
}
