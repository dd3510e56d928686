/**
 * The Vercel AI SDK's UI message stream, as far as the assistant speaks it:
 * the chunks (`x-vercel-ai-ui-message-stream: v1`, the `uiMessageChunkSchema`
 * of `ai@6` and `ai@7`), the UIMessage they build, and the reducer that builds
 * it the way the SDK's `processUIMessageStream` does, so the message the
 * server stores is the message a client's `useChat` shows. Pure: no I/O.
 * Checked against the real package in test/workers/chat/ui-message.test.ts.
 */

/** Chunks every client validates (ai@6 and ai@7). */
export type BaseChunk =
  | { type: 'start'; messageId?: string; messageMetadata?: unknown }
  | { type: 'start-step' }
  | { type: 'finish-step' }
  | { type: 'text-start'; id: string }
  | { type: 'text-delta'; id: string; delta: string }
  | { type: 'text-end'; id: string }
  | { type: 'tool-input-start'; toolCallId: string; toolName: string }
  | { type: 'tool-input-available'; toolCallId: string; toolName: string; input: unknown }
  | { type: 'tool-approval-request'; approvalId: string; toolCallId: string }
  | { type: 'tool-output-available'; toolCallId: string; output: unknown }
  | { type: 'tool-output-error'; toolCallId: string; errorText: string }
  | { type: 'tool-output-denied'; toolCallId: string }
  | { type: 'source-document'; sourceId: string; mediaType: string; title: string; filename?: string }
  | { type: 'message-metadata'; messageMetadata: unknown }
  | { type: 'finish'; finishReason?: 'stop' | 'length' | 'content-filter' | 'tool-calls' | 'error' | 'other'; messageMetadata?: unknown }
  | { type: 'error'; errorText: string }
  | { type: 'abort'; reason?: string }
  | { type: `data-${string}`; id?: string; data: unknown; transient?: boolean };

/**
 * Chunks only ai@7 validates (ai@6 rejects the whole stream on them): sent to clients that send
 * `X-UI-Stream-Version: 7`, translated or left out for everyone else (`forClient`).
 */
export type V7Chunk = { type: 'reset-step' } | { type: 'tool-approval-response'; approvalId: string; approved: boolean; reason?: string };

export type UIChunk = BaseChunk | V7Chunk;

export type ToolState =
  | 'input-streaming'
  | 'input-available'
  | 'approval-requested'
  | 'approval-responded'
  | 'output-available'
  | 'output-error'
  | 'output-denied';

export interface ToolPart {
  type: `tool-${string}`;
  toolCallId: string;
  state: ToolState;
  input?: unknown;
  output?: unknown;
  errorText?: string;
  approval?: { id: string; approved?: boolean; reason?: string };
}

export type UIPart =
  | { type: 'step-start' }
  | { type: 'text'; text: string; state?: 'streaming' | 'done' }
  | ToolPart
  | { type: 'source-document'; sourceId: string; mediaType: string; title: string; filename?: string }
  | { type: `data-${string}`; id?: string; data: unknown };

export interface UIMessage {
  id: string;
  role: 'system' | 'user' | 'assistant';
  metadata?: Record<string, unknown>;
  parts: UIPart[];
}

export const isToolPart = (p: UIPart): p is ToolPart => p.type.startsWith('tool-');
export const toolNameOf = (p: ToolPart): string => p.type.slice('tool-'.length);

/** Builds one assistant message from chunks, like the SDK's reducer (tool parts are static `tool-<name>` parts). */
export class MessageBuilder {
  readonly message: UIMessage;
  #text = new Map<string, Extract<UIPart, { type: 'text' }>>();

  constructor(message: UIMessage) {
    this.message = message;
  }

