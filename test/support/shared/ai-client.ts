/**
 * The Vercel AI SDK as the oracle: the real `ai` package (v7) and `ai6` (npm:ai@6)
 * parse and validate our UI message streams (DefaultChatTransport's own chunk
 * schemas) and build the message (readUIMessageStream) and the chat state
 * (AbstractChat, the core under useChat). Runs in workerd and in Node.
 */
import * as ai7 from 'ai';
import * as ai6 from 'ai6';

export type AiVersion = 6 | 7;
export type AnyChunk = { type: string } & Record<string, unknown>;
export type AnyMessage = ai7.UIMessage;

export const SDK = { 6: ai6, 7: ai7 } as const;

export interface TransportOptions {
  /** e.g. `https://api.test/v1/chat` */
  api: string;
  fetch: typeof fetch;
  headers?: Record<string, string>;
  body?: Record<string, unknown>;
}

/** The SDK's DefaultChatTransport of that version. */
export function transportOf(version: AiVersion, o: TransportOptions): ai7.ChatTransport<AnyMessage> {
  const T = (version === 7 ? ai7.DefaultChatTransport : ai6.DefaultChatTransport) as unknown as new (
    o: object,
  ) => ai7.ChatTransport<AnyMessage>;
  return new T({ api: o.api, fetch: o.fetch, headers: o.headers, body: o.body });
}

/** Reads a validated chunk stream to its end: every chunk, and the message the SDK builds from them. */
export async function collect(
  stream: ReadableStream<AnyChunk>,
  version: AiVersion,
  message?: AnyMessage,
  o: { allowErrors?: boolean } = {},
): Promise<{ chunks: AnyChunk[]; message: AnyMessage | undefined; errors: Error[] }> {
  const chunks: AnyChunk[] = [];
  const reader = stream.getReader();
  for (let r = await reader.read(); !r.done; r = await reader.read()) chunks.push(r.value);
  const read = (version === 7 ? ai7.readUIMessageStream : ai6.readUIMessageStream) as unknown as (o: {
    stream: ReadableStream<AnyChunk>;
    message?: AnyMessage;
    onError?: (e: unknown) => void;
  }) => AsyncIterable<AnyMessage>;
  let last: AnyMessage | undefined;
  const errors: Error[] = [];
  const replay = new ReadableStream<AnyChunk>({
    start(c) {
      for (const x of chunks) c.enqueue(x);
      c.close();
    },
  });
  for await (const m of read({
    stream: replay as never,
    ...(message ? { message: structuredClone(message) as never } : {}),
    onError: (e: unknown) => errors.push(e as Error),
  }))
    last = m as AnyMessage;
  // An `error` chunk reaches onError (useChat's error state): unexpected unless the test allows it.
  if (errors.length && !o.allowErrors) throw errors[0];
  return { chunks, message: last, errors };
}

/** SSE bytes of a UI message stream (as a server would send them), for feeding a transport. */
export function sseOf(chunks: unknown[]): string {
  return `${chunks.map((c, i) => `id: ${i + 1}\ndata: ${JSON.stringify(c)}\n\n`).join('')}data: [DONE]\n\n`;
}

/** JSON round trip: what a message looks like stored or on the wire (undefined fields gone). */
export const plain = <T>(v: T): T => JSON.parse(JSON.stringify(v)) as T;

/** A minimal ChatState, so AbstractChat (the logic under useChat) runs outside React. */
class MemoryState implements ai7.ChatState<AnyMessage> {
  status: ai7.ChatStatus = 'ready';
  error: Error | undefined = undefined;
  messages: AnyMessage[];
  constructor(messages: AnyMessage[] = []) {
    this.messages = messages;
  }
  pushMessage = (m: AnyMessage) => {
    this.messages = [...this.messages, m];
  };
  popMessage = () => {
    this.messages = this.messages.slice(0, -1);
  };
  replaceMessage = (i: number, m: AnyMessage) => {
    this.messages = [...this.messages.slice(0, i), m, ...this.messages.slice(i + 1)];
  };
  snapshot = <T>(v: T): T => structuredClone(v);
}

export type ClientChat = ai7.AbstractChat<AnyMessage>;

/** A chat client (ai@7's or ai@6's AbstractChat) over a DefaultChatTransport. */
export function chatClient(
  version: AiVersion,
  o: TransportOptions & {
    id: string;
    messages?: AnyMessage[];
    sendAutomaticallyWhen?: (o: { messages: AnyMessage[] }) => boolean | PromiseLike<boolean>;
    onError?: (e: Error) => void;
  },
): ClientChat {
  const Abstract = (version === 7 ? ai7.AbstractChat : ai6.AbstractChat) as unknown as new (init: object) => ClientChat;
  class Chat extends Abstract {}
  return new Chat({
    id: o.id,
    transport: transportOf(version, o),
    state: new MemoryState(o.messages ?? []),
    ...(o.sendAutomaticallyWhen ? { sendAutomaticallyWhen: o.sendAutomaticallyWhen } : {}),
    onError: o.onError ?? (() => undefined),
  });
}
