/**
 * Login throttling (RL_AUTH: 10 per 60 s, per account and per IP). The local binding counts in
 * wall-clock-aligned 60 s windows. Each burst first waits for a fresh window if the current one is
 * nearly over; should a burst still straddle a boundary (a very slow machine), two windows' budgets
 * apply, so bursts are long enough (2 × limit + 1) to be throttled in either case.
 */
import { describe, expect, it } from 'vitest';
import { call, expectProblem } from '../../support/workers/http';
import { startOfUsableWindow, limiterWindowOf as windowOf } from '../../support/workers/rate-limits';
import { PASSWORD, signup, uniqueEmail } from '../../support/workers/tenants';

const LIMIT = 10;

async function expectThrottled(res: Response) {
  const retryAfter = res.headers.get('retry-after');
  expect(retryAfter).toMatch(/^\d+$/);
  expect(Number(retryAfter)).toBeGreaterThan(0);
  expect(Number(retryAfter)).toBeLessThanOrEqual(60);
  const body = await expectProblem(res, 429);
  expect(body.code).toBe('rate_limited');
}

interface Burst {
  statuses: number[];
  throttled: Response | undefined;
  /** How many windows' budgets applied (1 normally, 2 if the burst crossed a boundary). */
  windows: number;
  /** The window the burst started in. */
  startWindow?: number;
}

/** Sends sequentially until the first 429 (or 2 × limit + 1 attempts). */
async function sequentialBurst(send: (i: number) => Promise<Response>): Promise<Burst> {
  const start = windowOf(Date.now());
  const statuses: number[] = [];
  let throttled: Response | undefined;
  for (let i = 0; i < 2 * LIMIT + 1 && !throttled; i++) {
    const res = await send(i);
    statuses.push(res.status);
    if (res.status === 429) throttled = res;
    else await res.body?.cancel();
  }
  return { statuses, throttled, windows: windowOf(Date.now()) - start + 1, startWindow: start };
}

function expectBudgetRespected(b: Burst, passStatus: number) {
  const passes = b.statuses.filter((s) => s !== 429);
  expect(b.throttled, b.statuses.join(',')).toBeDefined();
  expect(passes.length, b.statuses.join(',')).toBeLessThanOrEqual(LIMIT * b.windows);
  expect(
    passes.every((s) => s === passStatus),
    b.statuses.join(','),
  ).toBe(true);
}

describe('login throttling', { timeout: 120_000 }, () => {
  it('11+ rapid attempts on one account from different IPs → 429 with Retry-After', async () => {
    const owner = await signup('rl-account');
    await startOfUsableWindow(15_000);
    // A fresh IP each time (the helpers' default) and varying case: neither escapes the per-account budget.
    const burst = await sequentialBurst((i) =>
      call('/v1/auth/login', { body: { email: i % 2 ? owner.email.toUpperCase() : owner.email, password: 'Wrong-Passw0rd-42' } }),
    );
    expectBudgetRespected(burst, 401);
    await expectThrottled(burst.throttled!);
    // While throttled, even the right password from yet another IP is refused: the budget is the account's.
    const right = await call('/v1/auth/login', { body: { email: owner.email, password: PASSWORD } });
    if (windowOf(Date.now()) === burst.startWindow) {
      await expectThrottled(right);
    } else {
      await right.body?.cancel();
    }
  });

  it('one IP trying many accounts → 429', async () => {
    const ip = `203.0.113.${Math.floor(Math.random() * 200) + 1}`;
    await startOfUsableWindow(15_000);
    const burst = await sequentialBurst(() =>
      call('/v1/auth/login', { ip, body: { email: uniqueEmail('rl-spray'), password: 'Wrong-Passw0rd-42' } }),
    );
    expectBudgetRespected(burst, 401);
    await expectThrottled(burst.throttled!);
    // Another IP is not affected.
    const owner = await signup('rl-other-ip');
    expect((await call('/v1/auth/login', { body: { email: owner.email, password: PASSWORD } })).status).toBe(200);
  });

  it('concurrent bursts are throttled too', async () => {
    const owner = await signup('rl-burst');
    await startOfUsableWindow(15_000);
    const start = windowOf(Date.now());
    const responses = await Promise.all(
      Array.from({ length: 2 * LIMIT + 1 }, () => call('/v1/auth/login', { body: { email: owner.email, password: 'Wrong-Passw0rd-42' } })),
    );
    const windows = windowOf(Date.now()) - start + 1;
    const statuses = responses.map((r) => r.status);
    const first429 = responses.find((r) => r.status === 429);
    expectBudgetRespected({ statuses, throttled: first429, windows }, 401);
    await expectThrottled(first429!);
    for (const r of responses) if (r !== first429) await r.body?.cancel();
  });

  it('throttling of one account does not lock out another account', async () => {
    const victim = await signup('rl-victim');
    const bystander = await signup('rl-bystander');
    await startOfUsableWindow(15_000);
    const burst = await sequentialBurst(() => call('/v1/auth/login', { body: { email: victim.email, password: 'Wrong-Passw0rd-42' } }));
    expect(burst.throttled, burst.statuses.join(',')).toBeDefined();
    await burst.throttled?.body?.cancel();
    expect((await call('/v1/auth/login', { body: { email: bystander.email, password: PASSWORD } })).status).toBe(200);
  });

  it('sign-up from one IP is throttled too', async () => {
    const ip = `203.0.114.${Math.floor(Math.random() * 200) + 1}`;
    await startOfUsableWindow(20_000);
    const burst = await sequentialBurst(() =>
      call('/v1/auth/signup', { ip, body: { email: uniqueEmail('rl-signup'), password: PASSWORD, name: 'S', tenantName: 'S' } }),
    );
    expectBudgetRespected(burst, 201);
    await expectThrottled(burst.throttled!);
  });
});
