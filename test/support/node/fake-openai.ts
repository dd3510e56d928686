/**
 * A local stand-in for an OpenAI-compatible chat-completions API, speaking the
 * real wire protocol: POST …/chat/completions answered as SSE
 * (`chat.completion.chunk` objects, usage last when `stream_options.include_usage`,
 * then `data: [DONE]`) or as one JSON `chat.completion` when `stream` is false.
 *
 * Tests script it through the base URL, so each provider they register can
 * behave differently without shared state:
 *
 *   {url}/t/{tag}/{script}/v1        e.g. …/t/abc123/500,ok/v1
 *
 * `script` is a comma-separated list of steps; the n-th request to that exact
 * tag+script takes step n (the last step repeats). Steps:
 *   ok        stream the answer (the last user message, echoed) in word chunks
 *   json      answer with one JSON body even though streaming was asked
 *   nousage   stream without the usage chunk
 *   429 | 429s<N>   429 with Retry-After: N seconds (default 7)
 *   400 | 401 | 500 | 503   that status with an OpenAI-style error body
 *   hang      accept the request and never answer
 *   stall     send headers and the first chunk, then nothing
 *   drop      send the first chunk, then cut the connection
 *   truncate  send the first chunk, then end the response cleanly (no finish_reason, no [DONE])
 *   sseerr    send the first chunk, then an `error` chunk
 *   judge     a deterministic grader for llm_judge evaluators (src/evals/judge.ts): reads the
 *             `Expected:` and `Output:` sections of the last user message and answers
 *             {"score":1,"reason":"…"} when they are equal (trimmed), {"score":0,…} otherwise
 * Usage is deterministic: prompt_tokens = words in all messages, completion_tokens = chunks sent.
 *
 * Embeddings: POST {url}/t/{tag}/{script}/v1/embeddings `{ model, input: string | string[], dimensions? }`
 * answers the OpenAI `list` of `embedding` objects (steps `ok` or a status as above). Each vector is
 * deterministic: words hashed (FNV-1a) into `dimensions` (default 64) signed buckets, plus each
 * word's 4-character prefix at half weight (a crude stemmer, so it differs from the local embedder),
 * L2-normalized; usage.prompt_tokens = words in all inputs.
 * GET {url}/__requests/{tag} returns what was received under that tag (headers and JSON body).
 *
 * Scripted replies (function calling): PUT {url}/__script/{tag}/{name} with `{ replies: Reply[] }`,
 * then use the base URL {url}/t/{tag}/@{name}/v1. The n-th request takes replies[n] (none left: a
 * 400 "script exhausted"). A Reply is
 *   { text?: string, toolCalls?: [{ id?, name, arguments? }], step?: <a step above> }
 * streamed as `chat.completion.chunk`s: the text in word chunks, then each tool call as its
 * `tool_calls` deltas (id and name first, the arguments' JSON text in three pieces, the calls'
 * pieces interleaved the way parallel calls arrive), finish_reason `tool_calls`. `step` makes the
 * reply fail like the steps above ('500', '429s1', 'hang', 'drop': half the chunks, then the
 * connection is cut); a non-streaming request gets one `chat.completion` with `message.tool_calls`.
 * `barrier` + `parties` hold a reply until that many requests of the tag wait at the same barrier.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';

export interface ReceivedChatRequest {
  script: string;
  step: string;
  path: string;
  headers: Record<string, string | undefined>;
  body: Record<string, any> | null;
}

interface ChatBody {
  model?: unknown;
  messages?: Array<{ role?: unknown; content?: unknown }>;
  stream?: unknown;
  stream_options?: { include_usage?: unknown };
}

const ROUTE = /^\/t\/([^/]+)\/([^/]+)\/v1\/chat\/completions$/;
const EMBEDDINGS_ROUTE = /^\/t\/([^/]+)\/([^/]+)\/v1\/embeddings$/;

/** One scripted answer (see the header). */
export interface Reply {
  text?: string;
  toolCalls?: Array<{ id?: string; name: string; arguments?: unknown }>;
  step?: string;
  /** Held until `parties` requests of the same tag wait at this barrier, then all are answered (proves concurrency). */
  barrier?: string;
  parties?: number;
}

