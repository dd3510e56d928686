/**
 * A local endpoint for the flow engine's `http` node, scripted per key so that
 * tests never share state:
 *
 *   ANY  /k/<key>?fail=N&status=S&retryAfter=R&delayMs=D&hold=1
 *        the n-th request to <key> answers S (default 500; with Retry-After: R
 *        when given) while n <= N; otherwise it waits D ms (or, with hold=1,
 *        until released) and answers 200 JSON { key, n, method, idempotencyKey, body }.
 *   ANY  /k/<key>?bytes=B[&declare=1]
 *        streams a B-byte text body in 64 KiB chunks (honouring back-pressure; with
 *        declare=1 also a Content-Length) and records how many bytes it got to send
 *        before the client went away (`sentBytes`).
 *   POST /__script/<key>   { fail?, status?, retryAfter?, delayMs?, hold? }
 *        overrides the query parameters for <key> from now on (e.g. make a
 *        failing endpoint succeed before resuming a run). `fail` counts from the
 *        key's first request, so { fail: 0 } means "succeed from now on".
 *   POST /__release/<key>  answers every held request of <key> now, and holds no more.
 *   GET  /__hits/<key>     every request to <key>: { n, method, idempotencyKey, answered, closedEarly, at }.
 *
 * Requests whose client goes away before the answer (cancellation, timeout,
 * an evicted Durable Object) are recorded with `closedEarly: true`.
 */
import { createServer, type Server } from 'node:http';

export interface FlowHttpHit {
  n: number;
  method: string;
  idempotencyKey: string | null;
  body: string;
  /** Status answered, or null while held / when the client left first. */
  answered: number | null;
  closedEarly: boolean;
  at: number;
  /** For `bytes=B`: bytes written before the body ended or the client left. */
  sentBytes?: number;
}

interface Script {
  fail?: number;
  status?: number;
  retryAfter?: number;
  delayMs?: number;
  hold?: boolean;
}

export interface FlowHttpServer {
  url: string;
  close(): Promise<void>;
}

export async function startFlowHttp(): Promise<FlowHttpServer> {
  const hits = new Map<string, FlowHttpHit[]>();
  const scripts = new Map<string, Script>();
  const released = new Set<string>();
  const waiting = new Map<string, Array<() => void>>();

  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://flow-http');
      const body = Buffer.concat(chunks).toString('utf8');
      const send = (status: number, data: unknown, headers: Record<string, string> = {}) => {
        if (res.writableEnded || res.destroyed) return;
        res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(data));
      };
      const control = /^\/__(script|release|hits)\/([\w.-]+)$/.exec(url.pathname);
      if (control) {
        const [, verb, key] = control as unknown as [string, string, string];
        if (verb === 'hits' && req.method === 'GET') return send(200, hits.get(key) ?? []);
        if (verb === 'script' && req.method === 'POST') {
          scripts.set(key, { ...(scripts.get(key) ?? {}), ...(JSON.parse(body || '{}') as Script) });
          return send(200, { ok: true });
        }
        if (verb === 'release' && req.method === 'POST') {
          released.add(key);
          for (const wake of waiting.get(key) ?? []) wake();
          waiting.delete(key);
          return send(200, { ok: true });
        }
        return send(405, { error: 'method not allowed' });
      }
      const m = /^\/k\/([\w.-]+)$/.exec(url.pathname);
      if (!m) return send(404, { error: `unknown path ${url.pathname}` });
      const key = m[1]!;
      const q = url.searchParams;
      const script: Script = {
        fail: Number(q.get('fail') ?? '0'),
        status: Number(q.get('status') ?? '500'),
        ...(q.has('retryAfter') ? { retryAfter: Number(q.get('retryAfter')) } : {}),
        delayMs: Number(q.get('delayMs') ?? '0'),
        hold: q.get('hold') === '1',
        ...(scripts.get(key) ?? {}),
      };
      const list = hits.get(key) ?? [];
      hits.set(key, list);
      const idem = req.headers['idempotency-key'];
      const hit: FlowHttpHit = {
        n: list.length + 1,
        method: req.method ?? 'GET',
        idempotencyKey: typeof idem === 'string' ? idem : null,
        body,
        answered: null,
        closedEarly: false,
        at: Date.now(),
      };
      list.push(hit);
      res.on('close', () => {
        if (hit.answered === null) hit.closedEarly = true;
      });
      if (q.has('bytes')) {
        const total = Number(q.get('bytes'));
        hit.sentBytes = 0;
        res.writeHead(200, { 'content-type': 'text/plain', ...(q.get('declare') === '1' ? { 'content-length': String(total) } : {}) });
        const chunk = Buffer.alloc(64 * 1024, 'x');
        const pump = () => {
          while (!res.destroyed && hit.sentBytes! < total) {
            const part = chunk.subarray(0, Math.min(chunk.length, total - hit.sentBytes!));
            hit.sentBytes! += part.length;
            if (!res.write(part)) return void res.once('drain', pump);
          }
          if (res.destroyed) return;
          hit.answered = 200;
          res.end();
        };
        pump();
        return;
      }
      if (hit.n <= (script.fail ?? 0)) {
        hit.answered = script.status ?? 500;
        return send(
          hit.answered,
          { error: 'scripted failure', n: hit.n },
          script.retryAfter !== undefined ? { 'retry-after': String(script.retryAfter) } : {},
        );
      }
      const answer = () => {
        if (res.destroyed) return;
        hit.answered = 200;
        send(200, { key, n: hit.n, method: hit.method, idempotencyKey: hit.idempotencyKey, body: body || null });
      };
      if (script.hold && !released.has(key)) {
        const list2 = waiting.get(key) ?? [];
        list2.push(answer);
        waiting.set(key, list2);
        return;
      }
      if (script.delayMs) {
        const timer = setTimeout(answer, script.delayMs);
        res.on('close', () => clearTimeout(timer));
        return;
      }
      answer();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('flow-http: no port');
  return {
    url: `http://127.0.0.1:${address.port}`,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
