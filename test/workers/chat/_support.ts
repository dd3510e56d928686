/**
 * Chat tests: the real AI SDK clients (test/support/shared/ai-client.ts) talking to the Worker under
 * test through its fetch handler, with a tenant's credential as the only extra header.
 */
import { exports } from 'cloudflare:workers';
import { inject } from 'vitest';
import { type AiVersion, type AnyChunk, type AnyMessage, chatClient, collect, transportOf } from '../../support/shared/ai-client';
import { BASE, call, expectJson, freshIp } from '../../support/workers/http';
import type { TestTenant } from '../../support/workers/tenants';

export const API = `${BASE}/v1/chat`;

/** `fetch` into the Worker with `token` (and optional headers), as a browser app's transport would. */
export function workerFetch(token: string, extra: Record<string, string> = {}): typeof fetch {
  return (async (input: RequestInfo | URL, init?: RequestInit) => {
    const req = new Request(input, init);
    const headers = new Headers(req.headers);
    headers.set('authorization', `Bearer ${token}`);
    headers.set('cf-connecting-ip', freshIp());
    for (const [k, v] of Object.entries(extra)) headers.set(k, v);
    return exports.default.fetch(new Request(req, { headers }));
  }) as typeof fetch;
}

export function newChatId(): string {
  return `c${Date.now().toString(36)}${Math.random().toString(36).slice(2, 10)}`;
}

export function userMessage(text: string, id = `u${Math.random().toString(36).slice(2, 10)}`): AnyMessage {
  return { id, role: 'user', parts: [{ type: 'text', text }] };
}

/** One turn through DefaultChatTransport: what the client validated, and the message it built. */
export async function sendTurn(
  token: string,
  chatId: string,
  messages: AnyMessage[],
  o: {
    version?: AiVersion;
    query?: string;
    headers?: Record<string, string>;
    body?: Record<string, unknown>;
    messageId?: string;
    signal?: AbortSignal;
    allowErrors?: boolean;
  } = {},
): Promise<{ chunks: AnyChunk[]; message: AnyMessage | undefined; errors: Error[] }> {
  const version = o.version ?? 6;
  const t = transportOf(version, {
    api: `${API}${o.query ?? ''}`,
    fetch: workerFetch(token, o.headers),
    ...(o.body ? { body: o.body } : {}),
  });
  const stream = await t.sendMessages({ chatId, messages, trigger: 'submit-message', messageId: o.messageId, abortSignal: o.signal });
  const last = messages[messages.length - 1];
  return collect(stream as never, version, last?.role === 'assistant' ? last : undefined, { allowErrors: o.allowErrors ?? false });
}

export { chatClient, collect, transportOf };

export async function getChat(token: string, chatId: string): Promise<Record<string, any>> {
  return expectJson(await call(`/v1/chats/${chatId}`, { token }));
}

export function textOf(m: AnyMessage | undefined): string {
  return (m?.parts ?? []).flatMap((p) => (p.type === 'text' ? [(p as { text: string }).text] : [])).join('');
}

const FAKE_URL = inject('fakeOpenAiUrl');

/** One scripted answer of the fake provider (test/support/node/fake-openai.ts). */
export interface Reply {
  text?: string;
  toolCalls?: Array<{ id?: string; name: string; arguments?: unknown }>;
  step?: string;
  barrier?: string;
  parties?: number;
}

/**
 * Registers the tenant's provider `name` serving the built-in assistant's model alias, answering with
 * `replies` in order (the assistant uses every provider with that alias, oldest first).
 */
export async function assistantProvider(t: TestTenant, tag: string, name: string, replies: Reply[]): Promise<void> {
  const put = await fetch(`${FAKE_URL}/__script/${tag}/${name}`, { method: 'PUT', body: JSON.stringify({ replies }) });
  if (put.status !== 204) throw new Error(`script: ${put.status}`);
  const body = {
    name,
    kind: 'openai',
    baseUrl: `${FAKE_URL}/t/${tag}/@${name}/v1`,
    apiKey: 'sk-test-0123456789abcdefWXYZ',
    models: { assistant: { model: 'fake-gpt', inputCostPer1M: 100, outputCostPer1M: 400 } },
  };
  await expectJson(await call('/v1/llm/providers', { token: t.accessToken, body }), 201);
}

/** The model calls the fake received for `tag` (optionally one provider's). */
export async function providerCalls(tag: string, name?: string): Promise<Array<{ script: string; body: Record<string, any> }>> {
  const all = (await (await fetch(`${FAKE_URL}/__requests/${tag}`)).json()) as Array<{ script: string; body: Record<string, any> }>;
  return name === undefined ? all : all.filter((r) => r.script === `@${name}`);
}

/** Joins a barrier of `name`'s script from outside (takes that script's next reply), releasing the held one. */
export async function releaseBarrier(tag: string, name: string): Promise<void> {
  const res = await fetch(`${FAKE_URL}/t/${tag}/@${name}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'fake-gpt', messages: [{ role: 'user', content: 'release' }], stream: false }),
  });
  await res.text();
}

export function newTag(): string {
  return `ch${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}`;
}

/** Reads a raw SSE response into frames `{ id, data }` (data parsed; `[DONE]` kept as the string). */
export async function sseFrames(
  res: Response,
  until?: (f: { id: number | null; data: any }) => boolean,
): Promise<Array<{ id: number | null; data: any }>> {
  const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
  const frames: Array<{ id: number | null; data: any }> = [];
  let buffer = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += value;
    let cut = buffer.indexOf('\n\n');
    while (cut >= 0) {
      const block = buffer.slice(0, cut);
      buffer = buffer.slice(cut + 2);
      cut = buffer.indexOf('\n\n');
      let id: number | null = null;
      let data: string | null = null;
      for (const line of block.split('\n')) {
        if (line.startsWith('id: ')) id = Number(line.slice(4));
        if (line.startsWith('data: ')) data = line.slice(6);
      }
      if (data === null) continue;
      const frame = { id, data: data === '[DONE]' ? data : JSON.parse(data) };
      frames.push(frame);
      if (until?.(frame)) {
        await reader.cancel();
        return frames;
      }
    }
  }
  return frames;
}
