/** Helpers for the feedback and evaluation suites: keys, finished runs to rate, ratings through the API. */
import { expect } from 'vitest';
import { driveAlarms, flowRun } from '../../support/workers/durable-objects';
import { call, expectJson } from '../../support/workers/http';
import type { TestTenant } from '../../support/workers/tenants';

export type Json = Record<string, any>;

export async function post(t: TestTenant | string, path: string, body: unknown = {}, status = 201): Promise<Json> {
  return expectJson(await call(path, { token: typeof t === 'string' ? t : t.accessToken, body }), status);
}

export async function get(t: TestTenant | string, path: string, status = 200): Promise<Json> {
  return expectJson(await call(path, { token: typeof t === 'string' ? t : t.accessToken }), status);
}

export async function createKey(t: TestTenant, body: Json): Promise<Json> {
  return post(t, '/v1/feedback-keys', body);
}

export async function createFlow(t: TestTenant, definition: unknown): Promise<string> {
  return (await post(t, '/v1/flows', { name: `fb-${crypto.randomUUID().slice(0, 8)}`, definition })).id;
}

/** Starts a run of `flowId` and drives its alarms until it is over; returns the run as GET /v1/runs/{id} shows it. */
export async function finishedRun(t: TestTenant, flowId: string, input: unknown = {}): Promise<Json> {
  const runId: string = (await post(t, `/v1/flows/${flowId}/runs`, { input })).id;
  return driveAlarms(
    flowRun(runId),
    async () => {
      const r = await get(t, `/v1/runs/${runId}`);
      return ['succeeded', 'failed', 'cancelled'].includes(r.status) ? r : undefined;
    },
    { what: `run ${runId} to finish`, timeoutMs: 30_000 },
  );
}

export const ECHO_FLOW = { nodes: [{ id: 'echo', type: 'transform', config: { expression: 'input' } }] };

/** A finished run of a one-node transform flow (a target to rate). */
export async function echoRun(t: TestTenant, input: unknown = { q: 'hello' }): Promise<Json> {
  const run = await finishedRun(t, await createFlow(t, ECHO_FLOW), input);
  expect(run.status).toBe('succeeded');
  return run;
}