export async function startFakeOpenAi(): Promise<{ url: string; received: Map<string, ReceivedChatRequest[]>; close(): Promise<void> }> {
  const received = new Map<string, ReceivedChatRequest[]>();
  const counters = new Map<string, number>();
  const scripts = new Map<string, Reply[]>();
  const barriers = new Map<string, Array<() => void>>();
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = req.url ?? '';
      const listing = /^\/__requests\/([^/?]+)$/.exec(url);
      if (req.method === 'GET' && listing) {
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(received.get(listing[1]!) ?? []));
        return;
      }
      const scripting = /^\/__script\/([^/]+)\/([^/?]+)$/.exec(url);
      if (req.method === 'PUT' && scripting) {
        const parsed = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') as { replies?: Reply[] };
        scripts.set(`${scripting[1]}/@${scripting[2]}`, parsed.replies ?? []);
        res.writeHead(204).end();
        return;
      }
      const e = EMBEDDINGS_ROUTE.exec(url);
      if (e && req.method === 'POST') {
        const [tag, script] = [e[1]!, decodeURIComponent(e[2]!)];
        const steps = script.split(',');
        const key = `${tag}/${script}/embeddings`;
        const n = counters.get(key) ?? 0;
        counters.set(key, n + 1);
        const step = steps[Math.min(n, steps.length - 1)]!;
        let body: Record<string, any> | null = null;
        try {
          body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, any>;
        } catch {
          // answered 400 below
        }
        const log = received.get(tag) ?? [];
        log.push({ script, step, path: url, headers: pick(req), body });
        received.set(tag, log);
        return answerEmbeddings(res, step, body);
      }
      const m = ROUTE.exec(url);
      if (!m) return error(res, 404, 'invalid_request_error', `Unknown path ${url}`);
      if (req.method !== 'POST') return error(res, 405, 'invalid_request_error', 'Use POST');
      const [tag, script] = [m[1]!, decodeURIComponent(m[2]!)];
      const steps = script.split(',');
      const key = `${tag}/${script}`;
      const n = counters.get(key) ?? 0;
      counters.set(key, n + 1);
      const step = steps[Math.min(n, steps.length - 1)]!;
      let body: ChatBody | null = null;
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as ChatBody;
      } catch {
        // recorded as null, answered 400 below
      }
      const log = received.get(tag) ?? [];
      const scripted = script.startsWith('@') ? scripts.get(key) : undefined;
      if (scripted) {
        const reply = scripted[n];
        log.push({ script, step: reply?.step ?? 'scripted', path: url, headers: pick(req), body: body as Record<string, any> | null });
        received.set(tag, log);
        if (!reply) return error(res, 400, 'invalid_request_error', `script exhausted after ${scripted.length} replies`);
        const go = () => (reply.step && reply.step !== 'drop' ? answer(res, reply.step, body) : answerScripted(res, reply, body));
        if (!reply.barrier) return go();
        const name = `${tag}/${reply.barrier}`;
        const waiting = [...(barriers.get(name) ?? []), go];
        if (waiting.length < (reply.parties ?? 2)) return void barriers.set(name, waiting);
        barriers.delete(name);
        for (const release of waiting) release();
        return;
      }
      log.push({ script, step, path: url, headers: pick(req), body: body as Record<string, any> | null });
      received.set(tag, log);
      answer(res, step, body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('fake openai: no port');
  return {
    url: `http://127.0.0.1:${address.port}`,
    received,
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections(); // hung requests would otherwise keep close() waiting
      }),
  };
}

function pick(req: IncomingMessage): Record<string, string | undefined> {
  const h = (name: string) => req.headers[name] as string | undefined;
  return {
    authorization: h('authorization'),
    'idempotency-key': h('idempotency-key'),
    'x-request-id': h('x-request-id'),
    accept: h('accept'),
    'content-type': h('content-type'),
  };
}

function error(res: ServerResponse, status: number, type: string, message: string, headers: Record<string, string> = {}): void {
  res
    .writeHead(status, { 'content-type': 'application/json', ...headers })
    .end(JSON.stringify({ error: { message, type, param: null, code: null } }));
}

