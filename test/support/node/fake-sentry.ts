/**
 * A local stand-in for Sentry's ingestion endpoint. It accepts the real envelope
 * protocol (POST /api/<project>/envelope/, newline-delimited JSON items) and keeps
 * what it received so tests can read it back at GET /__received.
 */
import { createServer, type Server } from 'node:http';

export interface SentryEnvelopeItem {
  header: Record<string, unknown>;
  payload: unknown;
}
export interface ReceivedEnvelope {
  path: string;
  auth: string | undefined;
  header: Record<string, unknown>;
  items: SentryEnvelopeItem[];
}

export function parseEnvelope(body: string): { header: Record<string, unknown>; items: SentryEnvelopeItem[] } {
  const lines = body.split('\n').filter((l) => l.length > 0);
  const header = JSON.parse(lines[0] ?? '{}') as Record<string, unknown>;
  const items: SentryEnvelopeItem[] = [];
  for (let i = 1; i + 1 < lines.length; i += 2) {
    items.push({ header: JSON.parse(lines[i]!) as Record<string, unknown>, payload: JSON.parse(lines[i + 1]!) });
  }
  return { header, items };
}

export async function startFakeSentry(): Promise<{ url: string; received: ReceivedEnvelope[]; close(): Promise<void> }> {
  const received: ReceivedEnvelope[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (req.method === 'GET' && req.url === '/__received') {
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(received));
        return;
      }
      const match = /^\/api\/(\d+)\/envelope\/?/.exec(req.url ?? '');
      if (req.method !== 'POST' || !match) {
        res.writeHead(404).end();
        return;
      }
      const { header, items } = parseEnvelope(Buffer.concat(chunks).toString('utf8'));
      received.push({ path: req.url ?? '', auth: req.headers['x-sentry-auth'] as string | undefined, header, items });
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ id: header.event_id ?? null }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('fake sentry: no port');
  return {
    url: `http://127.0.0.1:${address.port}`,
    received,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
