/**
 * condition: evaluates an expression and takes one branch. Edges leaving it
 * carry `when: <branch>`; the untaken branches' nodes are skipped.
 */
import { z } from 'zod';
import { defineNode, NodeError } from './types';

export const DEFAULT_BRANCHES = ['true', 'false'];

export const conditionNode = defineNode({
  type: 'condition',
  local: true,
  config: z.strictObject({
    expression: z.string().min(1).max(10_000),
    branches: z.array(z.string().min(1).max(64)).min(1).max(32).optional(),
  }),
  async run(config, ctx) {
    const value = await ctx.evaluate(config.expression);
    const branches = config.branches ?? DEFAULT_BRANCHES;
    const branch =
      typeof value === 'boolean'
        ? String(value)
        : typeof value === 'string' || typeof value === 'number'
          ? String(value)
          : value === null
            ? 'false'
            : 'true';
    if (!branches.includes(branch)) {
      throw new NodeError('expression', `condition '${ctx.nodeId}' produced '${branch}', not one of ${branches.join(', ')}`, false);
    }
    return { status: 'succeeded', output: { branch, value }, branch };
  },
});
