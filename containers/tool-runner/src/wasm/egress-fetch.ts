/**
 * Fetches made on behalf of a wasm guest, sent through that invocation's
 * egress proxy (egress-proxy.ts) exactly as a bubblewrap sandbox's traffic is:
 * absolute-URI requests for http, CONNECT tunnels (then TLS here) for https.
 * So one piece of code enforces the allow-list and the private-address rules
 * in both modes.
 */
import { type ClientRequest, request as httpRequest, type IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { connect as tlsConnect } from 'node:tls';

export interface GuestFetchRequest {
  url: string;
  method: string;
  headers: Record<string, string>;
  /** base64 */
  body: string | null;
}
export type GuestFetchReply =
  | { ok: true; status: number; statusText: string; headers: [string, string][]; body: string }
  | { ok: false; error: string };

/** Largest response body handed back to a tool, bytes. */
export const MAX_RESPONSE_BYTES = 8 * 1024 * 1024;
const TIMEOUT_MS = 30_000;
// Hop-by-hop and framing headers are ours to set, not the tool's.
const DROP = new Set([
  'host',
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authorization',
  'transfer-encoding',
  'upgrade',
  'content-length',
]);

export function egressFetch(proxySocket: string, req: GuestFetchRequest, inFlight: Set<ClientRequest>): Promise<GuestFetchReply> {
  return new Promise((resolve) => {
    let url: URL;
    try {
      url = new URL(req.url);
    } catch {
      return resolve({ ok: false, error: `invalid URL ${JSON.stringify(req.url.slice(0, 200))}` });
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') return resolve({ ok: false, error: `unsupported protocol ${url.protocol}` });
    const body = req.body === null ? null : Buffer.from(req.body, 'base64');
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(req.headers)) if (!DROP.has(k.toLowerCase())) headers[k] = v;
    headers.host = url.host;
    if (body) headers['content-length'] = String(body.length);
    const done = (reply: GuestFetchReply) => resolve(reply);
    const track = (r: ClientRequest) => {
      inFlight.add(r);
      r.once('close', () => inFlight.delete(r));
      r.setTimeout(TIMEOUT_MS, () => r.destroy(new Error('timed out')));
      return r;
    };
    const onResponse = (res: IncomingMessage) => readReply(res, done);

    if (url.protocol === 'http:') {
      const r = track(
        httpRequest(
          { socketPath: proxySocket, method: req.method, path: url.href, headers: { ...headers, connection: 'close' } },
          onResponse,
        ),
      );
      r.on('error', (err) => done({ ok: false, error: err.message }));
      return void r.end(body ?? undefined);
    }

    const port = url.port || '443';
    const host = url.hostname.replace(/^\[|\]$/g, '');
    const tunnel = track(httpRequest({ socketPath: proxySocket, method: 'CONNECT', path: `${url.hostname}:${port}` }));
    tunnel.on('error', (err) => done({ ok: false, error: err.message }));
    tunnel.on('response', (res) => {
      // The proxy answered the CONNECT with a refusal (403 not allowed / private, 502 unreachable).
      res.resume();
      done({ ok: false, error: `egress proxy refused ${url.hostname}:${port} (${res.statusCode})` });
    });
    tunnel.on('connect', (res, socket: Duplex) => {
      if (res.statusCode !== 200) {
        socket.destroy();
        return done({ ok: false, error: `egress proxy refused ${url.hostname}:${port} (${res.statusCode})` });
      }
      const tls = tlsConnect({ socket, servername: host });
      tls.on('error', (err) => done({ ok: false, error: err.message }));
      const r = track(
        httpRequest(
          {
            method: req.method,
            host,
            path: `${url.pathname}${url.search}`,
            headers: { ...headers, connection: 'close' },
            createConnection: () => tls,
          },
          onResponse,
        ),
      );
      r.on('error', (err) => done({ ok: false, error: err.message }));
      r.end(body ?? undefined);
    });
    tunnel.end();
  });
}

function readReply(res: IncomingMessage, done: (r: GuestFetchReply) => void): void {
  const chunks: Buffer[] = [];
  let size = 0;
  res.on('data', (c: Buffer) => {
    size += c.length;
    if (size > MAX_RESPONSE_BYTES) {
      res.destroy();
      return done({ ok: false, error: `response body over ${MAX_RESPONSE_BYTES} bytes` });
    }
    chunks.push(c);
  });
  res.on('error', (err) => done({ ok: false, error: err.message }));
  res.on('end', () => {
    const headers: [string, string][] = [];
    for (let i = 0; i < res.rawHeaders.length; i += 2) headers.push([res.rawHeaders[i]!, res.rawHeaders[i + 1]!]);
    done({
      ok: true,
      status: res.statusCode ?? 502,
      statusText: res.statusMessage ?? '',
      headers,
      body: Buffer.concat(chunks).toString('base64'),
    });
  });
}
