/**
 * Client for any OpenAI-compatible chat-completions API: POST
 * {baseUrl}/chat/completions with `stream: true` and usage in the last chunk,
 * falling back to a plain JSON answer when the server does not stream. One
 * call is one attempt with its own deadline; failures are classified so the
 * failover loop knows whether another provider may help:
 *   429 → retryable (Retry-After kept) · 408, 5xx, network, timeout → retryable
 *   other 4xx, redirects → not retryable · caller's signal → cancelled.
 */
import { raceAbort, sseData } from './sse';
import {
  type ChatAnswer,
  type ChatMessage,
  type ChatOptions,
  type ChatRequest,
  type ChatToolCall,
  LlmCallError,
  type LlmClient,
  parseArguments,
  usageFrom,
} from './types';

export interface OpenAiClientOptions {
  /** e.g. `https://api.openai.com/v1` (no trailing slash). */
  baseUrl: string;
  apiKey: string | null;
}

/** The longest Retry-After we pass on; beyond it the hint is not useful for a node retry. */
const MAX_RETRY_AFTER_MS = 3_600_000;

export function openAiClient(provider: OpenAiClientOptions): LlmClient {
  return { chat: (request, options) => chatOnce(provider, request, options) };
}

async function chatOnce(provider: OpenAiClientOptions, request: ChatRequest, options: ChatOptions): Promise<ChatAnswer> {
  const url = `${provider.baseUrl}/chat/completions`;
  const host = new URL(url).host;
  const deadline = AbortSignal.timeout(options.timeoutMs);
  const signal = AbortSignal.any([options.signal, deadline]);
  const aborted = (): LlmCallError | undefined => {
    if (options.signal.aborted) return new LlmCallError('cancelled', `${host}: cancelled`, false);
    if (deadline.aborted) return new LlmCallError('timeout', `${host}: no complete answer within ${options.timeoutMs} ms`, true);
    return undefined;
  };

  const headers: Record<string, string> = {
    'content-type': 'application/json',
    accept: 'text/event-stream, application/json',
    'idempotency-key': options.idempotencyKey,
    'x-request-id': options.idempotencyKey,
  };
  if (provider.apiKey) headers.authorization = `Bearer ${provider.apiKey}`;
  const tools = request.tools?.length ? request.tools : undefined;
  const body = {
    model: request.model,
    messages: request.messages.map(wireMessage),
    ...(tools
      ? {
          tools: tools.map((t) => ({
            type: 'function',
            function: { name: t.name, description: t.description, parameters: t.inputSchema },
          })),
        }
      : {}),
    stream: true,
    stream_options: { include_usage: true },
    ...(request.temperature !== undefined ? { temperature: request.temperature } : {}),
    ...(request.maxTokens !== undefined ? { max_tokens: request.maxTokens } : {}),
  };

  try {
    // redirect: 'manual' — never forward the provider key to wherever a redirect points.
    const res = await fetch(url, { method: 'POST', headers, body: JSON.stringify(body), signal, redirect: 'manual' });
    if (!res.ok) throw await httpError(res, host, signal);
    const type = res.headers.get('content-type') ?? '';
    if (type.includes('text/event-stream') && res.body) return await readStream(res.body, request, options, signal, host);
    return await readJson(res, request, options, signal, host);
  } catch (err) {
    throw (
      aborted() ??
      (err instanceof LlmCallError ? err : new LlmCallError('network', `${host}: ${(err as Error).message ?? String(err)}`, true))
    );
  }
}

/** Our message as the chat-completions API takes it (plain messages stay `{ role, content }`). */
function wireMessage(m: ChatMessage): Record<string, unknown> {
  if (m.role === 'tool') return { role: 'tool', tool_call_id: m.toolCallId ?? '', content: m.content };
  if (m.role === 'assistant' && m.toolCalls?.length)
    return {
      role: 'assistant',
      content: m.content === '' ? null : m.content,
      tool_calls: m.toolCalls.map((c) => ({
        id: c.id,
        type: 'function',
        function: { name: c.name, arguments: typeof c.input === 'string' ? c.input : JSON.stringify(c.input ?? {}) },
      })),
    };
  return { role: m.role, content: m.content };
}

/** A streamed `tool_calls` delta: fragments of one call, addressed by `index`. */
interface ToolCallDelta {
  index?: number;
  id?: string;
  function?: { name?: string; arguments?: string };
}

/** Assembles streamed tool-call fragments (OpenAI streams the arguments' JSON text in pieces). */
class ToolCallAssembler {
  #calls = new Map<number, { id: string; name: string; args: string }>();

  add(deltas: ToolCallDelta[]): void {
    for (const d of deltas) {
      const i = typeof d.index === 'number' ? d.index : this.#calls.size;
      const c = this.#calls.get(i) ?? { id: '', name: '', args: '' };
      if (typeof d.id === 'string' && d.id !== '') c.id = d.id;
      if (typeof d.function?.name === 'string') c.name += d.function.name;
      if (typeof d.function?.arguments === 'string') c.args += d.function.arguments;
      this.#calls.set(i, c);
    }
  }

