/**
 * What an experiment can run its examples on. Today a flow version: each example is a child run of
 * it. Agents join here when they land (issue 14): an `{ agentId, version }` target resolves to
 * something the `experiment_examples` node can start per example (the agent's run), with its own
 * `ExperimentTarget` kind; nothing else in the experiment changes.
 */
import { loadVersion } from '../flows/runs-service';
import type { ServiceCtx } from '../lib/context';
import { AppError } from '../lib/problem';
import type { ExperimentTarget } from './model';

export async function resolveExperimentTarget(
  ctx: ServiceCtx,
  target: { flowId: string; version?: number | undefined },
): Promise<ExperimentTarget> {
  const v = await loadVersion(ctx.env, ctx.tenantId, target.flowId, target.version);
  if (!v) throw new AppError('not_found', `Flow ${target.flowId}${target.version ? ` version ${target.version}` : ''} not found.`);
  return { kind: 'flow', flowId: v.flowId, version: v.version };
}
