/**
 * Request authentication: the Worker signs `timestamp.method.path.body` with
 * HMAC-SHA256 under the shared TOOL_RUNNER_SECRET. A request is accepted once,
 * within ±5 minutes of the runner's clock; anything else is refused (401).
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

export const TIMESTAMP_HEADER = 'x-edgecrew-timestamp';
export const SIGNATURE_HEADER = 'x-edgecrew-signature';
/** Accepted clock skew between the Worker and the runner. */
export const WINDOW_MS = 5 * 60 * 1000;

export type AuthFailure = 'missing' | 'malformed' | 'expired' | 'bad_signature' | 'replayed';

/** Hex HMAC-SHA256 of the canonical string; the Worker computes the same with WebCrypto. */
export function sign(secret: string, timestamp: string, method: string, path: string, body: string | Buffer): string {
  const mac = createHmac('sha256', secret);
  mac.update(`${timestamp}.${method.toUpperCase()}.${path}.`);
  mac.update(body);
  return mac.digest('hex');
}

/**
 * Signatures seen within the window. A replay of a captured request carries the
 * same signature, so remembering each one until its timestamp leaves the window
 * is enough. Bounded: past `max` entries the oldest are dropped (they are the
 * closest to expiring anyway).
 */
export class ReplayCache {
  readonly #seen = new Map<string, number>();
  readonly max: number;
  constructor(max = 100_000) {
    this.max = max;
  }

  /** Records `key` until `expiresAt`; false if it was already there. */
  remember(key: string, expiresAt: number, now: number): boolean {
    if (this.#seen.size >= this.max) this.#sweep(now);
    const hit = this.#seen.get(key);
    if (hit !== undefined && hit > now) return false;
    this.#seen.set(key, expiresAt);
    return true;
  }

  #sweep(now: number): void {
    for (const [key, expiresAt] of this.#seen) {
      if (expiresAt <= now || this.#seen.size >= this.max) this.#seen.delete(key);
      else break;
    }
  }

  get size(): number {
    return this.#seen.size;
  }
}

export interface SignedRequest {
  method: string;
  path: string;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

/** Verifies a request; `null` when it is authentic and fresh. Pure apart from the replay cache. */
export function verify(secret: string, req: SignedRequest, cache: ReplayCache, now: number): AuthFailure | null {
  const ts = req.headers[TIMESTAMP_HEADER];
  const sig = req.headers[SIGNATURE_HEADER];
  if (typeof ts !== 'string' || typeof sig !== 'string') return 'missing';
  if (!/^\d{10,16}$/.test(ts) || !/^[0-9a-f]{64}$/.test(sig)) return 'malformed';
  const at = Number(ts);
  if (Math.abs(now - at) > WINDOW_MS) return 'expired';
  const expected = Buffer.from(sign(secret, ts, req.method, req.path, req.body), 'hex');
  if (!timingSafeEqual(expected, Buffer.from(sig, 'hex'))) return 'bad_signature';
  // Only authentic requests enter the cache, so garbage cannot evict real entries.
  if (!cache.remember(sig, at + WINDOW_MS, now)) return 'replayed';
  return null;
}
