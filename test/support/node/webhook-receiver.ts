/**
 * A local webhook receiver on 127.0.0.1 that verifies every delivery with the
 * official `standardwebhooks` library, as a customer's endpoint would.
 *
 *   POST /__register      { name, secrets: ["whsec_…", …] }  secrets to verify `name`'s deliveries with
 *   POST /hooks/<name>?fail=N&status=S&retryAfter=R&gone=1&delayMs=D&big=1&redirect=1
 *                         the endpoint: answers S (default 500, with Retry-After: R if given) to its
 *                         first N deliveries, 410 to every one with gone=1, else 200; after D ms;
 *                         big=1 answers a 64 KiB body, redirect=1 a 302 to /hooks/<name>-target
 *   GET  /__received?name=<name>   what `name` received, in arrival order
 *
 * Each record says which registered secrets verified it (`verifiedWith`, indexes), so
 * a test can prove that a rotation overlap signs with both secrets.
 */
import { createServer, type Server } from 'node:http';
import { Webhook } from 'standardwebhooks';

export interface ReceivedWebhook {
  name: string;
  webhookId: string;
  timestamp: string;
  signature: string;
  body: string;
  payload: Record<string, any> | null;
  /** Index of every registered secret whose standardwebhooks verification passed. */
  verifiedWith: number[];
  answered: number;
  receivedAt: number;
}

export interface WebhookReceiver {
  url: string;
  received: ReceivedWebhook[];
  close(): Promise<void>;
}

function verifiedWith(secrets: string[], body: string, headers: Record<string, string>): number[] {
  const ok: number[] = [];
  secrets.forEach((secret, i) => {
    try {
      new Webhook(secret).verify(body, headers);
      ok.push(i);
    } catch {
      // not signed with this secret (or stale / tampered)
    }
  });
  return ok;
}

export async function startWebhookReceiver(): Promise<WebhookReceiver> {
  const received: ReceivedWebhook[] = [];
  const secrets = new Map<string, string[]>();
  const counts = new Map<string, number>();
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://receiver');
      const body = Buffer.concat(chunks).toString('utf8');
      const send = (status: number, data: unknown, headers: Record<string, string> = {}) =>
        res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(data));
      if (req.method === 'POST' && url.pathname === '/__register') {
        const { name, secrets: list } = JSON.parse(body) as { name: string; secrets: string[] };
        secrets.set(name, list);
        return send(200, { ok: true });
      }
      if (req.method === 'GET' && url.pathname === '/__received') {
        const name = url.searchParams.get('name');
        return send(
          200,
          received.filter((r) => name === null || r.name === name),
        );
      }
      const m = /^\/hooks\/([\w.-]+)$/.exec(url.pathname);
      if (req.method !== 'POST' || !m) return send(404, { error: 'not found' });
      const name = m[1]!;
      const n = (counts.get(name) ?? 0) + 1;
      counts.set(name, n);
      const headers = {
        'webhook-id': String(req.headers['webhook-id'] ?? ''),
        'webhook-timestamp': String(req.headers['webhook-timestamp'] ?? ''),
        'webhook-signature': String(req.headers['webhook-signature'] ?? ''),
      };
      const fail = Number(url.searchParams.get('fail') ?? '0');
      const gone = url.searchParams.get('gone') === '1';
      const status = gone ? 410 : n <= fail ? Number(url.searchParams.get('status') ?? '500') : 200;
      let payload: Record<string, any> | null = null;
      try {
        payload = JSON.parse(body) as Record<string, any>;
      } catch {
        payload = null;
      }
      received.push({
        name,
        webhookId: headers['webhook-id'],
        timestamp: headers['webhook-timestamp'],
        signature: headers['webhook-signature'],
        body,
        payload,
        verifiedWith: verifiedWith(secrets.get(name) ?? [], body, headers),
        answered: status,
        receivedAt: Date.now(),
      });
      const retryAfter = url.searchParams.get('retryAfter');
      const answer = () => {
        if (url.searchParams.get('redirect') === '1') return res.writeHead(302, { location: `/hooks/${name}-target` }).end();
        if (url.searchParams.get('big') === '1')
          return res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8' }).end('é'.repeat(32 * 1024));
        send(status, { delivery: n, status }, status !== 200 && retryAfter ? { 'retry-after': retryAfter } : {});
      };
      const delay = Number(url.searchParams.get('delayMs') ?? '0');
      if (delay > 0) setTimeout(answer, delay);
      else answer();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('webhook receiver: no port');
  return {
    url: `http://127.0.0.1:${address.port}`,
    received,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
