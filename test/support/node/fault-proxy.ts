/**
 * A reverse proxy on 127.0.0.1 in front of a running Worker that injects the faults a client must survive:
 * an answer replaced by a status (after the Worker handled the request, as when a response is lost on the
 * way back) and an event stream cut right after a given `id:`. Every request it sees is recorded.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ProxiedRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  /** What the client was answered (the injected status when a fault replaced it). */
  status: number;
}

export interface FaultProxy {
  /** Origin to point the client at, e.g. `http://127.0.0.1:41234`. */
  readonly url: string;
  readonly requests: ProxiedRequest[];
  /**
   * The next `times` requests matching `method` and `path` reach the Worker, but the client is answered
   * `status` with `Retry-After: retryAfter` instead of the Worker's answer.
   */
  replaceAnswers(rule: { method: string; path: string; times: number; status: number; retryAfter?: string }): void;
  /**
   * The next event stream on `path` is cut (the connection destroyed) after the frame with `id: afterId`:
   * at once, or, with `until`, once it settles, nothing more forwarded meanwhile. A browser may drop bytes
   * that arrive together with the broken connection (Chromium hands the body and the failure to the page
   * separately), so a test that needs the frames shown before the cut waits for the page, then settles `until`.
   */
  cutStream(rule: { path: string; afterId: string; until?: Promise<unknown> }): void;
  close(): Promise<void>;
}

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'content-length', 'content-encoding', 'host']);

async function bodyOf(req: IncomingMessage): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return chunks.length ? Buffer.concat(chunks) : undefined;
}

/** Starts a proxy forwarding to `target` (a Worker's origin). */
export async function startFaultProxy(target: string): Promise<FaultProxy> {
  const requests: ProxiedRequest[] = [];
  const replacements: Array<{ method: string; path: string; times: number; status: number; retryAfter?: string }> = [];
  const cuts: Array<{ path: string; afterId: string; until?: Promise<unknown> }> = [];

  const server: Server = createServer(async (req, res) => {
    const path = req.url ?? '/';
    const pathname = path.split('?')[0]!;
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(req.headers))
      if (v !== undefined && !HOP_BY_HOP.has(k)) headers[k] = Array.isArray(v) ? v.join(', ') : v;
    const record: ProxiedRequest = { method: req.method ?? 'GET', path, headers, status: 0 };
    requests.push(record);
    try {
      const body = await bodyOf(req);
      const upstream = await fetch(target + path, { method: record.method, headers, body: body ? new Uint8Array(body) : undefined });

      const replacement = replacements.find((r) => r.times > 0 && r.method === record.method && r.path === pathname);
      if (replacement) {
        replacement.times -= 1;
        await upstream.arrayBuffer();
        record.status = replacement.status;
        res.writeHead(replacement.status, {
          'content-type': 'application/problem+json',
          ...(replacement.retryAfter ? { 'retry-after': replacement.retryAfter } : {}),
        });
        res.end(
          JSON.stringify({ type: 'https://edgecrew.dev/problems/service-unavailable', title: 'Injected', status: replacement.status }),
        );
        return;
      }

      record.status = upstream.status;
      const out: Record<string, string> = {};
      upstream.headers.forEach((v, k) => {
        if (!HOP_BY_HOP.has(k)) out[k] = v;
      });
      res.writeHead(upstream.status, out);
      if (!upstream.body) return void res.end();
      const cutIndex = cuts.findIndex((c) => c.path === pathname);
      const cut = cutIndex >= 0 ? cuts.splice(cutIndex, 1)[0] : undefined;
      let pending = '';
      const decoder = new TextDecoder();
      for await (const chunk of upstream.body as AsyncIterable<Uint8Array>) {
        if (!cut) {
          res.write(chunk);
          continue;
        }
        // Forward whole frames so the cut falls exactly after the frame with the chosen id.
        pending += decoder.decode(chunk, { stream: true });
        let end = pending.indexOf('\n\n');
        while (end >= 0) {
          const frame = pending.slice(0, end + 2);
          pending = pending.slice(end + 2);
          if (frame.split('\n').includes(`id: ${cut.afterId}`)) {
            // Destroyed once the frame is handed to the socket (and `until` settled): the frame, then a broken connection.
            res.write(frame, () => void (cut.until ?? Promise.resolve()).finally(() => res.destroy()));
            return;
          }
          res.write(frame);
          end = pending.indexOf('\n\n');
        }
      }
      res.end(pending);
    } catch (err) {
      if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' });
      res.end(String(err));
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    replaceAnswers: (rule) => void replacements.push({ ...rule }),
    cutStream: (rule) => void cuts.push({ ...rule }),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
