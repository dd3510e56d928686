/**
 * The chat's stored UIMessages as the conversation an agent consumes, and what
 * a client's message may contribute. The server never trusts the history a
 * client sends: from a request it takes only a new user message's text, or
 * the answers to the tool calls its own turn is waiting on. Pure.
 */
import type { AgentMessage, AgentSignal } from '../agents/contract';
import type { Result } from '../lib/result';
import { fail, ok } from '../lib/result';
import type { ClientMessage } from './model';
import { approvalIdOf, toolCallIdOfApproval } from './run-chunks';
import { isToolPart, type ToolPart, toolNameOf, type UIChunk, type UIMessage, type UIPart } from './ui-message';

/** What an unanswered call is given as its result when the conversation moved on without an answer. */
export const UNANSWERED = 'No answer: the user moved on.';

export const MAX_USER_TEXT = 20_000;

/** A call's result as the agent loop writes tool messages: `{ output }`, `{ error }` or `{ denied }`. */
function toolResult(p: ToolPart): string | null {
  const denied = (reason?: string) => JSON.stringify({ denied: { reason: reason ?? 'denied by the user' } });
  switch (p.state) {
    case 'output-available':
      return JSON.stringify({ output: p.output ?? null });
    case 'output-error':
      return JSON.stringify({ error: { kind: 'error', message: p.errorText ?? 'error' } });
    case 'output-denied':
      return denied(p.approval?.reason);
    case 'approval-responded':
      return p.approval?.approved === false ? denied(p.approval.reason) : null;
    default:
      return null;
  }
}

/** One assistant UIMessage → assistant/tool messages, step by step (every call answered, as providers require). */
function assistantMessages(m: UIMessage): AgentMessage[] {
  const out: AgentMessage[] = [];
  let text = '';
  let calls: ToolPart[] = [];
  const flush = () => {
    if (text === '' && calls.length === 0) return;
    out.push({
      role: 'assistant',
      content: text,
      ...(calls.length ? { toolCalls: calls.map((c) => ({ id: c.toolCallId, name: toolNameOf(c), input: c.input ?? {} })) } : {}),
    });
    for (const c of calls)
      out.push({ role: 'tool', toolCallId: c.toolCallId, content: toolResult(c) ?? JSON.stringify({ error: UNANSWERED }) });
    text = '';
    calls = [];
  };
  for (const p of m.parts) {
    if (p.type === 'step-start') flush();
    else if (p.type === 'text') {
      // Text after a tool call belongs to the model's next answer.
      if (calls.length) flush();
      text += p.text;
    } else if (isToolPart(p) && p.state !== 'input-streaming') calls.push(p);
  }
  flush();
  return out;
}

export function textOf(m: { parts: ReadonlyArray<UIPart | Record<string, unknown>> }): string {
  return m.parts
    .filter((p): p is { type: 'text'; text: string } => p.type === 'text' && typeof (p as { text?: unknown }).text === 'string')
    .map((p) => p.text)
    .join('');
}

/** The stored conversation as the agent's messages (system messages are the agent's own, never the chat's). */
export function toAgentMessages(messages: UIMessage[]): AgentMessage[] {
  return messages.flatMap((m): AgentMessage[] => {
    if (m.role === 'user') return [{ role: 'user', content: textOf(m) }];
    if (m.role === 'assistant') return assistantMessages(m);
    return [];
  });
}

/** A new user message from the client: its text only (ids and metadata are the server's). */
export function userMessageFrom(m: ClientMessage, id: string, createdAt: string): Result<UIMessage> {
  if (m.role !== 'user') return fail('validation_failed', 'The last message must be a user message (or answers to the assistant).');
  const bad = m.parts.findIndex((p) => p.type !== 'text' && p.type !== 'step-start');
  if (bad >= 0)
    return fail('validation_failed', 'Only text parts are accepted in a user message.', [
      { path: `message.parts.${bad}.type`, message: 'Only text parts are accepted', code: 'invalid' },
    ]);
  const text = textOf(m);
  if (text.trim() === '')
    return fail('validation_failed', 'The message has no text.', [{ path: 'message.parts', message: 'No text', code: 'too_small' }]);
  if (text.length > MAX_USER_TEXT)
    return fail('validation_failed', `The message is longer than ${MAX_USER_TEXT} characters.`, [
      { path: 'message.parts', message: 'Too long', code: 'too_big' },
    ]);
  return ok({ id, role: 'user', metadata: { createdAt }, parts: [{ type: 'text', text }] });
}

