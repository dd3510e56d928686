/**
 * agent: a tool-calling agent (docs/agents.md). Runs a saved agent (`agentId`, at a pinned or the
 * latest version) or an inline definition (`agent`) on the conversation `messages` (a JSONata
 * expression yielding AgentMessage[]) plus the rendered `prompt`. Every model call and tool call is
 * a durable step with its own events; calls that need an approval or an answer from the client park
 * the node until `POST /v1/runs/{id}/signal` answers them. Output:
 * `{ text, json?, messages (the ones this node added), steps, usage, provider, model, agentId? }`
 * (the final answer's provider and model, and the saved agent's id: feedback on the output reads them).
 */
import { z } from 'zod';
import {
  type AgentMessage,
  AgentMessageSchema,
  type AgentNodeConfig,
  AgentNodeConfigSchema,
  type AgentSpec,
  AgentSpecSchema,
} from '../../agents/contract';
import { DEFAULT_MODEL_TIMEOUT_MS } from '../../agents/drivers';
import { AgentLoop, buildFrame } from '../../agents/loop';
import { loadAgentSpec } from '../../agents/toolbox';
import { getDb } from '../../db/client';
import { defineNode, type ExecContext, NodeError } from './types';

export const agentNode = defineNode<AgentNodeConfig>({
  type: 'agent',
  config: AgentNodeConfigSchema,
  async run(config, ctx) {
    const label = `agent '${ctx.nodeId}'`;
    const spec = config.agent ?? (await savedSpec(config.agentId!, config.version, ctx, label));
    const [history, prompt] = await Promise.all([
      conversation(config.messages, ctx, label),
      config.prompt === undefined ? undefined : ctx.render(config.prompt),
    ]);
    const modelTimeoutMs = config.timeoutMs ?? DEFAULT_MODEL_TIMEOUT_MS;
    const frame = await buildFrame(ctx, spec, label, modelTimeoutMs, { prefix: '', depth: 0 });
    const added: AgentMessage[] = prompt === undefined ? [] : [{ role: 'user', content: prompt }];
    const result = await new AgentLoop({ ctx, label, modelTimeoutMs }).run(frame, history, added);
    if (result.status === 'waiting')
      return {
        status: 'waiting',
        ...(result.toolCalls.length ? { forSignal: true, toolCalls: result.toolCalls } : {}),
        ...(result.runs.length ? { runs: result.runs } : {}),
      };
    const { status: _status, ...output } = result;
    return { status: 'succeeded', output: { ...output, ...(config.agentId !== undefined ? { agentId: config.agentId } : {}) } };
  },
});

/** The saved agent, pinned on first use (a re-run after a signal or eviction runs the same version). */
async function savedSpec(agentId: string, version: number | undefined, ctx: ExecContext, label: string): Promise<AgentSpec> {
  const spec = await ctx.steps.run<AgentSpec | null>(
    'spec',
    async () => (await loadAgentSpec(getDb(ctx.env.DB), ctx.tenantId, agentId, version))?.spec ?? null,
  );
  if (!spec) throw new NodeError('error', `${label}: agent ${agentId}${version ? ` version ${version}` : ''} not found`, false);
  return AgentSpecSchema.parse(spec);
}

async function conversation(expression: string | undefined, ctx: ExecContext, label: string): Promise<AgentMessage[]> {
  if (expression === undefined) return [];
  const value = await ctx.evaluate(expression);
  if (value === undefined || value === null) return [];
  const parsed = z.array(AgentMessageSchema).max(1000).safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new NodeError(
      'expression',
      `${label}: messages is not a list of AgentMessage: [${issue.path.join('.')}] ${issue.message}`,
      false,
    );
  }
  return parsed.data;
}
