/**
 * Durable Objects under test: stubs by name, and alarm drivers so a test runs an object's alarm
 * now (`runDurableObjectAlarm`) instead of polling until workerd fires it.
 */
import { runDurableObjectAlarm, runInDurableObject } from 'cloudflare:test';
import { env } from 'cloudflare:workers';
import { type EventuallyOptions, eventually } from '../shared/time';

/** The tenant's TenantHub (tasks, sync, notifications, outbox). */
export function hub(tenantId: string): DurableObjectStub {
  return env.TENANT_HUB.get(env.TENANT_HUB.idFromName(tenantId)) as unknown as DurableObjectStub;
}

/** The run's FlowRun object. */
export function flowRun(runId: string) {
  return env.FLOW_RUN.get(env.FLOW_RUN.idFromName(runId));
}

/** A chat's ChatThread object (addressed like src/lib/stubs.ts does). */
export function chatThread(tenantId: string, chatId: string) {
  return env.CHAT_THREAD.get(env.CHAT_THREAD.idFromName(`${tenantId}/${chatId}`));
}

/** The object's scheduled alarm (ms since epoch), or null. */
export function alarmOf(stub: DurableObjectStub): Promise<number | null> {
  return runInDurableObject(stub, (_instance, state) => state.storage.getAlarm());
}

/** Runs the object's alarm now if one is scheduled (whatever its time); false when none was. */
export function runAlarm(stub: DurableObjectStub): Promise<boolean> {
  return runDurableObjectAlarm(stub);
}

/**
 * Runs the object's alarms one after another until `done` returns a value (not undefined), and
 * returns it. Between alarms, and while none is scheduled (work in flight elsewhere, e.g. a fetch
 * or a queue), it waits `intervalMs`; it gives up after `timeoutMs` (see `eventually`).
 */
export async function driveAlarms<T>(
  stub: DurableObjectStub,
  done: () => T | undefined | Promise<T | undefined>,
  options: EventuallyOptions = {},
): Promise<T> {
  return eventually(
    async () => {
      const value = await done();
      if (value !== undefined) return value;
      await runDurableObjectAlarm(stub);
      return done();
    },
    { what: 'the object to settle under driven alarms', ...options },
  );
}
