/**
 * Large map fan-outs go through the EVENTS queue: the parent run reserves its
 * child run ids in its own storage and enqueues one start job per child; the
 * consumer starts each (idempotent per run id) and the child reports back to
 * the parent when it ends, like any child run.
 */
import { flowRunStub } from '../lib/stubs';
import type { ChildStartJob } from '../queue/messages';
import { loadVersion, startRun } from './runs-service';

/** Map nodes with more items than this start their children through the queue. */
export const QUEUE_FANOUT_THRESHOLD = 25;

export async function startChildFromQueue(env: Env, job: ChildStartJob): Promise<void> {
  const parent = { runId: job.parentRunId, nodeId: job.nodeId, index: job.index };
  const version = await loadVersion(env, job.tenantId, job.flowId, job.version);
  if (!version) {
    await flowRunStub(env, job.parentRunId).childFinished(job.nodeId, job.index, 'failed', null, `flow ${job.flowId} not found`);
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
    await flowRunStub(env, job.parentRunId).childFinished(
      job.nodeId,
      job.index,
      'failed',
      null,
      started.errors.map((e) => `${e.path}: ${e.message}`).join('; '),
    );
  }
}
