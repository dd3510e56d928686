/**
 * The FlowRun's test-only fault switches (durable-objects/flow-run/chaos.ts), used by `npm run chaos`:
 * they work under ENVIRONMENT=test and nowhere else, so no deployed Worker can be made to fail.
 */
import { runInDurableObject } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { alarmFault, chaosAllowed, injectFault } from '../../../durable-objects/flow-run/chaos';
import { flowRun } from '../../support/workers/durable-objects';

const inObject = <T>(name: string, fn: (state: DurableObjectState) => Promise<T>) =>
  runInDurableObject(flowRun(name) as unknown as DurableObjectStub, (_i, state) => fn(state));

describe('FlowRun fault switches', () => {
  it('are refused outside ENVIRONMENT=test, and an armed switch does nothing there', async () => {
    for (const ENVIRONMENT of ['development', 'staging', 'production']) expect(chaosAllowed({ ENVIRONMENT })).toBe(false);
    expect(chaosAllowed({ ENVIRONMENT: 'test' })).toBe(true);
    await inObject('chaos-refused', async (state) => {
      await expect(injectFault(state, { ENVIRONMENT: 'production' }, { kind: 'alarm_throws', times: 3 })).rejects.toThrow(
        /ENVIRONMENT=test/,
      );
      await expect(injectFault(state, { ENVIRONMENT: 'production' }, { kind: 'reset' })).rejects.toThrow(/ENVIRONMENT=test/);
      expect(await state.storage.get('chaos:alarm_throws')).toBeUndefined();
      await state.storage.put('chaos:alarm_throws', 2);
      await expect(alarmFault(state, { ENVIRONMENT: 'production' })).resolves.toBeUndefined();
    });
  });

  it('alarm_throws makes exactly the next k alarms throw', async () => {
    await inObject('chaos-alarm', async (state) => {
      const test = { ENVIRONMENT: 'test' };
      expect(await injectFault(state, test, { kind: 'alarm_throws', times: 2 })).toEqual({ alarmThrowsLeft: 2 });
      await expect(alarmFault(state, test)).rejects.toThrow(/injected alarm failure/);
      expect(await injectFault(state, test, { kind: 'inspect' })).toEqual({ alarmThrowsLeft: 1 });
      await expect(alarmFault(state, test)).rejects.toThrow(/injected alarm failure/);
      await expect(alarmFault(state, test)).resolves.toBeUndefined();
      expect(await injectFault(state, test, { kind: 'inspect' })).toEqual({ alarmThrowsLeft: 0 });
      await expect(injectFault(state, { ENVIRONMENT: 'test' }, { kind: 'alarm_throws', times: -1 })).rejects.toThrow(/times/);
    });
  });

  it('is reachable over RPC as FlowRun.injectFaultForTest (the chaos suite calls it from Node)', async () => {
    expect(await flowRun('chaos-rpc').injectFaultForTest({ kind: 'alarm_throws', times: 1 })).toEqual({ alarmThrowsLeft: 1 });
    expect(await inObject('chaos-rpc', (state) => state.storage.get('chaos:alarm_throws'))).toBe(1);
    await expect(flowRun('chaos-rpc').injectFaultForTest({ kind: 'inspect' })).resolves.toEqual({ alarmThrowsLeft: 1 });
  });
});
