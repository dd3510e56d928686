/** approval: waits for POST /v1/runs/{id}/signal { node, payload }; optional timeout fails the node. */
import { z } from 'zod';
import { defineNode } from './types';

export const approvalNode = defineNode({
  type: 'approval',
  config: z.strictObject({
    message: z.string().max(2000).optional(),
    timeoutMs: z
      .number()
      .int()
      .min(1000)
      .max(30 * 24 * 3600_000)
      .optional(),
  }),
  async run(config) {
    return { status: 'waiting', forSignal: true, ...(config.timeoutMs ? { timeoutAt: Date.now() + config.timeoutMs } : {}) };
  },
});
