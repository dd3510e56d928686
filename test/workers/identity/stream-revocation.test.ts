/**
 * Issue 13: run streams (SSE and WebSocket) end when the credential that opened them does — key
 * revocation, member removal, token expiry — as hub sync sockets already do.
 */
import { describe, expect, it } from 'vitest';
import { SseReader } from '../../support/shared/sse';
import { call, expectJson } from '../../support/workers/http';
import { addMember, createApiKey, signup, type TestTenant } from '../../support/workers/tenants';
import { openSocket } from '../../support/workers/websocket';
import { approval, createFlow, startRun, waitFor } from '../flows/_engine-kit';
import { forgeAccessToken } from './_support';

/** A run that stays open (waiting on an approval), so its streams stay open until something ends them. */
async function waitingRun(owner: TestTenant): Promise<string> {
  const flowId = await createFlow(owner, { nodes: [approval('gate')], edges: [] });
  const run = await startRun(owner, flowId);
  await waitFor(owner, run.id, ['waiting']);
  return run.id;
}

async function openEvents(runId: string, token: string): Promise<SseReader> {
  const res = await call(`/v1/runs/${runId}/events`, { token, headers: { accept: 'text/event-stream' } });
  expect(res.status).toBe(200);
  return new SseReader(res);
}

describe('run streams end with their credential', () => {
  it('SSE: revoking the API key ends the stream', async () => {
    const owner = await signup('rs-key');
    const runId = await waitingRun(owner);
    const key = await createApiKey(owner, 'viewer');
    const sse = await openEvents(runId, key.key);
    await sse.until('run.waiting');
    expect((await call(`/v1/api-keys/${key.id}`, { method: 'DELETE', token: owner.accessToken })).status).toBe(204);
    expect(await sse.rest()).toEqual([]); // ends (rather than timing out), with nothing more
  });

  it('WebSocket: removing the member closes the socket with 1008', async () => {
    const owner = await signup('rs-member');
    const runId = await waitingRun(owner);
    const member = await addMember(owner, 'member', 'rs-removed');
    const ws = await openSocket(`/v1/runs/${runId}/ws`, { token: member.accessToken });
    await ws.next(); // the backlog arrives through the relay
    expect((await call(`/v1/members/${member.userId}`, { method: 'DELETE', token: owner.accessToken })).status).toBe(204);
    expect(await ws.closed).toMatchObject({ code: 1008, reason: 'credential revoked' });
  });

  it('WebSocket and SSE: an access token that expires closes them (4001 on the socket)', async () => {
    const owner = await signup('rs-expiry');
    const runId = await waitingRun(owner);
    const token = await forgeAccessToken({ sub: owner.userId, tid: owner.tenantId, exp: Math.floor(Date.now() / 1000) + 3 });
    const ws = await openSocket(`/v1/runs/${runId}/ws`, { token });
    const sse = await openEvents(runId, token);
    await sse.until('run.waiting');
    expect(await ws.closed).toMatchObject({ code: 4001, reason: 'credential expired' });
    expect(await sse.rest()).toEqual([]);
    // Still valid credentials keep their streams: the owner's socket stays and relays pings.
    const kept = await openSocket(`/v1/runs/${runId}/ws`, { token: owner.accessToken });
    kept.send('ping');
    let frame = await kept.nextJson();
    for (let i = 0; i < 20 && frame.type !== 'pong'; i++) frame = await kept.nextJson(); // after the backlog
    expect(frame).toEqual({ type: 'pong' });
    await kept.close();
  });

  it('a run WebSocket without Upgrade answers 400, not 500', async () => {
    const owner = await signup('rs-upgrade');
    const runId = await waitingRun(owner);
    const res = await call(`/v1/runs/${runId}/ws`, { token: owner.accessToken });
    expect(res.status).toBe(400);
    await expectJson(res, 400);
  });
});
