/** WebSockets inside workerd: an upgrade through the Worker's fetch handler, wrapped in the shared client. */
import { exports } from 'cloudflare:workers';
import { type TestWebSocket, WebSocketUpgradeError, wrapSocket } from '../shared/websocket';
import { BASE, freshIp } from './http';

export type WorkerWebSocket = TestWebSocket<WebSocket>;

/** The raw upgrade answer (to check a refusal's status and body). */
export async function upgrade(path: string, token?: string, headers: Record<string, string> = {}): Promise<Response> {
  const h: Record<string, string> = { upgrade: 'websocket', 'cf-connecting-ip': freshIp(), ...headers };
  if (token) h.authorization = `Bearer ${token}`;
  return exports.default.fetch(new Request(BASE + path, { headers: h }));
}

/** Opens a socket to `path`; rejects with `WebSocketUpgradeError` when the Worker does not answer 101. */
export async function openSocket(
  path: string,
  opts: { token?: string; query?: Record<string, string | number>; headers?: Record<string, string>; timeoutMs?: number } = {},
): Promise<WorkerWebSocket> {
  const qs = new URLSearchParams(Object.entries(opts.query ?? {}).map(([k, v]) => [k, String(v)])).toString();
  const res = await upgrade(`${path}${qs ? `${path.includes('?') ? '&' : '?'}${qs}` : ''}`, opts.token, opts.headers);
  if (res.status !== 101 || !res.webSocket) throw new WebSocketUpgradeError(res.status, res.headers, await res.text());
  return wrapSocket(res.webSocket, res.headers, opts.timeoutMs);
}

/** A sync socket (GET /v1/sync/ws) for `token`; read it with test/support/shared/sync.ts. */
export function openSync(
  token: string | undefined,
  query: Record<string, string | number> = {},
  headers: Record<string, string> = {},
): Promise<WorkerWebSocket> {
  return openSocket('/v1/sync/ws', { token, query, headers });
}
