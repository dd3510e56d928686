/** The public API of a running Worker (test/support/node/worker.ts) over real HTTP: JSON calls, tenants, event streams. */
import { SseReader } from '../shared/sse';
import { signupWith, type TestTenant } from '../shared/tenants';
import type { RunningWorker } from './worker';

type Json = Record<string, any>;

/** One JSON request; the body is parsed when there is one (`{ text }` when it is not JSON). */
export async function api(
  worker: RunningWorker,
  method: string,
  path: string,
  token?: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: Json; headers: Headers }> {
  const h: Record<string, string> = { ...headers };
  if (token) h.authorization = `Bearer ${token}`;
  if (body !== undefined) h['content-type'] = 'application/json';
  const res = await worker.fetch(path, { method, headers: h, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  let parsed: Json = {};
  try {
    parsed = text ? (JSON.parse(text) as Json) : {};
  } catch {
    parsed = { text };
  }
  return { status: res.status, body: parsed, headers: res.headers };
}

/** A new tenant on `worker` and its owner's session (the shared tenant factory over real HTTP). */
export function signup(worker: RunningWorker, tag = 'owner'): Promise<TestTenant> {
  return signupWith((path, init) => worker.fetch(path, init), tag);
}

/** Opens `path` as `text/event-stream` (resuming after `lastEventId`); throws unless it answers 200 with a body. */
export async function openSse(
  worker: RunningWorker,
  path: string,
  token: string,
  lastEventId?: number | string,
): Promise<{ res: Response; sse: SseReader }> {
  const headers: Record<string, string> = { authorization: `Bearer ${token}`, accept: 'text/event-stream' };
  if (lastEventId !== undefined) headers['last-event-id'] = String(lastEventId);
  const res = await worker.fetch(path, { headers });
  if (res.status !== 200 || !res.body) throw new Error(`GET ${path}: ${res.status} ${await res.text()}`);
  return { res, sse: new SseReader(res) };
}