  #tool(toolCallId: string): ToolPart | undefined {
    return this.message.parts.find((p): p is ToolPart => isToolPart(p) && p.toolCallId === toolCallId);
  }

  #metadata(m: unknown): void {
    if (m === undefined || m === null || typeof m !== 'object') return;
    this.message.metadata = { ...(this.message.metadata ?? {}), ...(m as Record<string, unknown>) };
  }

  apply(c: UIChunk): void {
    const parts = this.message.parts;
    switch (c.type) {
      case 'start':
        if (c.messageId) this.message.id = c.messageId;
        this.#metadata(c.messageMetadata);
        return;
      case 'start-step':
        parts.push({ type: 'step-start' });
        return;
      case 'finish-step':
        this.#text.clear();
        return;
      case 'reset-step': {
        const from = parts.map((p) => p.type).lastIndexOf('step-start') + 1;
        parts.splice(from);
        this.#text.clear();
        return;
      }
      case 'text-start': {
        const part = { type: 'text' as const, text: '', state: 'streaming' as const };
        this.#text.set(c.id, part);
        parts.push(part);
        return;
      }
      case 'text-delta': {
        const part = this.#text.get(c.id);
        if (part) part.text += c.delta;
        return;
      }
      case 'text-end': {
        const part = this.#text.get(c.id);
        if (part) part.state = 'done';
        this.#text.delete(c.id);
        return;
      }
      case 'tool-input-start':
        if (!this.#tool(c.toolCallId)) parts.push({ type: `tool-${c.toolName}`, toolCallId: c.toolCallId, state: 'input-streaming' });
        return;
      case 'tool-input-available': {
        const part = this.#tool(c.toolCallId);
        if (part) Object.assign(part, { state: 'input-available', input: c.input });
        else parts.push({ type: `tool-${c.toolName}`, toolCallId: c.toolCallId, state: 'input-available', input: c.input });
        return;
      }
      case 'tool-approval-request': {
        const part = this.#tool(c.toolCallId);
        if (part) Object.assign(part, { state: 'approval-requested', approval: { id: c.approvalId } });
        return;
      }
      case 'tool-approval-response': {
        const part = this.message.parts.find((p): p is ToolPart => isToolPart(p) && p.approval?.id === c.approvalId);
        if (part)
          Object.assign(part, {
            state: 'approval-responded',
            approval: { id: c.approvalId, approved: c.approved, ...(c.reason !== undefined ? { reason: c.reason } : {}) },
          });
        return;
      }
      case 'tool-output-available': {
        const part = this.#tool(c.toolCallId);
        if (part) {
          part.state = 'output-available';
          part.output = c.output;
          delete part.errorText;
        }
        return;
      }
      case 'tool-output-error': {
        const part = this.#tool(c.toolCallId);
        if (part) {
          part.state = 'output-error';
          part.errorText = c.errorText;
          delete part.output;
        }
        return;
      }
      case 'tool-output-denied': {
        const part = this.#tool(c.toolCallId);
        if (part) part.state = 'output-denied';
        return;
      }
      case 'source-document':
        parts.push({
          type: 'source-document',
          sourceId: c.sourceId,
          mediaType: c.mediaType,
          title: c.title,
          ...(c.filename !== undefined ? { filename: c.filename } : {}),
        });
        return;
      case 'message-metadata':
      case 'finish':
        this.#metadata(c.messageMetadata);
        return;
      case 'error':
      case 'abort':
        return;
      default: {
        // data-* parts: transient ones are not part of the message; an id updates in place.
        const d = c as Extract<BaseChunk, { data: unknown }>;
        if (d.transient) return;
        const existing = d.id === undefined ? undefined : parts.find((p) => p.type === d.type && 'id' in p && p.id === d.id);
        if (existing && 'data' in existing) existing.data = d.data;
        else parts.push({ type: d.type, ...(d.id !== undefined ? { id: d.id } : {}), data: d.data });
      }
    }
  }
}

/** Which protocol a client validates: 6 (the default, what ai@6 and ai@7 both accept) or 7 (opted in). */
export type StreamVersion = 6 | 7;

/**
 * A logged chunk as one client version may see it. `reset-step` becomes a transient
 * `data-reset-step` (v6 clients keep the discarded text; onData tells them), and an approval
 * response, which a v6 client already applied itself, is left out.
 */
export function forClient(c: UIChunk, v: StreamVersion): UIChunk | null {
  if (v === 7) return c;
  if (c.type === 'reset-step') return { type: 'data-reset-step', data: { reason: 'discard the step so far' }, transient: true };
  if (c.type === 'tool-approval-response') return null;
  return c;
}

/** One SSE frame of the stream (`id` is the chunk's position in the message's log, for Last-Event-ID). */
export function sseChunk(seq: number, c: UIChunk): string {
  return `id: ${seq}\ndata: ${JSON.stringify(c)}\n\n`;
}

export const SSE_DONE = 'data: [DONE]\n\n';

export const UI_STREAM_HEADERS = {
  'content-type': 'text/event-stream',
  'cache-control': 'no-cache',
  connection: 'keep-alive',
  'x-vercel-ai-ui-message-stream': 'v1',
  'x-accel-buffering': 'no',
} as const;
