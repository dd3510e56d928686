/**
 * Real-time sync over WebSockets in the real runtime (design invariant 4: ordered, gap-free sync;
 * invariant 1: tenant isolation): sockets on GET /v1/sync/ws reached through the Worker's fetch
 * handler, the TenantHub's hibernatable sessions, catch-up with ?since=, socket mutations with
 * clientMutationId, hub eviction with hibernated sockets, and optimistic concurrency with If-Match.
 */
import { evictDurableObject, runDurableObjectAlarm, runInDurableObject } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import type { TenantHub } from '../../../durable-objects/tenant-hub/tenant-hub';
import { asChange, nextChanges, untilSynced } from '../../support/shared/sync';
import { hub } from '../../support/workers/durable-objects';
import { call, expectJson } from '../../support/workers/http';
import { addMember, createApiKey, signup } from '../../support/workers/tenants';
import { openSync, upgrade, type WorkerWebSocket } from '../../support/workers/websocket';
import { createTask, type Json, reminderRows, settled, syncPage } from './_support';

/** Reads frames until the ack of `clientMutationId`; returns the change frames seen before it and the ack. */
async function untilAck(sock: WorkerWebSocket, clientMutationId: string): Promise<{ changes: Json[]; ack: Json }> {
  const changes: Json[] = [];
  for (;;) {
    const f = await sock.nextJson();
    if (f.type === 'ack') {
      expect(f.clientMutationId).toBe(clientMutationId);
      return { changes, ack: f };
    }
    expect(f.type).toBe('change');
    changes.push(f);
  }
}

function versions(frames: Json[]): number[] {
  return frames.map((f) => f.version);
}

function range(from: number, count: number): number[] {
  return Array.from({ length: count }, (_, i) => from + i);
}

