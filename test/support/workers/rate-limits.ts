/**
 * The local rate-limit binding counts in windows aligned to the wall clock (60 s for every limiter
 * in wrangler.toml): a burst that crosses a boundary is counted half in each window, and may never
 * reach the limit. A test that needs one window for its burst (and the checks after it) waits for
 * a fresh one when too little of the current window is left.
 */
import { sleep } from '../shared/time';

export const LIMITER_WINDOW_MS = 60_000;

/** The window `t` falls in. */
export const limiterWindowOf = (t: number): number => Math.floor(t / LIMITER_WINDOW_MS);

/** Waits for the next window if fewer than `needMs` remain in the current one. */
export async function startOfUsableWindow(needMs: number): Promise<void> {
  const left = LIMITER_WINDOW_MS - (Date.now() % LIMITER_WINDOW_MS);
  if (left < needMs) await sleep(left + 250);
}
