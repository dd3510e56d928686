/**
 * Chat tests: the real AI SDK clients (test/support/shared/ai-client.ts) talking to the Worker under
 * test through its fetch handler, with a tenant's credential as the only extra header.
 */
import { exports } from 'cloudflare:workers';
import { type AiVersion, type AnyChunk, type AnyMessage, chatClient, collect, transportOf } from '../../support/shared/ai-client';
import { BASE, call, expectJson, freshIp } from '../../support/workers/http';

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
  } = {},
): Promise<{ chunks: AnyChunk[]; message: AnyMessage | undefined }> {
  const version = o.version ?? 6;
  const t = transportOf(version, {
    api: `${API}${o.query ?? ''}`,
    fetch: workerFetch(token, o.headers),
    ...(o.body ? { body: o.body } : {}),
  });
  const stream = await t.sendMessages({ chatId, messages, trigger: 'submit-message', messageId: o.messageId, abortSignal: o.signal });
  const last = messages[messages.length - 1];
  return collect(stream as never, version, last?.role === 'assistant' ? last : undefined);
}

export { chatClient, collect, transportOf };

export async function getChat(token: string, chatId: string): Promise<Record<string, any>> {
  return expectJson(await call(`/v1/chats/${chatId}`, { token }));
}

export function textOf(m: AnyMessage | undefined): string {
  return (m?.parts ?? []).flatMap((p) => (p.type === 'text' ? [(p as { text: string }).text] : [])).join('');
}
