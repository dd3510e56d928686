/** Throttling for anonymous endpoints (login, sign-up, invitation accept) by IP and by account. */
import { AppError } from '../lib/problem';

const PERIOD_SECONDS = 60;

/** 429 with Retry-After if any key is over its budget on `limiter`. */
export async function throttle(limiter: RateLimit, keys: string[]): Promise<void> {
  const results = await Promise.all(keys.map((key) => limiter.limit({ key })));
  if (results.some((r) => !r.success)) {
    throw new AppError('rate_limited', 'Too many attempts; wait a minute and try again.', {
      headers: { 'retry-after': String(PERIOD_SECONDS) },
    });
  }
}

/** The client's IP as Cloudflare reports it (absent only in local tools). */
export function clientIp(headers: Headers): string {
  return headers.get('cf-connecting-ip') ?? 'unknown';
}
