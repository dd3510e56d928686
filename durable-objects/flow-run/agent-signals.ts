/**
 * Signals to a parked agent node: `{ toolCallId, approved, reason? }` answers an approval,
 * `{ toolCallId, output }` a client-side tool (askUser). Pure: checks the payload against what the
 * node waits for and returns the answer to store (src/agents/contract.ts AgentSignal).
 */
import { AgentSignalSchema } from '../../src/agents/contract';
import { fail, type Result } from '../../src/lib/result';
import type { NodeWait } from './next-step';

/** What the loop reads back as the step `answer:<toolCallId>`. */
export type AgentAnswer = { kind: 'approval'; approved: boolean; reason?: string } | { kind: 'client'; output: unknown };

export function agentSignal(
  wait: NodeWait,
  payload: unknown,
  nodeId: string,
  answered: (toolCallId: string) => boolean,
): Result<{ toolCallId: string; answer: AgentAnswer }> {
  const parsed = AgentSignalSchema.safeParse(payload);
  if (!parsed.success)
    return fail('validation_failed', `Agent node '${nodeId}' takes { toolCallId, approved, reason? } or { toolCallId, output }.`, [
      { path: 'payload', message: 'Expected { toolCallId, approved, reason? } or { toolCallId, output }', code: 'invalid_signal' },
    ]);
  const p = parsed.data;
  const call = wait.toolCalls?.find((c) => c.toolCallId === p.toolCallId);
  if (!call) {
    const open = (wait.toolCalls ?? []).filter((c) => !answered(c.toolCallId)).map((c) => c.toolCallId);
    return fail(
      'conflict',
      `Agent node '${nodeId}' is not waiting for tool call '${p.toolCallId}' (waiting for: ${open.join(', ') || 'nothing'}).`,
    );
  }
  if (answered(call.toolCallId)) return fail('conflict', `Tool call '${call.toolCallId}' was already answered.`);
  if (call.kind === 'approval') {
    if (!('approved' in p))
      return fail(
        'validation_failed',
        `Tool call '${call.toolCallId}' (${call.toolName}) needs an approval: { toolCallId, approved, reason? }.`,
        [{ path: 'payload.approved', message: 'Required for an approval', code: 'invalid_signal' }],
      );
    return {
      ok: true,
      value: { toolCallId: call.toolCallId, answer: { kind: 'approval', approved: p.approved, ...(p.reason ? { reason: p.reason } : {}) } },
    };
  }
  if (!('output' in p))
    return fail(
      'validation_failed',
      `Tool call '${call.toolCallId}' (${call.toolName}) runs on the client: answer { toolCallId, output }.`,
      [{ path: 'payload.output', message: 'Required for a client-side tool', code: 'invalid_signal' }],
    );
  return { ok: true, value: { toolCallId: call.toolCallId, answer: { kind: 'client', output: p.output } } };
}
