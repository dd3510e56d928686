/**
 * Run events of the assistant's agent node → UI message stream chunks. The
 * contract (src/agents/contract.ts) fixes the events: `node.step`,
 * `node.delta`, `node.tool_call`, `node.tool_result`, `node.waiting` with the
 * parked tool calls, and the run's end. Answers to parked calls are logged by
 * the chat itself when the client sends them (they reach the run as signals). The mapper's state is
 * plain data, persisted with the chunks it produced (one transaction), so a
 * chat object that was evicted mid-turn continues exactly where it stopped.
 * Pure: no I/O (docs/assistant.md, "From run events to chunks").
 */
import type { NodeStepEvent, NodeToolCallEvent, NodeToolResultEvent } from '../agents/contract';
import type { RunEvent } from '../flows/run-model';
import type { UIChunk } from './ui-message';

export interface Usage {
  inputTokens: number;
  outputTokens: number;
  costUsd: number;
}

export interface MapperState {
  messageId: string;
  /** The model step whose parts are open (start-step sent), or null. */
  step: number | null;
  /** Parts were sent since the open step's start-step (a retry of that step must discard them). */
  stepHasParts: boolean;
  /** The open text part's id, or null. */
  text: string | null;
  /** Text parts started in this message (their ids are `<messageId>_t<n>`). */
  texts: number;
  /** Tool calls whose input was already sent (a replayed event is not sent twice). */
  tools: string[];
  usage: Usage;
  provider: string | null;
  model: string | null;
}

export type TurnEnd =
  | { kind: 'waiting'; toolCalls: Array<{ toolCallId: string; toolName: string; kind: 'approval' | 'client' }> }
  | { kind: 'completed' }
  | { kind: 'failed'; error: string }
  | { kind: 'cancelled'; reason: string };

export interface Mapped {
  chunks: UIChunk[];
  end: TurnEnd | null;
}

export function initialMapperState(messageId: string, usage: Usage = { inputTokens: 0, outputTokens: 0, costUsd: 0 }): MapperState {
  return { messageId, step: null, stepHasParts: false, text: null, texts: 0, tools: [], usage, provider: null, model: null };
}

/** The id a tool call's approval goes by in the UI stream (and back in the client's answer). */
export const approvalIdOf = (toolCallId: string) => `apr_${toolCallId}`;
export const toolCallIdOfApproval = (approvalId: string) => (approvalId.startsWith('apr_') ? approvalId.slice(4) : null);

function closeText(s: MapperState, out: UIChunk[]): void {
  if (s.text === null) return;
  out.push({ type: 'text-end', id: s.text });
  s.text = null;
}

/** Ends the open step (its text first). */
export function closeStep(s: MapperState, out: UIChunk[]): void {
  closeText(s, out);
  if (s.step === null) return;
  out.push({ type: 'finish-step' });
  s.step = null;
  s.stepHasParts = false;
}

function openStep(s: MapperState, step: number, out: UIChunk[]): void {
  if (s.step !== null) closeStep(s, out);
  out.push({ type: 'start-step' });
  s.step = step;
  s.stepHasParts = false;
}

/** The open step's parts are void (a failover or a retried attempt streams it again): drop them. */
function resetStep(s: MapperState, out: UIChunk[]): void {
  closeText(s, out);
  if (s.step !== null && s.stepHasParts) out.push({ type: 'reset-step' });
  s.stepHasParts = false;
}

function ensureStep(s: MapperState, out: UIChunk[]): void {
  if (s.step === null) openStep(s, -1, out);
}

function userFacing(s: MapperState, type: string, data: Record<string, unknown>): boolean {
  if (type === 'node.waiting') return true;
  if (type === 'node.tool_call') return data.requiresApproval === true || data.clientSide === true;
  if (type === 'node.tool_result') return typeof data.toolCallId === 'string' && s.tools.includes(data.toolCallId);
  return false;
}

const usageMeta = (s: MapperState) => ({ usage: { ...s.usage }, ...(s.provider ? { provider: s.provider, model: s.model } : {}) });

/** The chunks one run event becomes (mutates `s`), and whether the segment ends with it. */
/** The documents behind a knowledge tool's results (`{ results: [{ documentId, title, source, chunkId }] }`), once each. */
export function knowledgeSources(output: unknown): UIChunk[] {
  const results = (output as { results?: unknown } | null)?.results;
  if (!Array.isArray(results)) return [];
  const seen = new Set<string>();
  const out: UIChunk[] = [];
  for (const r of results as Array<Record<string, unknown>>) {
    if (
      !r ||
      typeof r.documentId !== 'string' ||
      typeof r.title !== 'string' ||
      typeof r.source !== 'string' ||
      typeof r.chunkId !== 'string'
    )
      continue;
    if (seen.has(r.documentId)) continue;
    seen.add(r.documentId);
    out.push({ type: 'source-document', sourceId: r.documentId, mediaType: 'text/plain', title: r.title, filename: r.source });
  }
  return out;
}

