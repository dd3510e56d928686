/**
 * tool: invokes a registered tool (sandboxed tenant code in the tool runner).
 * Pins a version or follows the latest; the input is a JSONata expression;
 * output is validated against the tool's outputSchema by the tool service.
 */
import { z } from 'zod';
import { getDb } from '../../db/client';
import { invokeTool } from '../../tools/invoke';
import { defineNode, NodeError } from './types';

/** Tool failures that may succeed on another attempt (the node's retry policy decides). */
const RETRYABLE = new Set(['timeout', 'sandbox_error', 'memory_limit', 'exit_nonzero']);

export const toolNode = defineNode({
  type: 'tool',
  config: z.strictObject({
    toolId: z.string().min(1).max(64),
    version: z.union([z.number().int().min(1), z.literal('latest')]).default('latest'),
    input: z.string().max(10_000).optional().describe('JSONata expression for the tool input (default: the run input)'),
  }),
  async run(config, ctx) {
    const input = config.input ? await ctx.evaluate(config.input) : ctx.scope.input;
    let result: Awaited<ReturnType<typeof invokeTool>>;
    try {
      result = await invokeTool(
        { db: getDb(ctx.env.DB), config: ctx.config, env: ctx.env, source: 'flow' },
        ctx.tenantId,
        config.toolId,
        config.version,
        input,
      );
    } catch (err) {
      // e.g. the tool or its version does not exist in this tenant
      throw new NodeError('error', `tool '${ctx.nodeId}': ${err instanceof Error ? err.message : String(err)}`, false);
    }
    if (result.ok) return { status: 'succeeded', output: result.output };
    const kind = result.error.type === 'invalid_output' ? 'invalid_output' : result.error.type === 'timeout' ? 'timeout' : 'error';
    const retryable = result.retryable === true || RETRYABLE.has(result.error.type) || result.error.type === 'invalid_output';
    throw new NodeError(kind, `tool '${ctx.nodeId}' (${config.toolId}): ${result.error.type}: ${result.error.message}`, retryable, {
      toolError: result.error.type,
      invocationId: result.invocationId,
      stderr: result.stderr.slice(0, 2000),
      ...(result.retryAfterS ? { retryAfter: String(result.retryAfterS) } : {}),
    });
  },
});
