/** The one way to address the Durable Objects: a tenant's hub by tenant id, a run by run id. */
import type { FlowRun } from '../../durable-objects/flow-run/flow-run';
import type { TenantHub } from '../../durable-objects/tenant-hub/tenant-hub';

export function tenantHubStub(env: Pick<Env, 'TENANT_HUB'>, tenantId: string): DurableObjectStub<TenantHub> {
  return env.TENANT_HUB.get(env.TENANT_HUB.idFromName(tenantId));
}

export function flowRunStub(env: Pick<Env, 'FLOW_RUN'>, runId: string): DurableObjectStub<FlowRun> {
  return env.FLOW_RUN.get(env.FLOW_RUN.idFromName(runId));
}
