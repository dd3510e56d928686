/**
 * The AI SDK's DefaultChatTransport pointed at POST /v1/chat (docs/assistant.md), its requests sent
 * through the console's API client so they carry the in-memory access token and its refresh (no
 * token is handed to the SDK). The server reads only the last message, so only that is sent.
 */
import { DefaultChatTransport, type UIMessage } from 'ai';
import type { Client } from '../../api/client';

/** A fetch for the two requests the transport makes: POST /v1/chat and GET /v1/chat/{id}/stream. */
export function chatFetch(client: Client): typeof fetch {
  return async (input, init) => {
    const url = new URL(input instanceof Request ? input.url : String(input), globalThis.location?.origin ?? 'http://localhost');
    const headers = Object.fromEntries(new Headers(init?.headers).entries());
    const signal = init?.signal ?? undefined;
    const common = { headers, parseAs: 'stream' as const, ...(signal ? { signal } : {}) };
    let result: { response: Response; error?: unknown };
    if ((init?.method ?? 'GET').toUpperCase() === 'POST' && url.pathname === '/v1/chat') {
      result = await client.api.POST('/v1/chat', { ...common, body: JSON.parse(String(init?.body ?? '{}')) as never });
    } else {
      const m = /^\/v1\/chat\/([^/]+)\/stream$/.exec(url.pathname);
      if (!m) throw new Error(`The chat transport asked for ${url.pathname}`);
      result = await client.api.GET('/v1/chat/{chatId}/stream', { ...common, params: { path: { chatId: decodeURIComponent(m[1]!) } } });
    }
    if (result.response.ok) return result.response;
    // openapi-fetch has read the problem body; hand the SDK an equivalent response it can read.
    return new Response(JSON.stringify(result.error ?? {}), {
      status: result.response.status,
      headers: { 'content-type': 'application/problem+json' },
    });
  };
}

export function chatTransport(client: Client): DefaultChatTransport<UIMessage> {
  return new DefaultChatTransport<UIMessage>({
    api: '/v1/chat',
    fetch: chatFetch(client),
    // ai@7 understands reset-step and tool-approval-response chunks.
    headers: { 'x-ui-stream-version': '7' },
    body: () => ({ timezone: Intl.DateTimeFormat().resolvedOptions().timeZone }),
    prepareSendMessagesRequest: ({ id, messages, trigger, messageId, body }) => ({
      body: { ...body, id, message: messages[messages.length - 1], trigger, ...(messageId ? { messageId } : {}) },
    }),
  });
}
