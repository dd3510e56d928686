/** The plan's request budget per tenant and per credential, charged the same way for an HTTP request and a sync socket frame. */
import type { Caller } from './context';
import { AppError } from './problem';

const PERIOD_SECONDS = 60;

/** 429 (Retry-After) when the caller's tenant or credential is over its plan's budget. */
export async function chargeCaller(env: Pick<Env, 'RL_FREE' | 'RL_PRO'>, caller: Pick<Caller, 'tenantId' | 'credential'>): Promise<void> {
  const limiter = caller.credential.plan === 'pro' ? env.RL_PRO : env.RL_FREE;
  const [tenant, credential] = await Promise.all([
    limiter.limit({ key: `tenant:${caller.tenantId}` }),
    limiter.limit({ key: `credential:${caller.credential.id}` }),
  ]);
  if (!tenant.success || !credential.success) {
    throw new AppError('rate_limited', `Rate limit exceeded for this ${tenant.success ? 'credential' : 'tenant'}; retry later.`, {
      headers: { 'retry-after': String(PERIOD_SECONDS) },
    });
  }
}
