/**
 * The plan's request budget per tenant (RL_FREE: 600 per 60 s), one limiter call per request
 * (src/lib/caller-limit.ts). A read runs beside that call instead of after it
 * (src/middleware/auth.ts), and over budget its answer is still the 429.
 */
import { describe, expect, it } from 'vitest';
import { call, expectProblem } from '../../support/workers/http';
import { signup } from '../../support/workers/tenants';

const LIMIT = 600;
const WINDOW_MS = 60_000;

describe('request budget', () => {
  it('reads past the tenant budget are 429 with Retry-After (the read ran beside the limiter, its answer is not sent)', async () => {
    const owner = await signup('budget-reads');
    const start = Math.floor(Date.now() / WINDOW_MS);
    // 2 × limit + 1 requests are over budget even if they straddle a window boundary.
    const total = 2 * LIMIT + 1;
    const statuses: number[] = [];
    let limited: Response | undefined;
    let next = 0;
    await Promise.all(
      Array.from({ length: 20 }, async () => {
        while (next < total) {
          next++;
          const res = await call('/v1/tasks?limit=1', { token: owner.accessToken });
          statuses.push(res.status);
          if (res.status === 429 && !limited) limited = res;
          else await res.body?.cancel();
        }
      }),
    );
    const windows = Math.floor(Date.now() / WINDOW_MS) - start + 1;
    const passed = statuses.filter((s) => s === 200).length;
    expect(statuses.every((s) => s === 200 || s === 429)).toBe(true);
    expect(limited, `${passed} passed`).toBeDefined();
    expect(passed).toBeLessThanOrEqual(LIMIT * windows);
    expect(limited!.headers.get('retry-after')).toMatch(/^\d+$/);
    const body = await expectProblem(limited!, 429);
    expect(body).toMatchObject({ code: 'rate_limited', detail: expect.stringMatching(/tenant/) });
  }, 120_000);
});
