/**
 * Test-only fault switches for `npm run chaos` (scripts/chaos/): where no fault can be injected from
 * outside the object, the chaos suite asks the object to misbehave. Every switch is refused unless the
 * Worker runs with ENVIRONMENT=test (the chaos suite's and the tests' setting; every environment of
 * wrangler.toml sets development, staging or production), so a deployed Worker cannot be made to
 * fail by anyone. Durable Object RPC is reachable only through the Worker's own bindings.
 */

/**
 * `alarm_throws`: the next `times` alarm invocations throw before doing anything. `inspect`: changes
 * nothing (the answer says how many throws are left). `reset`: `ctx.abort()` now (the call rejects).
 */
export type RunFault = { kind: 'alarm_throws'; times: number } | { kind: 'inspect' } | { kind: 'reset' };

export interface FaultState {
  alarmThrowsLeft: number;
}

const ALARM_THROWS = 'chaos:alarm_throws';

/** Whether this Worker may take fault switches at all. */
export function chaosAllowed(env: { ENVIRONMENT: string }): boolean {
  return env.ENVIRONMENT === 'test';
}

export async function injectFault(ctx: DurableObjectState, env: { ENVIRONMENT: string }, fault: RunFault): Promise<FaultState> {
  if (!chaosAllowed(env)) throw new Error('fault switches are for ENVIRONMENT=test only');
  if (fault.kind === 'alarm_throws') {
    if (!Number.isInteger(fault.times) || fault.times < 0 || fault.times > 100) throw new Error('alarm_throws: times must be 0..100');
    await ctx.storage.put(ALARM_THROWS, fault.times);
  }
  if (fault.kind !== 'reset') return { alarmThrowsLeft: (await ctx.storage.get<number>(ALARM_THROWS)) ?? 0 };
  // The object's in-memory state and everything in flight (an alarm mid-step, its fetches) are gone;
  // storage stays. The platform retries an alarm that died this way.
  ctx.abort('chaos: object reset');
  throw new Error('unreachable: the object was reset');
}

/** Called first in alarm(): throws while an `alarm_throws` switch has throws left (a no-op outside ENVIRONMENT=test). */
export async function alarmFault(ctx: DurableObjectState, env: { ENVIRONMENT: string }): Promise<void> {
  if (!chaosAllowed(env)) return;
  const left = (await ctx.storage.get<number>(ALARM_THROWS)) ?? 0;
  if (left <= 0) return;
  await ctx.storage.put(ALARM_THROWS, left - 1);
  throw new Error(`chaos: injected alarm failure (${left - 1} more to come)`);
}
