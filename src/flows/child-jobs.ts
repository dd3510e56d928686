/**
 * Large map fan-outs go through the EVENTS queue: the parent run reserves its
 * child run ids in its own storage and enqueues one start job per child; the
 * consumer starts each (idempotent per run id) and the child reports back to
 * the parent when it ends, like any child run. A job whose parent no longer
 * waits for that child (it was cancelled meanwhile) starts nothing.
 */

import { childTargetName, loadChildVersion } from '../evals/targets';
import { flowRunStub, tenantHubStub } from '../lib/stubs';
import type { ChildStartJob } from '../queue/messages';
import { startRun } from './runs-service';

/** Map nodes with more items than this start their children through the queue. */
export const QUEUE_FANOUT_THRESHOLD = 25;

export async function startChildFromQueue(env: Env, job: ChildStartJob): Promise<void> {
  const parent = { runId: job.parentRunId, nodeId: job.nodeId, index: job.index, depth: job.depth ?? 1 };
  const parentRun = flowRunStub(env, job.parentRunId);
  const release = () => tenantHubStub(env, job.tenantId).releaseChildRuns(job.tenantId, [job.runId]);
  // A parent that ended (cancelled, failed) before this job ran wants no child: nothing starts, its place goes back.
  if (!(await parentRun.wantsChild(job.nodeId, job.index, job.runId))) return release();
  const version = await loadChildVersion(env, job.tenantId, job);
  // A child that will not exist gives back the place its parent took for it in the tenant's child-run budget.
  if (!version) {
    await release();
    await parentRun.childFinished(job.nodeId, job.index, 'failed', null, `${childTargetName(job)} not found`);
    return;
  }
  const started = await startRun(env, {
    tenantId: job.tenantId,
    createdBy: `run:${job.parentRunId}`,
    version,
    input: job.input,
    parent,
    runId: job.runId,
    ...(job.initiator ? { initiator: job.initiator } : {}),
  });
  if ('code' in started) {
    await release();
    await parentRun.childFinished(job.nodeId, job.index, 'failed', null, started.errors.map((e) => `${e.path}: ${e.message}`).join('; '));
    return;
  }
  // The parent ended while this child was being created (its cancellation may have missed it): end the child too.
  if (!(await parentRun.wantsChild(job.nodeId, job.index, job.runId))) await flowRunStub(env, job.runId).cancel('parent run ended');
}