  calls(): ChatToolCall[] {
    return [...this.#calls.entries()]
      .sort(([a], [b]) => a - b)
      .filter(([, c]) => c.name !== '')
      .map(([, c]) => ({ id: c.id, name: c.name, input: parseArguments(c.args) }));
  }
}

interface CompletionChunk {
  choices?: Array<{
    delta?: { content?: unknown; tool_calls?: ToolCallDelta[] };
    message?: { content?: unknown; tool_calls?: Array<{ id?: string; function?: { name?: string; arguments?: unknown } }> };
    finish_reason?: string | null;
  }>;
  usage?: { prompt_tokens?: number; completion_tokens?: number } | null;
  error?: { message?: string } | string;
}

async function readStream(
  body: ReadableStream<Uint8Array>,
  request: ChatRequest,
  options: ChatOptions,
  signal: AbortSignal,
  host: string,
): Promise<ChatAnswer> {
  let text = '';
  let finishReason: string | null = null;
  let reported: CompletionChunk['usage'] = null;
  let done = false;
  const calls = new ToolCallAssembler();
  for await (const data of sseData(body, signal)) {
    if (data.trim() === '[DONE]') {
      done = true;
      break;
    }
    const chunk = parseChunk(data, host);
    if (chunk.error) throw new LlmCallError('provider', `${host}: stream error: ${errorText(chunk.error)}`, true);
    const choice = chunk.choices?.[0];
    const delta = choice?.delta?.content;
    if (typeof delta === 'string' && delta !== '') {
      text += delta;
      options.onDelta(delta);
    }
    if (Array.isArray(choice?.delta?.tool_calls)) calls.add(choice.delta.tool_calls);
    if (choice?.finish_reason) finishReason = choice.finish_reason;
    if (chunk.usage) reported = chunk.usage;
  }
  // Without [DONE] or a finish reason the connection dropped mid-answer: the text is partial.
  if (!done && finishReason === null) throw new LlmCallError('network', `${host}: the stream ended before the answer was complete`, true);
  return { text, usage: usageFrom(reported, request, text), finishReason, toolCalls: calls.calls() };
}

/** Non-streaming fallback: some compatible servers ignore `stream` and answer with one JSON body. */
async function readJson(res: Response, request: ChatRequest, options: ChatOptions, signal: AbortSignal, host: string): Promise<ChatAnswer> {
  const chunk = parseChunk(await raceAbort(res.text(), signal), host);
  const message = chunk.choices?.[0]?.message;
  const toolCalls = (message?.tool_calls ?? [])
    .filter((c) => typeof c.function?.name === 'string')
    .map((c) => ({ id: c.id ?? '', name: c.function!.name!, input: parseArguments(c.function?.arguments) }));
  const content = message?.content ?? (toolCalls.length > 0 ? '' : undefined);
  if (typeof content !== 'string') throw new LlmCallError('provider', `${host}: the answer has no choices[0].message.content`, true);
  if (content !== '') options.onDelta(content);
  return {
    text: content,
    usage: usageFrom(chunk.usage, request, content),
    finishReason: chunk.choices?.[0]?.finish_reason ?? null,
    toolCalls,
  };
}

function parseChunk(data: string, host: string): CompletionChunk {
  try {
    const parsed: unknown = JSON.parse(data);
    if (parsed && typeof parsed === 'object') return parsed as CompletionChunk;
  } catch {
    // fall through
  }
  throw new LlmCallError('provider', `${host}: malformed chat-completions payload`, true);
}

async function httpError(res: Response, host: string, signal: AbortSignal): Promise<LlmCallError> {
  const detail = await raceAbort(res.text(), signal).then(
    (t) => errorDetail(t),
    () => '',
  );
  const what = `${host} answered ${res.status}${detail ? `: ${detail}` : ''}`;
  if (res.status === 429) {
    const retryAfterMs = parseRetryAfter(res.headers.get('retry-after'));
    return new LlmCallError('http_429', what, true, { status: 429, ...(retryAfterMs !== undefined ? { retryAfterMs } : {}) });
  }
  if (res.status === 408) return new LlmCallError('timeout', what, true, { status: 408 });
  if (res.status >= 500) return new LlmCallError('http_5xx', what, true, { status: res.status });
  return new LlmCallError('http_4xx', what, false, { status: res.status });
}

/** The provider's `error.message` if it sent one, else the start of the body. */
function errorDetail(body: string): string {
  let detail = body;
  try {
    const parsed = JSON.parse(body) as { error?: { message?: string } | string; message?: string };
    detail = (parsed.error !== undefined ? errorText(parsed.error) : parsed.message) ?? body;
  } catch {
    // not JSON
  }
  return detail.replace(/\s+/g, ' ').trim().slice(0, 300);
}

function errorText(error: { message?: string } | string): string {
  return typeof error === 'string' ? error : (error.message ?? JSON.stringify(error));
}

/** RFC 9110 §10.2.3: delay-seconds or an HTTP-date. */
export function parseRetryAfter(value: string | null, now = Date.now()): number | undefined {
  if (value === null || value.trim() === '') return undefined;
  const v = value.trim();
  const ms = /^\d+$/.test(v) ? Number(v) * 1000 : Date.parse(v) - now;
  if (!Number.isFinite(ms)) return undefined;
  return Math.min(Math.max(0, ms), MAX_RETRY_AFTER_MS);
}