function fnv(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** The fake's deterministic embedding (see the header). */
export function fakeEmbedding(text: string, dims: number): number[] {
  const v = new Array<number>(dims).fill(0);
  for (const word of text.toLowerCase().match(/[\p{L}\p{N}_]+/gu) ?? []) {
    for (const [feature, weight] of [
      [`w:${word}`, 1],
      [`p:${word.slice(0, 4)}`, 0.5],
    ] as const) {
      const h = fnv(feature);
      v[h % dims]! += (h & 0x80000000 ? -1 : 1) * weight;
    }
  }
  const norm = Math.sqrt(v.reduce((a, x) => a + x * x, 0)) || 1;
  return v.map((x) => x / norm);
}

function answerEmbeddings(res: ServerResponse, step: string, body: Record<string, any> | null): void {
  if (step === 'hang') return;
  if (/^\d{3}$/.test(step)) {
    const status = Number(step);
    error(res, status, status >= 500 ? 'server_error' : 'invalid_request_error', `Scripted ${status}`);
    return;
  }
  const input: unknown = body?.input;
  const texts =
    typeof input === 'string' ? [input] : Array.isArray(input) && input.every((x) => typeof x === 'string') ? (input as string[]) : null;
  if (!body || typeof body.model !== 'string' || !texts || texts.length === 0) {
    error(res, 400, 'invalid_request_error', "'model' and 'input' are required");
    return;
  }
  const dims = Number.isInteger(body.dimensions) && body.dimensions > 0 && body.dimensions <= 4096 ? (body.dimensions as number) : 64;
  const tokens = texts.reduce((sum, t) => sum + (t.match(/\S+/g) ?? []).length, 0);
  res.writeHead(200, { 'content-type': 'application/json' }).end(
    JSON.stringify({
      object: 'list',
      data: texts.map((t, index) => ({ object: 'embedding', index, embedding: fakeEmbedding(t, dims) })),
      model: body.model,
      usage: { prompt_tokens: tokens, total_tokens: tokens },
    }),
  );
}

function answer(res: ServerResponse, step: string, body: ChatBody | null): void {
  if (step === 'hang') return; // the client's deadline (or close()) ends it
  const retry = /^429(?:s(\d+))?$/.exec(step);
  if (retry) {
    error(res, 429, 'rate_limit_error', 'Rate limit reached for requests', { 'retry-after': retry[1] ?? '7' });
    return;
  }
  if (/^\d{3}$/.test(step)) {
    const status = Number(step);
    error(
      res,
      status,
      status >= 500 ? 'server_error' : 'invalid_request_error',
      status === 401 ? 'Incorrect API key provided' : `Scripted ${status}`,
    );
    return;
  }
  if (!body || typeof body.model !== 'string' || !Array.isArray(body.messages) || body.messages.length === 0) {
    error(res, 400, 'invalid_request_error', "'model' and 'messages' are required");
    return;
  }
  const model = body.model;
  const user = [...body.messages].reverse().find((msg) => msg.role === 'user');
  const prompt = typeof user?.content === 'string' ? user.content : '';
  const text = step === 'judge' ? judge(prompt) : prompt;
  const pieces = text.match(/\S+\s*|\s+/g) ?? [];
  const promptTokens = body.messages.reduce(
    (sum, msg) => sum + (typeof msg.content === 'string' ? (msg.content.match(/\S+/g) ?? []).length : 0),
    0,
  );
  const usage = { prompt_tokens: promptTokens, completion_tokens: pieces.length, total_tokens: promptTokens + pieces.length };
  const id = `chatcmpl-fake${Math.random().toString(36).slice(2, 10)}`;
  const created = Math.floor(Date.now() / 1000);

  if (step === 'json' || step === 'judge' || body.stream !== true) {
    const completion = {
      id,
      object: 'chat.completion',
      created,
      model,
      choices: [{ index: 0, message: { role: 'assistant', content: text }, finish_reason: 'stop' }],
      usage,
    };
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(completion));
    return;
  }

  const chunk = (delta: Record<string, unknown>, finish: string | null) => ({
    id,
    object: 'chat.completion.chunk',
    created,
    model,
    choices: [{ index: 0, delta, finish_reason: finish }],
  });
  const events: unknown[] = [
    chunk({ role: 'assistant', content: '' }, null),
    ...pieces.map((p) => chunk({ content: p }, null)),
    chunk({}, 'stop'),
  ];
  if (body.stream_options?.include_usage === true && step !== 'nousage')
    events.push({ id, object: 'chat.completion.chunk', created, model, choices: [], usage });
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
  res.flushHeaders();

  if (step === 'stall' || step === 'drop' || step === 'truncate' || step === 'sseerr') {
    res.write(`data: ${JSON.stringify(events[0])}\n\ndata: ${JSON.stringify(events[1] ?? events[0])}\n\n`);
    if (step === 'drop') setTimeout(() => res.socket?.destroy(), 20);
    if (step === 'truncate') res.end();
    if (step === 'sseerr')
      res.end(
        `data: ${JSON.stringify({ error: { message: 'The server had an error while processing your request', type: 'server_error' } })}\n\n`,
      );
    return;
  }
  // One write per event, spaced out, so the client really reads a stream (long answers: a few per tick,
  // so a 15k-token answer streams in seconds).
  let i = 0;
  const perTick = Math.max(1, Math.ceil(events.length / 1000));
  const next = () => {
    if (res.destroyed) return;
    if (i < events.length) {
      for (let k = 0; k < perTick && i < events.length; k++) res.write(`data: ${JSON.stringify(events[i++])}\n\n`);
      setTimeout(next, 2);
    } else {
      res.end('data: [DONE]\n\n');
    }
  };
  next();
}

