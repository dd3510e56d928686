/** delay: a durable sleep. The engine parks the node and wakes it by alarm, so eviction does not matter. */
import { z } from 'zod';
import { defineNode, NodeError } from './types';

const MAX_DELAY_MS = 365 * 24 * 3600_000;

export const delayNode = defineNode({
  type: 'delay',
  config: z
    .strictObject({ ms: z.number().int().min(0).max(MAX_DELAY_MS).optional(), until: z.string().min(1).max(1000).optional() })
    .refine((c) => (c.ms === undefined) !== (c.until === undefined), { message: 'Set exactly one of ms or until' }),
  async run(config, ctx) {
    if (config.ms !== undefined) return { status: 'waiting', until: Date.now() + config.ms };
    const at = await ctx.evaluate(config.until!);
    const t = typeof at === 'string' ? Date.parse(at) : typeof at === 'number' ? at : Number.NaN;
    if (!Number.isFinite(t)) throw new NodeError('expression', `delay '${ctx.nodeId}': until did not evaluate to an instant`, false);
    return { status: 'waiting', until: t };
  },
});
