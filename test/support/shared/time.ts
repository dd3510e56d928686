/** Waiting, the one way: `sleep` for a fixed pause, `eventually` to wait for a condition (bounded). */

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export interface EventuallyOptions {
  /** Give up after this long (default 10 s). */
  timeoutMs?: number;
  /** Pause between probes (default 50 ms). */
  intervalMs?: number;
  /** What is awaited, for the timeout message. */
  what?: string;
}

/**
 * Probes until `probe` returns something other than `undefined` and returns it. A probe that throws
 * (e.g. a failed `expect`) counts as "not yet"; on timeout the last error is the cause.
 */
export async function eventually<T>(
  probe: () => T | undefined | Promise<T | undefined>,
  { timeoutMs = 10_000, intervalMs = 50, what = 'a condition' }: EventuallyOptions = {},
): Promise<T> {
  const end = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (err) {
      last = err;
    }
    if (Date.now() >= end) {
      const why = last === undefined ? '' : `: ${last instanceof Error ? last.message : String(last)}`;
      throw new Error(`gave up after ${timeoutMs} ms waiting for ${what}${why}`, { cause: last });
    }
    await sleep(intervalMs);
  }
}
