/** A long change history in a hub (durable-objects/tenant-hub/history-seed.ts), and a forced retention pass. */
import { runInDurableObject } from 'cloudflare:test';
import { type HistorySeed, seedHistory as seed } from '../../../durable-objects/tenant-hub/history-seed';
import type { TenantHub } from '../../../durable-objects/tenant-hub/tenant-hub';
import { hub } from '../../support/workers/durable-objects';

/** Seeds the history into the tenant's hub, bound to the tenant first (so its alarm serves it). */
export async function seedHistory(tenantId: string, opts: HistorySeed): Promise<void> {
  await runInDurableObject(hub(tenantId), (instance: TenantHub) => instance.listTasks(tenantId, { limit: 1 }));
  await runInDurableObject(hub(tenantId), (_i, state) => seed(state.storage, opts));
}

/** Runs the hub's alarm with retention due now (the pass re-arms the alarm while it has a backlog). */
export async function startRetentionPass(tenantId: string): Promise<void> {
  await runInDurableObject(hub(tenantId), async (instance: TenantHub, state) => {
    state.storage.sql.exec(`DELETE FROM hub_meta WHERE key = 'retention_at'`);
    await instance.alarm();
  });
}
