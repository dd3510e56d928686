/**
 * The `fetch` a Python tool gets in wasm mode (`from js import fetch`, or
 * `pyodide.http.pyfetch`): a WHATWG-shaped function whose requests the runner
 * makes through the invocation's egress proxy. With `network: none` it fails
 * the way a sandbox without a route does.
 */
import type { FetchReply, FetchRequest } from './channel.ts';

// Kept before lockDown() removes the host's own fetch from the global scope.
const ResponseClass = Response;
const HeadersClass = Headers;

type Bridge = (req: FetchRequest) => Promise<FetchReply>;

export async function toRequest(input: unknown, init: Record<string, unknown> | undefined): Promise<FetchRequest> {
  const url = typeof input === 'string' ? input : String((input as { url?: unknown })?.url ?? input);
  const headers: Record<string, string> = {};
  const raw = init?.headers;
  if (raw) for (const [k, v] of new HeadersClass(raw as ConstructorParameters<typeof Headers>[0])) headers[k] = v;
  let body: string | null = null;
  const b = init?.body;
  if (typeof b === 'string') body = Buffer.from(b, 'utf8').toString('base64');
  else if (b instanceof Uint8Array) body = Buffer.from(b).toString('base64');
  else if (b instanceof ArrayBuffer) body = Buffer.from(new Uint8Array(b)).toString('base64');
  else if (b !== undefined && b !== null) throw new TypeError('fetch body must be a string or bytes in the sandbox');
  return { url, method: String(init?.method ?? 'GET').toUpperCase(), headers, body };
}

export function guestFetch(bridge: Bridge, network: () => 'none' | 'allow') {
  return async function fetch(input: unknown, init?: Record<string, unknown>): Promise<Response> {
    const req = await toRequest(input, init);
    if (network() === 'none') throw new TypeError('fetch failed', { cause: new Error("network is 'none' for this tool") });
    const reply = await bridge(req);
    if (!reply.ok) throw new TypeError('fetch failed', { cause: new Error(reply.error) });
    const nullBody = reply.status === 204 || reply.status === 304 || req.method === 'HEAD';
    return new ResponseClass(nullBody ? null : Buffer.from(reply.body, 'base64'), {
      status: reply.status,
      statusText: reply.statusText,
      headers: reply.headers,
    });
  };
}
