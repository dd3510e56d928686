/**
 * The plan's request budget, charged the same way for an HTTP request and a sync socket frame:
 * one Rate Limiting call per request, keyed by the tenant.
 *
 * A second call per credential used to run beside it, on the same binding with the same limit.
 * It could never refuse a request the tenant's key let through: a credential's requests are a
 * subset of its tenant's, counted in the same window. Dropping it halves the limiter calls on the
 * hot path (issue 20); a per-credential budget below the tenant's would need its own binding.
 */
import type { Caller } from './context';
import { AppError } from './problem';

const PERIOD_SECONDS = 60;

/** 429 (Retry-After) when the caller's tenant is over its plan's budget. */
export async function chargeCaller(env: Pick<Env, 'RL_FREE' | 'RL_PRO'>, caller: Pick<Caller, 'tenantId' | 'credential'>): Promise<void> {
  const limiter = caller.credential.plan === 'pro' ? env.RL_PRO : env.RL_FREE;
  const { success } = await limiter.limit({ key: `tenant:${caller.tenantId}` });
  if (!success) {
    throw new AppError('rate_limited', 'Rate limit exceeded for this tenant; retry later.', {
      headers: { 'retry-after': String(PERIOD_SECONDS) },
    });
  }
}