function wordsIn(messages: ChatBody['messages']): number {
  return (messages ?? []).reduce((sum, msg) => sum + (typeof msg.content === 'string' ? (msg.content.match(/\S+/g) ?? []).length : 0), 0);
}

/** A scripted reply: text and/or tool calls, streamed the way OpenAI streams them. */
function answerScripted(res: ServerResponse, reply: Reply, body: ChatBody | null): void {
  if (!body || typeof body.model !== 'string' || !Array.isArray(body.messages) || body.messages.length === 0) {
    error(res, 400, 'invalid_request_error', "'model' and 'messages' are required");
    return;
  }
  const model = body.model;
  const id = `chatcmpl-fake${Math.random().toString(36).slice(2, 10)}`;
  const created = Math.floor(Date.now() / 1000);
  const pieces = (reply.text ?? '').match(/\S+\s*|\s+/g) ?? [];
  const calls = (reply.toolCalls ?? []).map((c) => ({
    id: c.id ?? `call_${Math.random().toString(36).slice(2, 12)}`,
    name: c.name,
    args: typeof c.arguments === 'string' ? c.arguments : JSON.stringify(c.arguments ?? {}),
  }));
  const finish = calls.length ? 'tool_calls' : 'stop';
  const usage = { prompt_tokens: wordsIn(body.messages), completion_tokens: pieces.length + calls.length };
  const toolCallsWire = calls.map((c) => ({ id: c.id, type: 'function', function: { name: c.name, arguments: c.args } }));

  if (body.stream !== true) {
    const message = {
      role: 'assistant',
      content: reply.text ?? (calls.length ? null : ''),
      ...(calls.length ? { tool_calls: toolCallsWire } : {}),
    };
    res
      .writeHead(200, { 'content-type': 'application/json' })
      .end(
        JSON.stringify({ id, object: 'chat.completion', created, model, choices: [{ index: 0, message, finish_reason: finish }], usage }),
      );
    return;
  }
  const chunk = (delta: Record<string, unknown>, finishReason: string | null) => ({
    id,
    object: 'chat.completion.chunk',
    created,
    model,
    choices: [{ index: 0, delta, finish_reason: finishReason }],
  });
  const events: unknown[] = [chunk({ role: 'assistant', content: '' }, null), ...pieces.map((p) => chunk({ content: p }, null))];
  // Headers of every call first, then the arguments in three pieces each, interleaved across calls.
  for (const [index, c] of calls.entries()) {
    events.push(chunk({ tool_calls: [{ index, id: c.id, type: 'function', function: { name: c.name, arguments: '' } }] }, null));
  }
  const thirds = calls.map((c) => {
    const n = Math.ceil(c.args.length / 3);
    return [c.args.slice(0, n), c.args.slice(n, 2 * n), c.args.slice(2 * n)];
  });
  for (let k = 0; k < 3; k++)
    calls.forEach((_, index) => {
      const part = thirds[index]![k]!;
      if (part !== '') events.push(chunk({ tool_calls: [{ index, function: { arguments: part } }] }, null));
    });
  events.push(chunk({}, finish));
  if (body.stream_options?.include_usage === true)
    events.push({
      id,
      object: 'chat.completion.chunk',
      created,
      model,
      choices: [],
      usage: { ...usage, total_tokens: usage.prompt_tokens + usage.completion_tokens },
    });
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
  res.flushHeaders();
  const cut = reply.step === 'drop' ? Math.max(1, Math.floor(events.length / 2)) : events.length;
  let i = 0;
  const next = () => {
    if (res.destroyed) return;
    if (i < cut) {
      res.write(`data: ${JSON.stringify(events[i++])}\n\n`);
      setTimeout(next, 2);
    } else if (reply.step === 'drop') {
      res.socket?.destroy();
    } else {
      res.end('data: [DONE]\n\n');
    }
  };
  next();
}

/** The `judge` step: 1 when the prompt's Expected and Output sections agree, else 0 (a grader that never varies). */
function judge(prompt: string): string {
  const m = /\nExpected:\n([\s\S]*?)\n\nOutput:\n([\s\S]*)$/.exec(prompt);
  if (!m) return JSON.stringify({ score: 0, reason: 'no Expected/Output sections' });
  const same = m[1]!.trim() === m[2]!.trim();
  return JSON.stringify({
    score: same ? 1 : 0,
    reason: same ? 'the output matches the expected answer' : 'the output differs from the expected answer',
  });
}
