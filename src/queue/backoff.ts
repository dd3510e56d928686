/**
 * How long a message whose handler threw waits before the queue redelivers it. Handlers throw only
 * on infrastructure errors (D1, a Durable Object, a queue send), which last minutes, not seconds:
 * 1, 2, 4, 8, then 15 minutes, so with max_retries = 5 a message reaches the dead-letter queue
 * after about half an hour, not a minute (issue 12), and is then re-driven from `dead_letters`.
 */
export const RETRY_BASE_S = 60;
export const RETRY_CAP_S = 15 * 60;

/** Delay before redelivery number `attempts` (the message's `attempts`, 1-based). */
export function retryDelayS(attempts: number): number {
  return Math.min(RETRY_CAP_S, RETRY_BASE_S * 2 ** Math.max(0, attempts - 1));
}
