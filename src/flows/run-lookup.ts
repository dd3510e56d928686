/**
 * The tenant check of the verbs that change a run (cancel, signal, resume, rerun) and of the features that
 * name one (feedback targets, dataset examples): its D1 index row, or,
 * in the moment before the tenant's hub has written that row (durable-objects/tenant-hub/run-index.ts),
 * the run's own object, if it belongs to the tenant. Another tenant's run is not found either way. Reads
 * that go to the run's object anyway check the tenant its state names instead (getRun, streamRun in
 * ./runs-api.ts).
 */
import { eq } from 'drizzle-orm';
import type { Db } from '../db/client';
import { runs } from '../db/schema';
import { TenantScope } from '../db/tenant-scope';
import { flowRunStub } from '../lib/stubs';
import type { RunView } from './run-model';

export type RunRow = typeof runs.$inferSelect;

/**
 * The run's state from its own object, whoever's run it is (callers compare `tenantId`): null when the
 * object holds nothing (never a run, or past its retention) or `id` is not a run id (no object is made).
 */
export async function runState(env: Env, id: string): Promise<RunView | null> {
  if (!id.startsWith('run_')) return null;
  // RPC types cannot express `unknown` JSON fields; the shape is RunView.
  return (await flowRunStub(env, id).getState()) as unknown as RunView | null;
}

export async function findRun(env: Env, db: Db, tenantId: string, id: string): Promise<RunRow | null> {
  const r = (await new TenantScope(db, tenantId).select(runs, eq(runs.id, id)).get()) as RunRow | undefined;
  if (r) return r;
  const fresh = await runState(env, id);
  if (!fresh || fresh.tenantId !== tenantId) return null;
  return {
    id: fresh.id,
    tenantId: fresh.tenantId,
    flowId: fresh.flowId,
    flowVersion: fresh.flowVersion,
    status: fresh.status,
    parentRunId: fresh.parent?.runId ?? null,
    rerunOf: null,
    createdBy: '',
    createdAt: fresh.createdAt,
    startedAt: fresh.startedAt,
    finishedAt: fresh.finishedAt,
    durationMs: fresh.durationMs,
    inputTokens: fresh.usage.inputTokens,
    outputTokens: fresh.usage.outputTokens,
    costUsd: fresh.usage.costUsd,
    error: fresh.error,
    updatedAt: fresh.createdAt,
  };
}
