/**
 * Sync end to end: real HTTP and real WebSockets (over TCP) against the bundled Worker on workerd.
 * Sign up, open two sockets, create a task over HTTP and see it on both; drop one socket, change
 * things, reconnect with ?since= and get exactly what was missed, in order, then `synced`.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api as request, signup } from '../support/node/api';
import { type RunningWorker, startWorker, type TestWebSocket, WebSocketUpgradeError } from '../support/node/worker';
import { asChange, nextChanges, untilSynced } from '../support/shared/sync';

type Json = Record<string, any>;

let worker: RunningWorker;
beforeAll(async () => {
  worker = await startWorker();
});
afterAll(() => worker?.dispose());

const api = (method: string, path: string, token: string | undefined, body?: unknown) => request(worker, method, path, token, body);

async function signupTenant(tag: string): Promise<{ token: string; tenantId: string }> {
  const t = await signup(worker, `e2e-sync-${tag}`);
  return { token: t.accessToken, tenantId: t.tenantId };
}

async function open(token: string, since?: number): Promise<TestWebSocket> {
  return worker.ws(`/v1/sync/ws${since === undefined ? '' : `?since=${since}`}`, { headers: { authorization: `Bearer ${token}` } });
}

describe('sync over real WebSockets', () => {
  it('two sockets both receive an HTTP change; a reconnect with since gets exactly what it missed', async () => {
    const { token } = await signupTenant('main');
    const key = await api('POST', '/v1/api-keys', token, { name: 'laptop', role: 'member' });
    expect(key.status).toBe(201);

    const phone = await open(token);
    const laptop = await open(key.body.key);
    const [p0, l0] = await Promise.all([untilSynced(phone), untilSynced(laptop)]);
    expect(p0).toEqual(l0);

    const created = await api('POST', '/v1/tasks', token, {
      title: 'Ship the release',
      dueAt: '2031-05-01T16:00:00Z',
      timezone: 'Europe/Berlin',
    });
    expect(created.status).toBe(201);
    const [onPhone] = await nextChanges(phone, 1);
    const [onLaptop] = await nextChanges(laptop, 1);
    expect(onPhone).toEqual(onLaptop);
    expect(onPhone).toMatchObject({
      type: 'change',
      version: p0.version + 1,
      entity: 'task',
      entityId: created.body.id,
      op: 'upsert',
      data: created.body,
    });
    const lastSeen = onLaptop!.version as number;

    // The laptop goes away; the phone keeps working.
    await laptop.close();
    const changes: Array<[string, string, unknown?]> = [
      ['PATCH', `/v1/tasks/${created.body.id}`, { priority: 1 }],
      ['POST', '/v1/tasks', { title: 'Write changelog' }],
      ['POST', `/v1/tasks/${created.body.id}/complete`],
      ['POST', '/v1/tasks', { title: 'Tell the team' }],
    ];
    const ids: string[] = [];
    for (const [method, path, body] of changes) {
      const r = await api(method, path, token, body);
      expect(r.status, JSON.stringify(r.body)).toBeLessThan(300);
      if (method === 'POST' && path === '/v1/tasks') ids.push(r.body.id);
    }
    const del = await worker.fetch(`/v1/tasks/${ids[0]}`, { method: 'DELETE', headers: { authorization: `Bearer ${token}` } });
    expect(del.status).toBe(204);
    const live = await nextChanges(phone, 5);
    expect(live.map((c) => c.version)).toEqual([1, 2, 3, 4, 5].map((i) => lastSeen + i));

    // Reconnect with the last version seen: exactly the five missed changes, in order, then synced.
    const back = await open(key.body.key, lastSeen);
    const caught = await untilSynced(back);
    expect(caught.changes).toEqual(live);
    expect(caught.version).toBe(lastSeen + 5);
    expect(caught.changes.map((c) => [c.entityId, c.op])).toEqual([
      [created.body.id, 'upsert'],
      [ids[0], 'upsert'],
      [created.body.id, 'upsert'],
      [ids[1], 'upsert'],
      [ids[0], 'delete'],
    ]);
    // The same as the HTTP change log.
    const page = await api('GET', `/v1/sync?since=${lastSeen}`, token);
    expect(page.body).toEqual({ changes: caught.changes.map(asChange), version: lastSeen + 5, hasMore: false });

    // Live again on the reconnected socket.
    const after = await api('POST', '/v1/tasks', key.body.key, { title: 'Back online' });
    expect((await nextChanges(back, 1))[0]).toMatchObject({ version: lastSeen + 6, entityId: after.body.id });
    expect((await nextChanges(phone, 1))[0]).toMatchObject({ version: lastSeen + 6, entityId: after.body.id });
    await Promise.all([phone.close(), back.close()]);
  });

  it("a socket mutation reaches the other socket; another tenant's socket sees nothing of it", async () => {
    const a = await signupTenant('a');
    const b = await signupTenant('b');
    const a1 = await open(a.token);
    const a2 = await open(a.token);
    const b1 = await open(b.token);
    await Promise.all([untilSynced(a1), untilSynced(a2)]);
    const bStart = await untilSynced(b1);

    a1.send({ type: 'mutate', clientMutationId: 'e2e-1', op: 'task.create', input: { title: 'typed on a1' } });
    const [change] = await nextChanges(a1, 1);
    const ack = await a1.nextJson<Json>();
    expect(ack).toMatchObject({ type: 'ack', clientMutationId: 'e2e-1', ok: true, result: { title: 'typed on a1' } });
    expect(await nextChanges(a2, 1)).toEqual([change]);

    a1.send({ type: 'mutate', clientMutationId: 'e2e-1', op: 'task.create', input: { title: 'typed on a1' } });
    expect(await a1.nextJson()).toEqual({ ...ack, replayed: true });

    const bTask = await api('POST', '/v1/tasks', b.token, { title: 'b only' });
    const [bChange] = await nextChanges(b1, 1);
    expect(bChange).toMatchObject({ version: bStart.version + 1, entityId: bTask.body.id });
    expect(JSON.stringify(bChange)).not.toContain(change!.entityId);
    await Promise.all([a1.close(), a2.close(), b1.close()]);
  });

  it('refuses the upgrade without a credential (401)', async () => {
    const err = await worker.ws('/v1/sync/ws').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WebSocketUpgradeError);
    expect((err as WebSocketUpgradeError).status).toBe(401);
  });
});
