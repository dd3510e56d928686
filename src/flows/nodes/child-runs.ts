/**
 * subflow and map: nodes whose work is other runs. The engine starts child
 * runs (each in its own FlowRun object) and parks the node until they report
 * back, so these `run`s only evaluate what the children need.
 */
import { z } from 'zod';
import { defineNode, type ExecContext, NodeError } from './types';

export const MAX_MAP_ITEMS = 1000;

export const subflowNode = defineNode({
  type: 'subflow',
  startsChildRuns: true,
  config: z.strictObject({
    flowId: z.string().min(1).max(64),
    version: z.number().int().min(1).optional(),
    input: z.string().max(10_000).optional().describe('JSONata expression for the child run input (default: this run input)'),
  }),
  async run(config, ctx) {
    const input = config.input ? await ctx.evaluate(config.input) : ctx.scope.input;
    return { status: 'succeeded', output: { children: [{ input }] } };
  },
});

export const mapNode = defineNode({
  type: 'map',
  startsChildRuns: true,
  config: z.strictObject({
    items: z.string().min(1).max(10_000).describe('JSONata expression yielding an array'),
    flowId: z.string().min(1).max(64).describe('The flow run once per item (the sub-graph)'),
    version: z.number().int().min(1).optional(),
    input: z
      .string()
      .max(10_000)
      .optional()
      .describe('JSONata over { item, index, input, nodes, vars } for each child input (default: item)'),
    concurrency: z.number().int().min(1).max(100).default(10),
  }),
  async run(config, ctx) {
    const items = await ctx.evaluate(config.items);
    if (!Array.isArray(items)) throw new NodeError('expression', `map '${ctx.nodeId}': items did not evaluate to an array`, false);
    if (items.length > MAX_MAP_ITEMS)
      throw new NodeError('expression', `map '${ctx.nodeId}': ${items.length} items exceed the limit of ${MAX_MAP_ITEMS}`, false);
    const children = [];
    for (let index = 0; index < items.length; index++) {
      const item = items[index];
      children.push({ input: config.input ? await evaluateWithItem(ctx, config.input, item, index) : item });
    }
    return { status: 'succeeded', output: { children } };
  },
});

async function evaluateWithItem(ctx: ExecContext, expression: string, item: unknown, index: number): Promise<unknown> {
  const saved = { item: ctx.scope.item, index: ctx.scope.index };
  ctx.scope.item = item;
  ctx.scope.index = index;
  try {
    return await ctx.evaluate(expression);
  } finally {
    ctx.scope.item = saved.item;
    ctx.scope.index = saved.index;
  }
}
