/**
 * The `workers-ai` provider kind: a small adapter over the Worker's AI binding,
 * `env.AI.run(model, { messages, stream: true })`. Streaming answers arrive as
 * SSE (`data: {"response":"…"}` … `data: [DONE]`, usage in a late chunk), the
 * same framing the OpenAI client reads. The binding exists only when deployed
 * (`remote = true` in wrangler.toml); locally `run` is absent and every call
 * fails over to the next provider.
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

/** The part of the `Ai` binding this adapter uses (typed loosely: model ids come from tenants' configs). */
export interface AiRunner {
  run(model: string, inputs: Record<string, unknown>, options?: { signal?: AbortSignal }): Promise<unknown>;
}

interface AiToolCall {
  id?: unknown;
  name?: unknown;
  arguments?: unknown;
  function?: { name?: string; arguments?: unknown };
}

interface AiChunk {
  response?: unknown;
  tool_calls?: AiToolCall[];
  choices?: Array<{
    delta?: { content?: unknown };
    message?: { content?: unknown; tool_calls?: AiToolCall[] };
    finish_reason?: string | null;
  }>;
  usage?: { prompt_tokens?: number; completion_tokens?: number } | null;
}

/** Errors Workers AI reports for a bad request (unknown model, invalid input): another try cannot help. */
const NOT_RETRYABLE = /\b(5006|5007|5016)\b|no such model|invalid input|input validation/i;

export function workersAiClient(ai: AiRunner | undefined): LlmClient {
  return {
    async chat(request, options) {
      if (!ai || typeof ai.run !== 'function')
        throw new LlmCallError('provider', 'workers-ai: the AI binding is not available in this environment', true);
      return runOnce(ai, request, options);
    },
  };
}

async function runOnce(ai: AiRunner, request: ChatRequest, options: ChatOptions): Promise<ChatAnswer> {
  const deadline = AbortSignal.timeout(options.timeoutMs);
  const signal = AbortSignal.any([options.signal, deadline]);
  const tools = request.tools?.length ? request.tools : undefined;
  const inputs = {
    messages: request.messages.map(aiMessage),
    // Function calling answers in one object (tool calls are not streamed by every model).
    stream: tools === undefined,
    ...(tools ? { tools: tools.map((t) => ({ name: t.name, description: t.description, parameters: t.inputSchema })) } : {}),
    ...(request.temperature !== undefined ? { temperature: request.temperature } : {}),
    ...(request.maxTokens !== undefined ? { max_tokens: request.maxTokens } : {}),
  };
  try {
    const result = await raceAbort(ai.run(request.model, inputs, { signal }), signal);
    if (result instanceof ReadableStream) return await readStream(result as ReadableStream<Uint8Array>, request, options, signal);
    return fromObject(result as AiChunk, request, options);
  } catch (err) {
    if (options.signal.aborted) throw new LlmCallError('cancelled', 'workers-ai: cancelled', false);
    if (deadline.aborted) throw new LlmCallError('timeout', `workers-ai: no complete answer within ${options.timeoutMs} ms`, true);
    if (err instanceof LlmCallError) throw err;
    const message = (err as Error)?.message ?? String(err);
    if (/\b3040\b|capacity|rate limit|too many requests/i.test(message))
      throw new LlmCallError('http_429', `workers-ai: ${message.slice(0, 300)}`, true);
    throw new LlmCallError(
      NOT_RETRYABLE.test(message) ? 'http_4xx' : 'provider',
      `workers-ai: ${message.slice(0, 300)}`,
      !NOT_RETRYABLE.test(message),
    );
  }
}

async function readStream(
  body: ReadableStream<Uint8Array>,
  request: ChatRequest,
  options: ChatOptions,
  signal: AbortSignal,
): Promise<ChatAnswer> {
  let text = '';
  let usage: AiChunk['usage'] = null;
  let finishReason: string | null = null;
  for await (const data of sseData(body, signal)) {
    if (data.trim() === '[DONE]') break;
    let chunk: AiChunk;
    try {
      chunk = JSON.parse(data) as AiChunk;
    } catch {
      throw new LlmCallError('provider', 'workers-ai: malformed stream chunk', true);
    }
    const piece = textOf(chunk, 'delta');
    if (piece) {
      text += piece;
      options.onDelta(piece);
    }
    finishReason = chunk.choices?.[0]?.finish_reason ?? finishReason;
    if (chunk.usage) usage = chunk.usage;
  }
  return { text, usage: usageFrom(usage, request, text), finishReason };
}

function fromObject(result: AiChunk, request: ChatRequest, options: ChatOptions): ChatAnswer {
  const toolCalls = toolCallsOf(result);
  const text = textOf(result, 'message') ?? (toolCalls.length > 0 || result.response === null ? '' : undefined);
  if (text === undefined) throw new LlmCallError('provider', 'workers-ai: the answer has no text', true);
  if (text !== '') options.onDelta(text);
  return { text, usage: usageFrom(result.usage, request, text), finishReason: result.choices?.[0]?.finish_reason ?? null, toolCalls };
}

/** Traditional function calling answers `tool_calls: [{ name, arguments }]`; OpenAI-style models `choices[0].message.tool_calls`. */
function toolCallsOf(result: AiChunk): ChatToolCall[] {
  const raw = result.tool_calls ?? result.choices?.[0]?.message?.tool_calls ?? [];
  return raw.flatMap((c) => {
    const name = c.function?.name ?? c.name;
    if (typeof name !== 'string' || name === '') return [];
    return [{ id: typeof c.id === 'string' ? c.id : '', name, input: parseArguments(c.function?.arguments ?? c.arguments) }];
  });
}

/** Our message as Workers AI takes it: tool results carry the tool's name, assistant calls their arguments. */
function aiMessage(m: ChatMessage): Record<string, unknown> {
  if (m.role === 'tool') return { role: 'tool', name: m.name ?? '', tool_call_id: m.toolCallId ?? '', content: m.content };
  if (m.role === 'assistant' && m.toolCalls?.length)
    return {
      role: 'assistant',
      content: m.content,
      tool_calls: m.toolCalls.map((c) => ({
        id: c.id,
        type: 'function',
        function: { name: c.name, arguments: typeof c.input === 'string' ? c.input : JSON.stringify(c.input ?? {}) },
      })),
    };
  return { role: m.role, content: m.content };
}

/** Workers AI's native `response`, or the OpenAI-style `choices` some models return. */
function textOf(chunk: AiChunk, part: 'delta' | 'message'): string | undefined {
  if (typeof chunk.response === 'string') return chunk.response;
  const content = chunk.choices?.[0]?.[part]?.content;
  return typeof content === 'string' ? content : undefined;
}