export interface PendingCall {
  toolCallId: string;
  toolName: string;
  kind: 'approval' | 'client';
}

export interface Answer {
  call: PendingCall;
  signal: AgentSignal;
}

/**
 * The answers a client's copy of the waiting assistant message carries for the calls the turn waits
 * on: an approval part the client marked `approval-responded` (with our approval id), or a
 * client-side tool's `output-available` / `output-error`. Everything else in it is ignored.
 */
export function answersFrom(client: ClientMessage, pending: PendingCall[]): Answer[] {
  const out: Answer[] = [];
  for (const call of pending) {
    const part = client.parts.find((p) => typeof p.type === 'string' && p.type.startsWith('tool-') && p.toolCallId === call.toolCallId) as
      | (Partial<ToolPart> & { approval?: { id?: unknown; approved?: unknown; reason?: unknown } })
      | undefined;
    if (!part) continue;
    if (call.kind === 'approval') {
      const a = part.approval;
      const answered = part.state === 'approval-responded' || part.state === 'output-denied';
      if (!answered || !a || a.id !== approvalIdOf(call.toolCallId) || toolCallIdOfApproval(String(a.id)) !== call.toolCallId) continue;
      const approved = part.state === 'output-denied' ? false : a.approved === true;
      const reason = typeof a.reason === 'string' ? a.reason.slice(0, 2000) : undefined;
      out.push({ call, signal: { toolCallId: call.toolCallId, approved, ...(reason !== undefined ? { reason } : {}) } });
    } else if (part.state === 'output-available') {
      out.push({ call, signal: { toolCallId: call.toolCallId, output: part.output ?? null } });
    } else if (part.state === 'output-error') {
      out.push({
        call,
        signal: { toolCallId: call.toolCallId, output: { error: typeof part.errorText === 'string' ? part.errorText : 'error' } },
      });
    }
  }
  return out;
}

/** The stored message with the answers applied (what the client shows too). */
export function applyAnswers(m: UIMessage, answers: Answer[]): UIMessage {
  const byId = new Map(answers.map((a) => [a.call.toolCallId, a.signal]));
  return {
    ...m,
    parts: m.parts.map((p) => {
      if (!isToolPart(p)) return p;
      const s = byId.get(p.toolCallId);
      if (!s) return p;
      if ('approved' in s)
        return {
          ...p,
          state: 'approval-responded',
          approval: { id: approvalIdOf(p.toolCallId), approved: s.approved, ...(s.reason !== undefined ? { reason: s.reason } : {}) },
        };
      return { ...p, state: 'output-available', output: s.output };
    }),
  };
}

/** Calls left unanswered when the conversation moved on (a new message, a stop): denied, or an error result. */
export function settleUnanswered(m: UIMessage, pending: PendingCall[]): UIMessage {
  const open = new Map(pending.map((c) => [c.toolCallId, c]));
  return {
    ...m,
    parts: m.parts.map((p) => {
      if (!isToolPart(p) || !open.has(p.toolCallId)) return p;
      if (p.state === 'output-available' || p.state === 'output-error' || p.state === 'output-denied') return p;
      if (p.state === 'approval-responded') return p;
      return open.get(p.toolCallId)!.kind === 'approval'
        ? { ...p, state: 'output-denied', approval: { id: approvalIdOf(p.toolCallId), approved: false, reason: UNANSWERED } }
        : { ...p, state: 'output-error', errorText: UNANSWERED };
    }),
  };
}

/** The chunk an answer adds to the message (an approval response reaches ai@7 clients only). */
export function answerChunk(a: Answer): UIChunk {
  const s = a.signal;
  if ('approved' in s)
    return {
      type: 'tool-approval-response',
      approvalId: approvalIdOf(s.toolCallId),
      approved: s.approved,
      ...(s.reason !== undefined ? { reason: s.reason } : {}),
    };
  return { type: 'tool-output-available', toolCallId: s.toolCallId, output: s.output };
}
