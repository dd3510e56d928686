/**
 * A short-lived in-isolate cache for credential lookups, so the hot path needs
 * no D1 round trip in the common case. Bounded staleness: a change made through
 * this isolate applies at once (we invalidate); elsewhere within TTL_MS.
 * docs/security.md states the bound.
 */

export const TTL_MS = 30_000;
const MAX_ENTRIES = 10_000;

interface Entry<V> {
  value: V;
  expires: number;
}

export class TtlCache<V> {
  #map = new Map<string, Entry<V>>();
  constructor(
    readonly ttlMs = TTL_MS,
    readonly max = MAX_ENTRIES,
  ) {}

  get(key: string, now = Date.now()): V | undefined {
    const e = this.#map.get(key);
    if (!e) return undefined;
    if (e.expires <= now) {
      this.#map.delete(key);
      return undefined;
    }
    return e.value;
  }

  set(key: string, value: V, now = Date.now()): void {
    if (this.#map.size >= this.max) {
      const oldest = this.#map.keys().next().value;
      if (oldest !== undefined) this.#map.delete(oldest);
    }
    this.#map.set(key, { value, expires: now + this.ttlMs });
  }

  delete(key: string): void {
    this.#map.delete(key);
  }

  deleteWhere(pred: (key: string, value: V) => boolean): void {
    for (const [k, e] of this.#map) if (pred(k, e.value)) this.#map.delete(k);
  }

  clear(): void {
    this.#map.clear();
  }
}
