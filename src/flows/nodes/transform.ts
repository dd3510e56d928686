/** transform: computes its output from a JSONata expression over input, node outputs and vars. */
import { z } from 'zod';
import { defineNode } from './types';

export const transformNode = defineNode({
  type: 'transform',
  local: true,
  config: z.strictObject({ expression: z.string().min(1).max(10_000) }),
  async run(config, ctx) {
    return { status: 'succeeded', output: await ctx.evaluate(config.expression) };
  },
});