export function mapRunEvent(s: MapperState, e: RunEvent, nodeId: string): Mapped {
  const out: UIChunk[] = [];
  const data = (e.data ?? {}) as Record<string, unknown>;
  if (e.nodeId !== null && e.nodeId !== nodeId) return { chunks: out, end: null };
  // A delegated agent's own steps (`via`) belong to its caller's tool call: the chat shows that call, plus
  // the delegate's calls the user must answer (approvals, askUser) and their results.
  if (e.nodeId !== null && data.via !== undefined && !userFacing(s, e.type, data)) return { chunks: out, end: null };
  switch (e.type) {
    case 'node.started':
      // A later attempt (or a restart after eviction) replays persisted steps and streams the open one again.
      if (data.resumed === true || (typeof data.attempt === 'number' && data.attempt > 1)) resetStep(s, out);
      break;
    case 'node.retrying':
      resetStep(s, out);
      break;
    case 'node.step': {
      const st = data as unknown as NodeStepEvent;
      if (st.kind === 'model' && st.status === 'started') {
        if (s.step === st.step) resetStep(s, out);
        else openStep(s, st.step, out);
      } else if (st.kind === 'model' && st.status === 'finished') {
        closeText(s, out);
        if (st.usage) {
          s.usage = {
            inputTokens: s.usage.inputTokens + st.usage.inputTokens,
            outputTokens: s.usage.outputTokens + st.usage.outputTokens,
            costUsd: Math.round((s.usage.costUsd + st.usage.costUsd) * 1e9) / 1e9,
          };
          s.provider = st.usage.provider;
          s.model = st.usage.model;
          out.push({ type: 'message-metadata', messageMetadata: usageMeta(s) });
        }
      } else if (st.kind === 'tools' && st.status === 'finished') {
        closeStep(s, out);
      }
      break;
    }
    case 'node.delta': {
      if (data.reset === true) {
        resetStep(s, out);
        break;
      }
      if (typeof data.text !== 'string' || data.text === '') break;
      ensureStep(s, out);
      if (s.text === null) {
        s.texts += 1;
        s.text = `${s.messageId}_t${s.texts}`;
        out.push({ type: 'text-start', id: s.text });
      }
      out.push({ type: 'text-delta', id: s.text, delta: data.text });
      s.stepHasParts = true;
      break;
    }
    case 'node.tool_call': {
      const c = data as unknown as NodeToolCallEvent;
      if (s.tools.includes(c.toolCallId)) break;
      closeText(s, out);
      ensureStep(s, out);
      s.tools.push(c.toolCallId);
      out.push({ type: 'tool-input-start', toolCallId: c.toolCallId, toolName: c.toolName });
      out.push({ type: 'tool-input-available', toolCallId: c.toolCallId, toolName: c.toolName, input: c.input ?? {} });
      if (c.requiresApproval) out.push({ type: 'tool-approval-request', approvalId: approvalIdOf(c.toolCallId), toolCallId: c.toolCallId });
      s.stepHasParts = true;
      break;
    }
    case 'node.tool_result': {
      const r = data as unknown as NodeToolResultEvent;
      if (!s.tools.includes(r.toolCallId)) break;
      if (r.denied) out.push({ type: 'tool-output-denied', toolCallId: r.toolCallId });
      else if (r.error) out.push({ type: 'tool-output-error', toolCallId: r.toolCallId, errorText: r.error.message });
      else {
        out.push({ type: 'tool-output-available', toolCallId: r.toolCallId, output: r.output ?? null });
        // A knowledge tool's passages (src/agents/loop.ts): each document cited once, as a source-document part.
        for (const src of knowledgeSources(r.output)) out.push(src);
      }
      break;
    }
    case 'node.waiting': {
      const calls = data.toolCalls as Array<{ toolCallId: string; toolName: string; kind: 'approval' | 'client' }> | undefined;
      if (!Array.isArray(calls) || calls.length === 0) break;
      closeStep(s, out);
      out.push({ type: 'finish', finishReason: 'tool-calls', messageMetadata: { status: 'waiting' } });
      return { chunks: out, end: { kind: 'waiting', toolCalls: calls } };
    }
    case 'run.completed': {
      closeStep(s, out);
      out.push({ type: 'finish', finishReason: 'stop', messageMetadata: { ...usageMeta(s), status: 'completed' } });
      return { chunks: out, end: { kind: 'completed' } };
    }
    case 'run.failed': {
      closeStep(s, out);
      const error = typeof data.error === 'string' && data.error ? data.error : 'The assistant failed.';
      out.push({ type: 'error', errorText: error });
      out.push({ type: 'finish', finishReason: 'error', messageMetadata: { ...usageMeta(s), status: 'failed' } });
      return { chunks: out, end: { kind: 'failed', error } };
    }
    case 'run.cancelled': {
      closeStep(s, out);
      const reason = typeof data.error === 'string' && data.error ? data.error : 'cancelled';
      out.push({ type: 'message-metadata', messageMetadata: { ...usageMeta(s), status: 'stopped' } });
      out.push({ type: 'abort', reason });
      return { chunks: out, end: { kind: 'cancelled', reason } };
    }
  }
  return { chunks: out, end: null };
}