describe('sync sockets: live changes', () => {
  it('two devices (a member JWT and an API key) both receive an HTTP change, in order, as GET /v1/sync has it', async () => {
    const owner = await signup('ws-two');
    const member = await addMember(owner, 'member');
    const key = await createApiKey(owner, 'member');
    const phone = await openSync(member.accessToken);
    const laptop = await openSync(key.key);
    const s1 = await untilSynced(phone);
    const s2 = await untilSynced(laptop);
    expect(s1).toEqual(s2);
    const v0 = s1.version;

    const a = await createTask(owner, { title: 'Buy milk', labels: ['home'] });
    const patched = await expectJson(
      await call(`/v1/tasks/${a.id}`, { method: 'PATCH', token: member.accessToken, body: { priority: 1 } }),
    );
    const b = await createTask(key.key, { title: 'Book flights' });
    const done = await expectJson(await call(`/v1/tasks/${a.id}/complete`, { method: 'POST', token: key.key }));
    expect((await call(`/v1/tasks/${b.id}`, { method: 'DELETE', token: owner.accessToken })).status).toBe(204);

    const log = await syncPage(owner.accessToken, v0);
    expect(versions(log.changes)).toEqual(range(v0 + 1, 5));
    expect(log.changes.map((c) => [c.entityId, c.op])).toEqual([
      [a.id, 'upsert'],
      [a.id, 'upsert'],
      [b.id, 'upsert'],
      [a.id, 'upsert'],
      [b.id, 'delete'],
    ]);
    expect(log.changes[1]!.data).toEqual(patched);
    expect(log.changes[3]!.data).toEqual(done);
    expect(log.changes[4]!.data).toBeNull();

    for (const sock of [phone, laptop]) {
      const frames = await nextChanges(sock, 5);
      expect(frames.map(asChange)).toEqual(log.changes);
      expect(sock.pending).toEqual([]);
    }
    await Promise.all([phone.close(), laptop.close()]);
  });

  it('answers {type:"ping"} with pong; upgrades only with a credential (header or ?ticket=) and an Upgrade header', async () => {
    const owner = await signup('ws-auth');
    const { ticket } = await (await call('/v1/stream-tickets', { token: owner.accessToken, body: { path: '/v1/sync/ws' } })).json<{
      ticket: string;
    }>();
    const viaQuery = await openSync(undefined, { ticket });
    await untilSynced(viaQuery);
    viaQuery.send({ type: 'ping' });
    expect(await viaQuery.nextJson()).toEqual({ type: 'pong' });
    await viaQuery.close();

    const anonymous = await upgrade('/v1/sync/ws');
    expect(anonymous.status).toBe(401);
    expect(anonymous.webSocket).toBeNull();
    const bad = await upgrade('/v1/sync/ws?ticket=not-a-ticket');
    expect(bad.status).toBe(401);
    const plain = await call('/v1/sync/ws', { token: owner.accessToken });
    expect(plain.status).toBe(400);
    expect(plain.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  });
});

describe('sync sockets: reconnect catch-up', () => {
  it('a socket that missed N changes gets exactly those, in order, no gap, no duplicate, then synced, then live', async () => {
    const owner = await signup('ws-catchup');
    const key = await createApiKey(owner, 'member');
    const first = await createTask(owner, { title: 'seen' });
    const sock = await openSync(key.key);
    const caught = await untilSynced(sock);
    expect(caught.changes.map((c) => c.entityId)).toEqual([first.id]);
    const lastSeen = caught.version;
    await sock.close();

    // While the device is away: 6 changes of every kind.
    const t = await createTask(owner, { title: 'missed 1', dueAt: '2030-01-01T10:00:00Z', recurrence: 'FREQ=WEEKLY' });
    await expectJson(await call(`/v1/tasks/${t.id}`, { method: 'PATCH', token: owner.accessToken, body: { notes: 'bring the keys' } }));
    await expectJson(await call(`/v1/tasks/${t.id}/complete`, { method: 'POST', token: owner.accessToken }));
    await expectJson(await call(`/v1/tasks/${first.id}/complete`, { method: 'POST', token: owner.accessToken }));
    await expectJson(await call(`/v1/tasks/${first.id}/reopen`, { method: 'POST', token: owner.accessToken }));
    expect((await call(`/v1/tasks/${first.id}`, { method: 'DELETE', token: owner.accessToken })).status).toBe(204);
    const missed = await syncPage(owner.accessToken, lastSeen);
    expect(versions(missed.changes)).toEqual(range(lastSeen + 1, 6));

    const back = await openSync(key.key, { since: lastSeen });
    const again = await untilSynced(back);
    expect(again.changes.map(asChange)).toEqual(missed.changes);
    expect(again.version).toBe(lastSeen + 6);

    // ... and then live, continuing the same sequence.
    const live = await createTask(owner, { title: 'live' });
    const [frame] = await nextChanges(back, 1);
    expect(frame).toMatchObject({ version: lastSeen + 7, entityId: live.id, op: 'upsert' });

    // Reconnecting with the latest version: nothing to catch up.
    const current = await openSync(key.key, { since: lastSeen + 7 });
    expect(await untilSynced(current)).toEqual({ changes: [], version: lastSeen + 7 });
    await Promise.all([back.close(), current.close()]);
  });

  it('a catch-up longer than one page (500) is complete and ordered', async () => {
    const owner = await signup('ws-long');
    const sock = await openSync(owner.accessToken);
    const { version: v0 } = await untilSynced(sock);
    await sock.close();
    const actor = { id: owner.userId, role: 'admin' as const };
    const N = 520;
    await runInDurableObject(hub(owner.tenantId), async (h: TenantHub) => {
      for (let i = 0; i < N; i++) {
        const r = await h.createTask(owner.tenantId, actor, { title: `bulk ${i}` });
        if (!r.ok) throw new Error(r.detail);
      }
    });
    const back = await openSync(owner.accessToken, { since: v0 });
    const { changes, version } = await untilSynced(back, 10_000);
    expect(versions(changes)).toEqual(range(v0 + 1, N));
    expect(changes.map((c) => c.data.title)).toEqual(range(0, N).map((i) => `bulk ${i}`));
    expect(version).toBe(v0 + N);
    await back.close();
  });
});

describe('sync sockets: isolation and roles', () => {
  it("another tenant's socket never receives a change", async () => {
    const a = await signup('ws-iso-a');
    const b = await signup('ws-iso-b');
    const bKey = await createApiKey(b, 'admin');
    const sockA = await openSync(a.accessToken);
    const sockB = await openSync(bKey.key);
    await untilSynced(sockA);
    const bStart = await untilSynced(sockB);

    const aIds: string[] = [];
    for (const title of ['a1', 'a2', 'a3']) aIds.push((await createTask(a, { title })).id);
    await expectJson(await call(`/v1/tasks/${aIds[0]}/complete`, { method: 'POST', token: a.accessToken }));
    // B's own change is the next (and only) thing B's socket sees.
    const sentinel = await createTask(b, { title: 'b sentinel' });
    const [bFrame] = await nextChanges(sockB, 1);
    expect(bFrame).toMatchObject({ entityId: sentinel.id, version: bStart.version + 1 });
    // And A's socket sees A's four changes, then A's next one: never B's.
    const last = await createTask(a, { title: 'a4' });
    const aFrames = await nextChanges(sockA, 5);
    expect(aFrames.map((f) => f.entityId)).toEqual([...aIds, aIds[0], last.id]);

    // B catching up from 0 sees none of A's ids either.
    const fresh = await openSync(b.accessToken, { since: 0 });
    const caught = await untilSynced(fresh);
    const text = JSON.stringify([bFrame, caught, sockB.pending]);
    for (const id of [...aIds, last.id, a.tenantId]) expect(text).not.toContain(id);
    await Promise.all([sockA.close(), sockB.close(), fresh.close()]);
  });

  it('a viewer socket receives changes but its mutations are refused and change nothing', async () => {
    const owner = await signup('ws-viewer');
    const viewer = await addMember(owner, 'viewer');
    const viewerKey = await createApiKey(owner, 'viewer');
    const existing = await createTask(owner, { title: 'read only for viewers' });
    for (const token of [viewer.accessToken, viewerKey.key]) {
      const sock = await openSync(token);
      const { version } = await untilSynced(sock);
      const t = await createTask(owner, { title: 'visible to viewers' });
      const [frame] = await nextChanges(sock, 1);
      expect(frame).toMatchObject({ entity: 'task', entityId: t.id, op: 'upsert', version: version + 1 });

      sock.send({ type: 'mutate', clientMutationId: 'v-create', op: 'task.create', input: { title: 'nope' } });
      expect(await sock.nextJson()).toMatchObject({ type: 'ack', clientMutationId: 'v-create', ok: false, code: 'forbidden' });
      sock.send({ type: 'mutate', clientMutationId: 'v-update', op: 'task.update', taskId: existing.id, input: { title: 'defaced' } });
      expect(await sock.nextJson()).toMatchObject({ type: 'ack', clientMutationId: 'v-update', ok: false, code: 'forbidden' });
      sock.send({ type: 'mutate', clientMutationId: 'v-delete', op: 'task.delete', taskId: existing.id });
      expect(await sock.nextJson()).toMatchObject({ type: 'ack', clientMutationId: 'v-delete', ok: false, code: 'forbidden' });

      expect((await syncPage(owner.accessToken)).version).toBe(version + 1);
      expect(await expectJson(await call(`/v1/tasks/${existing.id}`, { token: owner.accessToken }))).toEqual(existing);
      expect(sock.pending).toEqual([]);
      await sock.close();
    }
  });
});

describe('sync sockets: mutations', () => {
  it('a mutation with a clientMutationId applies once when replayed (reply says replayed) and reaches the other socket', async () => {
    const owner = await signup('ws-mutate');
    const member = await addMember(owner, 'member');
    const key = await createApiKey(owner, 'member');
    const phone = await openSync(member.accessToken);
    const laptop = await openSync(key.key);
    await untilSynced(phone);
    const { version: v0 } = await untilSynced(laptop);

    const create = { type: 'mutate', clientMutationId: 'cm-1', op: 'task.create', input: { title: 'From the phone', labels: ['Errands'] } };
    phone.send(create);
    const first = await untilAck(phone, 'cm-1');
    expect(first.ack).toMatchObject({
      ok: true,
      result: { title: 'From the phone', labels: ['errands'], createdBy: member.userId, version: v0 + 1 },
    });
    expect(first.ack.replayed).toBeUndefined();
    const task = first.ack.result as Json;
    // The sender sees its own change (before the ack), the other device sees it too.
    expect(first.changes.map(asChange)).toEqual([
      { version: v0 + 1, entity: 'task', entityId: task.id, op: 'upsert', data: task, occurredAt: task.createdAt },
    ]);
    expect((await nextChanges(laptop, 1)).map(asChange)).toEqual(first.changes.map(asChange));

    // The phone did not see the ack (connection dropped) and sends it again: same answer, nothing applied.
    phone.send(create);
    const replay = await untilAck(phone, 'cm-1');
    expect(replay.changes).toEqual([]);
    expect(replay.ack).toEqual({ ...first.ack, replayed: true });

    // Pipelined duplicates (no wait between them) apply once too.
    const update = {
      type: 'mutate',
      clientMutationId: 'cm-2',
      op: 'task.update',
      taskId: task.id,
      ifMatch: task.version,
      input: { priority: 2 },
    };
    phone.send(update);
    phone.send(update);
    const u1 = await untilAck(phone, 'cm-2');
    const u2 = await untilAck(phone, 'cm-2');
    expect(u1.ack).toMatchObject({ ok: true, result: { priority: 2, version: v0 + 2 } });
    expect(u1.changes).toHaveLength(1);
    expect(u2).toEqual({ changes: [], ack: { ...u1.ack, replayed: true } });

    // A failed mutation is remembered as well: its replay gives the same failure.
    const stale = {
      type: 'mutate',
      clientMutationId: 'cm-3',
      op: 'task.update',
      taskId: task.id,
      ifMatch: task.version,
      input: { priority: 3 },
    };
    phone.send(stale);
    const s1 = await untilAck(phone, 'cm-3');
    expect(s1.ack).toMatchObject({ ok: false, code: 'precondition_failed' });
    phone.send(stale);
    expect((await untilAck(phone, 'cm-3')).ack).toEqual({ ...s1.ack, replayed: true });

    // Client mutation ids are per actor: the laptop's own 'cm-1' is a new mutation.
    laptop.send({ type: 'mutate', clientMutationId: 'cm-1', op: 'task.complete', taskId: task.id });
    const l1 = await untilAck(laptop, 'cm-1');
    expect(l1.changes.map((c) => c.version)).toEqual([v0 + 2, v0 + 3]);
    expect(l1.ack).toMatchObject({ ok: true, result: { status: 'done', version: v0 + 3 } });

    // A sentinel over HTTP: the phone's next frames are exactly the laptop's change and the sentinel.
    const sentinel = await createTask(owner, { title: 'sentinel' });
    expect(versions(await nextChanges(phone, 2))).toEqual([v0 + 3, v0 + 4]);
    expect(sentinel.version).toBe(v0 + 4);
    const tasks = await expectJson(await call('/v1/tasks?limit=100', { token: owner.accessToken }));
    expect(tasks.data.map((t: Json) => t.title).sort()).toEqual(['From the phone', 'sentinel']);
    await Promise.all([phone.close(), laptop.close()]);
  });

  it('bad frames get an error reply, and the socket stays usable', async () => {
    const owner = await signup('ws-bad');
    const sock = await openSync(owner.accessToken);
    await untilSynced(sock);
    sock.send('not json');
    expect(await sock.nextJson()).toMatchObject({ type: 'error', code: 'malformed_json' });
    sock.send({ type: 'mutate', op: 'task.create' });
    expect(await sock.nextJson()).toMatchObject({ type: 'error', code: 'validation_failed' });
    sock.send({ type: 'mutate', clientMutationId: 'x', op: 'task.create', input: { title: '' } });
    expect(await sock.nextJson()).toMatchObject({ type: 'ack', clientMutationId: 'x', ok: false, code: 'validation_failed' });
    sock.send({
      type: 'mutate',
      clientMutationId: 'y',
      op: 'task.update',
      taskId: 'tsk_00000000000000000000000000',
      input: { title: 'ghost' },
    });
    expect(await sock.nextJson()).toMatchObject({ type: 'ack', clientMutationId: 'y', ok: false, code: 'not_found' });
    sock.send({ type: 'mutate', clientMutationId: 'z', op: 'task.create', input: { title: 'fine' } });
    expect((await untilAck(sock, 'z')).ack).toMatchObject({ ok: true, result: { title: 'fine' } });
    await sock.close();
  });
});

describe('sync sockets: hub eviction with hibernated sockets', () => {
  it('after the hub is evicted (sockets hibernated), changes, mutations and reminders still reach the sockets', async () => {
    const owner = await signup('ws-evict');
    const member = await addMember(owner, 'member');
    const key = await createApiKey(owner, 'member');
    await createTask(owner, { title: 'before eviction' });
    const phone = await openSync(member.accessToken);
    const laptop = await openSync(key.key);
    await untilSynced(phone);
    const { version: v0 } = await untilSynced(laptop);

    await evictDurableObject(hub(owner.tenantId), { webSockets: 'hibernate' });

    // An HTTP change wakes a fresh instance, which pushes only the new change to both sockets.
    const t = await createTask(owner, {
      title: 'after eviction',
      dueAt: new Date(Date.now() + 3600_000).toISOString(),
      reminders: [{ before: 'PT30M' }],
    });
    for (const sock of [phone, laptop])
      expect(await nextChanges(sock, 1)).toEqual([expect.objectContaining({ version: v0 + 1, entityId: t.id })]);

    // The socket's identity (its attachment) survived hibernation: a mutation is attributed to the member.
    await evictDurableObject(hub(owner.tenantId), { webSockets: 'hibernate' });
    phone.send({ type: 'mutate', clientMutationId: 'after-evict', op: 'task.create', input: { title: 'typed after eviction' } });
    const { ack, changes } = await untilAck(phone, 'after-evict');
    expect(ack).toMatchObject({ ok: true, result: { createdBy: member.userId, version: v0 + 2 } });
    expect(versions(changes)).toEqual([v0 + 2]);
    expect(versions(await nextChanges(laptop, 1))).toEqual([v0 + 2]);

    // Auto-response pings work while hibernated.
    await evictDurableObject(hub(owner.tenantId), { webSockets: 'hibernate' });
    laptop.send({ type: 'ping' });
    expect(await laptop.nextJson()).toEqual({ type: 'pong' });

    // A reminder delivered by the alarm of a fresh instance reaches the hibernated sockets.
    await settled(owner.tenantId, Date.parse(t.nextReminderAt));
    const [row] = await reminderRows(owner.tenantId, t.id);
    await runInDurableObject(hub(owner.tenantId), (_i, state) => {
      state.storage.sql.exec(`UPDATE reminders SET fire_at = ? WHERE id = ?`, Date.now() - 1_000, row!.id);
    });
    await evictDurableObject(hub(owner.tenantId), { webSockets: 'hibernate' });
    expect(await runDurableObjectAlarm(hub(owner.tenantId))).toBe(true);
    // The notification, then the task whose nextReminderAt moved on (no reminder left: null).
    for (const sock of [phone, laptop]) {
      expect(await nextChanges(sock, 2)).toEqual([
        expect.objectContaining({ version: v0 + 3, entity: 'notification', op: 'upsert' }),
        expect.objectContaining({
          version: v0 + 4,
          entity: 'task',
          entityId: t.id,
          data: expect.objectContaining({ nextReminderAt: null }),
        }),
      ]);
    }
    expect(phone.pending).toEqual([]);
    expect(laptop.pending).toEqual([]);
    await Promise.all([phone.close(), laptop.close()]);
  });
});

describe('optimistic concurrency', () => {
  it('concurrent PATCHes with the same If-Match: exactly one 200, the rest 412, one change', async () => {
    const owner = await signup('ifmatch');
    const key = await createApiKey(owner, 'member');
    const t = await createTask(owner, { title: 'contended' });
    const sock = await openSync(owner.accessToken, { since: t.version });
    await untilSynced(sock);
    const N = 6;
    const results = await Promise.all(
      range(0, N).map((i) =>
        call(`/v1/tasks/${t.id}`, {
          method: 'PATCH',
          token: i % 2 ? key.key : owner.accessToken,
          headers: { 'if-match': `"v${t.version}"` },
          body: { title: `edit ${i}` },
        }),
      ),
    );
    const statuses = results.map((r) => r.status);
    expect(statuses.filter((s) => s === 200)).toHaveLength(1);
    expect(statuses.filter((s) => s === 412)).toHaveLength(N - 1);
    const winner = results[statuses.indexOf(200)]!;
    const won = await expectJson(winner);
    expect(winner.headers.get('etag')).toBe(`"v${won.version}"`);
    for (const r of results.filter((x) => x.status === 412)) {
      expect(r.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      expect(await r.json()).toMatchObject({ status: 412 });
    }
    expect(await expectJson(await call(`/v1/tasks/${t.id}`, { token: owner.accessToken }))).toEqual(won);
    const log = await syncPage(owner.accessToken, t.version);
    expect(log.changes.map((c) => c.data)).toEqual([won]);
    expect((await nextChanges(sock, 1)).map((f) => f.data)).toEqual([won]);

    // The same race over two sockets: one ok, one precondition_failed.
    const other = await openSync(key.key, { since: won.version });
    await untilSynced(other);
    sock.send({
      type: 'mutate',
      clientMutationId: 'race-a',
      op: 'task.update',
      taskId: t.id,
      ifMatch: won.version,
      input: { title: 'socket a' },
    });
    other.send({
      type: 'mutate',
      clientMutationId: 'race-b',
      op: 'task.update',
      taskId: t.id,
      ifMatch: won.version,
      input: { title: 'socket b' },
    });
    const [a, b] = await Promise.all([untilAck(sock, 'race-a'), untilAck(other, 'race-b')]);
    expect([a.ack.ok, b.ack.ok].sort()).toEqual([false, true]);
    expect([a.ack, b.ack].find((x) => !x.ok)).toMatchObject({ code: 'precondition_failed' });
    expect((await syncPage(owner.accessToken, won.version)).changes).toHaveLength(1);
    await Promise.all([sock.close(), other.close()]);
  });
});

/**
 * docs/security.md: a revoked key or a removed member is refused at once by the isolate that made the
 * change (and everywhere within 30 s); a demoted member's role is cut under the same bound. An open
 * sync socket is a standing grant of the tenant's change stream and of mutations, so it must follow.
 */
describe('sync sockets: revocation', () => {
  /** 'closed' when the server closes the socket, 'frame:<type>' when it still sends something. */
  async function fate(sock: WorkerWebSocket): Promise<string> {
    return Promise.race([
      sock.closed.then(() => 'closed'),
      sock.nextJson(10_000).then(
        (f) => `frame:${f.type}`,
        () => 'closed',
      ),
    ]);
  }

  it("a revoked API key's socket stops receiving the tenant's changes", async () => {
    const owner = await signup('ws-revoke');
    const key = await createApiKey(owner, 'member');
    const sock = await openSync(key.key);
    await untilSynced(sock);
    expect((await call(`/v1/api-keys/${key.id}`, { method: 'DELETE', token: owner.accessToken })).status).toBe(204);
    expect((await call('/v1/tasks', { token: key.key })).status).toBe(401);
    await createTask(owner, { title: 'secret plans after revocation' });
    expect(await fate(sock)).toBe('closed');
  });

  it("a removed member's socket stops receiving the tenant's changes", async () => {
    const owner = await signup('ws-remove');
    const member = await addMember(owner, 'member');
    const sock = await openSync(member.accessToken);
    await untilSynced(sock);
    expect((await call(`/v1/members/${member.userId}`, { method: 'DELETE', token: owner.accessToken })).status).toBe(204);
    await createTask(owner, { title: 'after the member left' });
    expect(await fate(sock)).toBe('closed');
  });

  it('a member demoted to viewer can no longer mutate over an open socket', async () => {
    const owner = await signup('ws-demote');
    const member = await addMember(owner, 'member');
    const sock = await openSync(member.accessToken);
    await untilSynced(sock);
    expect(
      (await call(`/v1/members/${member.userId}`, { method: 'PATCH', token: owner.accessToken, body: { role: 'viewer' } })).status,
    ).toBe(200);
    expect((await call('/v1/tasks', { token: member.accessToken, body: { title: 'over HTTP' } })).status).toBe(403);
    sock.send({ type: 'mutate', clientMutationId: 'demoted', op: 'task.create', input: { title: 'over the socket' } });
    const frame = await Promise.race([sock.closed.then(() => ({ type: 'closed' }) as Json), untilAck(sock, 'demoted').then((r) => r.ack)]);
    expect(frame.type === 'closed' || frame.ok === false).toBe(true);
    const tasks = await expectJson(await call('/v1/tasks', { token: owner.accessToken }));
    expect(tasks.data.map((t: Json) => t.title)).not.toContain('over the socket');
  });
});
