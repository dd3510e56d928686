/** The sync protocol over a `TestWebSocket` (GET /v1/sync/ws): catch-up, change frames, acks. */
import { expect } from 'vitest';
import type { TestWebSocket } from './websocket';

type Json = Record<string, any>;

/** Reads the catch-up up to `{type:'synced'}`; returns the change frames and the synced version. */
export async function untilSynced(sock: TestWebSocket, timeoutMs?: number): Promise<{ changes: Json[]; version: number }> {
  const changes: Json[] = [];
  for (;;) {
    const f = await sock.nextJson<Json>(timeoutMs);
    if (f.type === 'synced') return { changes, version: f.version };
    expect(f, `expected a change frame, got ${JSON.stringify(f).slice(0, 200)}`).toMatchObject({ type: 'change' });
    changes.push(f);
  }
}

/** The change frames a socket receives next, exactly `n` of them (anything else fails). */
export async function nextChanges(sock: TestWebSocket, n: number): Promise<Json[]> {
  const out: Json[] = [];
  while (out.length < n) {
    const f = await sock.nextJson<Json>();
    expect(f, `expected a change frame, got ${JSON.stringify(f).slice(0, 200)}`).toMatchObject({ type: 'change' });
    out.push(f);
  }
  return out;
}

/** A change frame without the transport's `type`, to compare with GET /v1/sync's changes. */
export function asChange(frame: Json): Json {
  const { type: _t, ...rest } = frame;
  return rest;
}
