/** Event streams inside workerd: a GET through the Worker's fetch handler read by the shared SseReader. */
import { SseReader } from '../shared/sse';
import { call } from './http';

/** Opens `path` as `text/event-stream` (resuming after `lastEventId`); throws unless it answers 200 with a body. */
export async function openSse(path: string, token: string, lastEventId?: number | string): Promise<{ res: Response; sse: SseReader }> {
  const headers: Record<string, string> = { accept: 'text/event-stream' };
  if (lastEventId !== undefined) headers['last-event-id'] = String(lastEventId);
  const res = await call(path, { token, headers });
  if (res.status !== 200 || !res.body) throw new Error(`GET ${path}: ${res.status} ${await res.text()}`);
  return { res, sse: new SseReader(res) };
}
