/**
 * Webhook retry policy, pure and clock-free. The schedule is the Standard
 * Webhooks / Svix one: after the first attempt, retries 5 s, 5 min, 30 min, 2 h,
 * 5 h, 10 h and 10 h later (8 attempts over about 27.6 h). Delays travel as
 * queue delivery delays, which Queues cap at 12 h.
 */

export const RETRY_SCHEDULE_S = [5, 5 * 60, 30 * 60, 2 * 3600, 5 * 3600, 10 * 3600, 10 * 3600] as const;
export const MAX_ATTEMPTS_PER_ROUND = RETRY_SCHEDULE_S.length + 1;
export const MAX_QUEUE_DELAY_S = 12 * 3600;

/** An endpoint is disabled when this many deliveries in a row exhausted every attempt… */
export const DISABLE_AFTER_EXHAUSTED = 5;
/** …or when it has been failing without a single success for this long. */
export const DISABLE_AFTER_FAILING_MS = 5 * 24 * 3600_000;

export type AttemptOutcome = { kind: 'success' } | { kind: 'gone' } | { kind: 'retry'; delayS: number } | { kind: 'exhausted' };

/**
 * What to do after attempt number `inRound` (1-based within the current round)
 * answered `status` (null: no HTTP answer). Only 2xx is success; 410 disables
 * the endpoint; 429/503 with Retry-After wait that long instead of the schedule.
 */
export function outcomeOf(status: number | null, inRound: number, retryAfterS: number | null): AttemptOutcome {
  if (status !== null && status >= 200 && status < 300) return { kind: 'success' };
  if (status === 410) return { kind: 'gone' };
  if (inRound >= MAX_ATTEMPTS_PER_ROUND) return { kind: 'exhausted' };
  const scheduled = RETRY_SCHEDULE_S[inRound - 1]!;
  const honoured = (status === 429 || status === 503) && retryAfterS !== null ? retryAfterS : scheduled;
  return { kind: 'retry', delayS: Math.min(MAX_QUEUE_DELAY_S, Math.max(1, Math.ceil(honoured))) };
}

/** Retry-After as seconds from `now`: delta-seconds or an HTTP-date (RFC 9110 §10.2.3); null when absent or invalid. */
export function parseRetryAfter(value: string | null, now: number): number | null {
  if (value === null || value.trim() === '') return null;
  const v = value.trim();
  if (/^\d+$/.test(v)) return Number(v);
  const at = Date.parse(v);
  return Number.isNaN(at) ? null : Math.max(0, Math.ceil((at - now) / 1000));
}

/** Whether an endpoint that just failed should be disabled. */
export function shouldDisable(exhaustedInRow: number, failingSince: string | null, now: number): boolean {
  if (exhaustedInRow >= DISABLE_AFTER_EXHAUSTED) return true;
  return failingSince !== null && now - Date.parse(failingSince) >= DISABLE_AFTER_FAILING_MS;
}
