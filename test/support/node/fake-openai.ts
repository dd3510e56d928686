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
 * GET {url}/__requests/{tag} returns what was received under that tag (headers and JSON body).
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

export async function startFakeOpenAi(): Promise<{ url: string; received: Map<string, ReceivedChatRequest[]>; close(): Promise<void> }> {
  const received = new Map<string, ReceivedChatRequest[]>();
  const counters = new Map<string, number>();
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
