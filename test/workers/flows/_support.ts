/** Helpers for flow tests: create a flow, start a run, wait for a status. */
import { call, json } from '../../support/workers/http';
import type { TestTenant } from '../../support/workers/tenants';

export async function createFlow(t: TestTenant, definition: unknown, name = 'flow'): Promise<string> {
  const res = await call('/v1/flows', { token: t.accessToken, body: { name, definition } });
  if (res.status !== 201) throw new Error(`create flow: ${res.status} ${await res.text()}`);
  return (await json(res)).id;
}

export async function startRun(t: TestTenant, flowId: string, input: unknown = {}): Promise<any> {
  const res = await call(`/v1/flows/${flowId}/runs`, { token: t.accessToken, body: { input } });
  if (res.status !== 201) throw new Error(`start run: ${res.status} ${await res.text()}`);
  return json(res);
}

export async function getRun(t: TestTenant, runId: string): Promise<any> {
  return json(await call(`/v1/runs/${runId}`, { token: t.accessToken }));
}

/** Polls until the run reaches one of `statuses` (bounded). */
export async function waitFor(
  t: TestTenant,
  runId: string,
  statuses: string[] = ['succeeded', 'failed', 'cancelled'],
  timeoutMs = 15_000,
): Promise<any> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const run = await getRun(t, runId);
    if (statuses.includes(run.status)) return run;
    if (Date.now() > until)
      throw new Error(`run ${runId} stuck in ${run.status}: ${JSON.stringify(run.nodes.map((n: any) => [n.id, n.status]))}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export function node(run: any, id: string): any {
  return run.nodes.find((n: any) => n.id === id);
}
