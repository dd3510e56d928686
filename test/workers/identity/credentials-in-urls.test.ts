/**
 * Issue 13: credentials stay out of URLs (stream tickets instead of ?access_token=) and failed
 * authentication costs the attacker (a per-IP budget before any lookup).
 */
import { describe, expect, it } from 'vitest';
import { untilSynced } from '../../support/shared/sync';
import { call, expectJson, expectProblem } from '../../support/workers/http';
import { startOfUsableWindow } from '../../support/workers/rate-limits';
import { createApiKey, signup, type TestTenant } from '../../support/workers/tenants';
import { openSync, upgrade } from '../../support/workers/websocket';
import { createFlow, startRun, transform } from '../flows/_engine-kit';

async function ticketFor(t: TestTenant | string, path: string): Promise<string> {
  const token = typeof t === 'string' ? t : t.accessToken;
  const body = await expectJson(await call('/v1/stream-tickets', { token, body: { path } }), 201);
  expect(body.path).toBe(path);
  expect(Date.parse(body.expiresAt) - Date.now()).toBeLessThanOrEqual(60_000);
  return body.ticket;
}

describe('stream tickets', () => {
  it('open the sync socket once; a second use, another path or no ticket is a 401', async () => {
    const owner = await signup('ticket-sync');
    const ticket = await ticketFor(owner, '/v1/sync/ws');
    const ws = await openSync(undefined, { ticket });
    await untilSynced(ws);
    ws.send({ type: 'ping' });
    expect(await ws.nextJson()).toEqual({ type: 'pong' });
    await ws.close();
    // Single use.
    expect((await upgrade(`/v1/sync/ws?ticket=${encodeURIComponent(ticket)}`)).status).toBe(401);
    // Bound to its path: a ticket for a run stream does not open the sync socket.
    const other = await ticketFor(owner, '/v1/runs/run_nope/events');
    expect((await upgrade(`/v1/sync/ws?ticket=${encodeURIComponent(other)}`)).status).toBe(401);
    // Forged: another tenant's id with a made-up secret.
    const forged = `stk_${owner.tenantId}.${'A'.repeat(43)}`;
    expect((await upgrade(`/v1/sync/ws?ticket=${forged}`)).status).toBe(401);
  });

  it('open a run event stream (SSE) for an API key too; only stream paths get tickets', async () => {
    const owner = await signup('ticket-sse');
    const key = await createApiKey(owner, 'viewer');
    const flowId = await createFlow(owner, { nodes: [transform('a', '1')], edges: [] });
    const run = await startRun(owner, flowId);
    const path = `/v1/runs/${run.id}/events`;
    const ticket = await ticketFor(key.key, path);
    const res = await call(`${path}?ticket=${encodeURIComponent(ticket)}`, { headers: { accept: 'text/event-stream' } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    await res.body?.cancel();
    const bad = await expectProblem(await call('/v1/stream-tickets', { token: owner.accessToken, body: { path: '/v1/tasks' } }), 422);
    expect(bad.errors[0]).toMatchObject({ path: 'path' });
    // Another tenant's ticket for this run's path opens nothing: the run is not theirs (404, as everywhere).
    const other = await signup('ticket-sse-other');
    const foreign = await ticketFor(other, path);
    expect((await call(`${path}?ticket=${encodeURIComponent(foreign)}`, { headers: { accept: 'text/event-stream' } })).status).toBe(404);
    // A ticket is no credential for anything else.
    const t2 = await ticketFor(owner, path);
    expect((await call(`/v1/tasks?ticket=${encodeURIComponent(t2)}`)).status).toBe(401);
  });

  it('access tokens and API keys in the query string are refused on every stream', async () => {
    const owner = await signup('ticket-query');
    const key = await createApiKey(owner, 'member');
    for (const credential of [owner.accessToken, key.key]) {
      const sync = await upgrade(`/v1/sync/ws?access_token=${encodeURIComponent(credential)}`);
      expect(sync.status).toBe(401);
      expect(await sync.text()).toContain('Credentials in URLs are refused');
      expect((await call(`/v1/runs/run_x/events?access_token=${encodeURIComponent(credential)}`)).status).toBe(401);
      expect((await upgrade(`/v1/runs/run_x/ws?access_token=${encodeURIComponent(credential)}`)).status).toBe(401);
    }
  });
});

describe('failed authentication per IP', () => {
  it('random API keys from one address end in 429 before lookup; another address and valid callers are unaffected', {
    timeout: 60_000,
  }, async () => {
    const owner = await signup('authfail');
    const ip = '203.0.113.77';
    // The 70 attempts and the checks after them in one limiter window (60 per 60 s).
    await startOfUsableWindow(20_000);
    const statuses: number[] = [];
    for (let i = 0; i < 70; i++) {
      const res = await call('/v1/tasks', { token: `ek_live_${crypto.randomUUID().replaceAll('-', '')}`, ip });
      statuses.push(res.status);
      await res.body?.cancel();
    }
    expect(statuses.slice(0, 10).every((s) => s === 401)).toBe(true);
    expect(statuses.at(-1)).toBe(429);
    // Refused before lookup: even the owner's valid token from that address waits out the window.
    const blocked = await call('/v1/tasks', { token: owner.accessToken, ip });
    expect(blocked.status).toBe(429);
    expect(blocked.headers.get('retry-after')).toBe('60');
    expect((await call('/v1/tasks', { token: owner.accessToken })).status).toBe(200);
  });
});
