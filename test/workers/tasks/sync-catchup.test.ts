/**
 * Bounded sync catch-up and the compacted change log (issue 12, item 4): a history too long to
 * replay answers one `resync` frame, the client reloads from GET /v1/sync/snapshot plus the live
 * frames after it and ends with exactly the server's state; compaction keeps the latest change per
 * entity; a `since` older than the tombstone horizon is told to resync, never given a gap.
 */
import { runInDurableObject } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { sinceTooOld } from '../../../durable-objects/tenant-hub/sync-log';
import type { TenantHub } from '../../../durable-objects/tenant-hub/tenant-hub';
import { untilSynced } from '../../support/shared/sync';
import { driveAlarms, hub } from '../../support/workers/durable-objects';
import { call, expectJson, expectProblem } from '../../support/workers/http';
import { signup, type TestTenant } from '../../support/workers/tenants';
import { openSync, type WorkerWebSocket } from '../../support/workers/websocket';
import { createTask, currentVersion, type Json, syncPage } from './_support';
import { seedHistory, startRetentionPass } from './_sync-history';

/** Changes written straight into the hub's log (the bench writes 200k: scripts/bench/sync-catchup.mjs). */
const CHANGES = 20_000;
const ENTITIES = 200;
const SOCKETS = 5;
const HOUR = 3600_000;

type State = Map<string, Json>;

function apply(state: State, c: Json): void {
  const key = `${c.entity}:${c.entityId}`;
  if (c.op === 'delete') state.delete(key);
  else if (c.entity !== 'run') state.set(key, c.data);
}

/** What a client does after `resync`: every snapshot page, then the live frames after the snapshot's version. */
async function resyncFromSnapshot(owner: TestTenant): Promise<{ state: State; version: number }> {
  const state: State = new Map();
  let cursor: string | null = null;
  let version: number | undefined;
  do {
    const page: Json = await expectJson(
      await call(`/v1/sync/snapshot?limit=37${cursor ? `&cursor=${cursor}` : ''}`, { token: owner.accessToken }),
    );
    version ??= page.version;
    expect(page.version).toBe(version);
    expect(page.data.length).toBeLessThanOrEqual(37);
    for (const item of page.data) state.set(`${item.entity}:${item.entityId}`, item.data);
    cursor = page.nextCursor;
  } while (cursor);
  return { state, version: version! };
}

/** The server's truth: every task and notification through the public lists. */
async function serverState(owner: TestTenant): Promise<State> {
  const state: State = new Map();
  for (const [entity, path] of [
    ['task', '/v1/tasks'],
    ['notification', '/v1/notifications'],
  ] as const) {
    let cursor: string | null = null;
    do {
      const page: Json = await expectJson(
        await call(`${path}?limit=100${cursor ? `&cursor=${cursor}` : ''}`, { token: owner.accessToken }),
      );
      for (const item of page.data) state.set(`${entity}:${item.id}`, item);
      cursor = page.nextCursor;
    } while (cursor);
  }
  return state;
}

/** Reads live frames up to `until`, applying those after the snapshot's version. */
async function applyLive(sock: WorkerWebSocket, state: State, from: number, snapshotVersion: number, until: number): Promise<void> {
  let seen = from;
  while (seen < until) {
    const f = await sock.nextJson();
    expect(f.type).toBe('change');
    expect(f.version).toBeGreaterThan(seen);
    seen = f.version;
    if (f.version > snapshotVersion) apply(state, f);
  }
}

async function changeCount(tenantId: string): Promise<number> {
  return runInDurableObject(
    hub(tenantId),
    (_i, state) => state.storage.sql.exec<{ n: number }>(`SELECT COUNT(*) AS n FROM changes`).one().n,
  );
}

describe('sync catch-up is bounded', () => {
  it(`${SOCKETS} sockets at since=0 over ${CHANGES} changes: one small resync frame each, then snapshot + live frames miss nothing; writes meanwhile succeed`, async () => {
    const owner = await signup('catchup');
    await seedHistory(owner.tenantId, { changes: CHANGES, entities: ENTITIES, ageMs: 0 });
    await runInDurableObject(hub(owner.tenantId), (instance: TenantHub) =>
      instance.createSystemNotification(owner.tenantId, { id: 'ntf_catchup_system', title: 'Heads up', body: 'a system notification' }),
    );
    const before = await currentVersion(owner.accessToken);

    const opening = Promise.all(Array.from({ length: SOCKETS }, () => openSync(owner.accessToken, { since: 0 })));
    const writes = Promise.all(
      Array.from({ length: SOCKETS }, (_, i) => call('/v1/tasks', { token: owner.accessToken, body: { title: `during ${i}` } })),
    );
    const sockets = await opening;
    expect((await writes).map((r) => r.status)).toEqual(Array(SOCKETS).fill(201));

    const firsts: Json[] = [];
    for (const sock of sockets) {
      const raw = await sock.next();
      expect(typeof raw === 'string' && raw.length).toBeLessThan(200);
      const first = JSON.parse(raw as string);
      expect(first).toMatchObject({ type: 'resync', reason: 'too_far_behind', snapshot: '/v1/sync/snapshot' });
      expect(first.version).toBeGreaterThanOrEqual(before);
      firsts.push(first);
    }

    // A write after every socket is registered reaches them all live.
    await createTask(owner, { title: 'after the handshakes' });
    const latest = await currentVersion(owner.accessToken);
    const truth = await serverState(owner);
    expect(truth.size).toBe(ENTITIES + SOCKETS + 2);
    // Admin notices are private to admins (GET /v1/notifications): never on the shared log or its snapshot.
    expect(truth.has('notification:ntf_catchup_system')).toBe(true);
    truth.delete('notification:ntf_catchup_system');
    for (const [i, sock] of sockets.entries()) {
      const { state, version } = await resyncFromSnapshot(owner);
      await applyLive(sock, state, firsts[i]!.version, version, latest);
      expect(state).toEqual(truth);
      expect(sock.pending).toEqual([]);
    }
    await Promise.all(sockets.map((s) => s.close()));
  });

  it('compaction keeps the latest change per entity; then since=0 fits in one catch-up again', async () => {
    const owner = await signup('compact');
    await seedHistory(owner.tenantId, { changes: CHANGES, entities: ENTITIES, ageMs: 2 * HOUR });
    const sock = await openSync(owner.accessToken, { since: 0 });
    expect(await sock.nextJson()).toMatchObject({ type: 'resync', reason: 'too_far_behind' });
    await sock.close();

    await startRetentionPass(owner.tenantId);
    const left = await driveAlarms(
      hub(owner.tenantId),
      async () => {
        const n = await changeCount(owner.tenantId);
        return n === ENTITIES ? n : undefined;
      },
      { timeoutMs: 120_000, what: 'compaction to finish' },
    );
    expect(left).toBe(ENTITIES);

    // What is left is the latest change of each task, equal to the task itself.
    const page = await syncPage(owner.accessToken, 0, 1000);
    expect(page.hasMore).toBe(false);
    const tasks = await serverState(owner);
    expect(page.changes).toHaveLength(ENTITIES);
    for (const c of page.changes) expect(c.data).toEqual(tasks.get(`task:${c.entityId}`));

    const again = await openSync(owner.accessToken, { since: 0 });
    const caught = await untilSynced(again);
    expect(caught.changes).toHaveLength(ENTITIES);
    await again.close();
  });

  it('a since older than the tombstone horizon answers the resync signal (HTTP 410, socket frame); a newer one pages normally', async () => {
    const owner = await signup('horizon');
    const kept = await createTask(owner, { title: 'kept' });
    const gone = await createTask(owner, { title: 'gone' });
    const seenBeforeDelete = await currentVersion(owner.accessToken);
    expect((await call(`/v1/tasks/${gone.id}`, { method: 'DELETE', token: owner.accessToken })).status).toBe(204);
    const deletedAt = await currentVersion(owner.accessToken);

    // Eight days pass: the delete is past the 7-day horizon.
    await runInDurableObject(hub(owner.tenantId), (_i, state) => {
      state.storage.sql.exec(`UPDATE changes SET occurred_at = ?`, new Date(Date.now() - 8 * 24 * HOUR).toISOString());
    });
    await startRetentionPass(owner.tenantId);
    await runInDurableObject(hub(owner.tenantId), (_i, state) => expect(sinceTooOld(state.storage.sql, seenBeforeDelete)).toBe(true));

    const problem = await expectProblem(await call(`/v1/sync?since=${seenBeforeDelete}`, { token: owner.accessToken }), 410);
    expect(problem).toMatchObject({ code: 'resync_required', reason: 'since_too_old', snapshot: '/v1/sync/snapshot', version: deletedAt });
    const sock = await openSync(owner.accessToken, { since: seenBeforeDelete });
    expect(await sock.nextJson()).toEqual({ type: 'resync', reason: 'since_too_old', version: deletedAt, snapshot: '/v1/sync/snapshot' });
    await sock.close();

    // A client that saw the delete, and one that holds nothing, are served from the log.
    expect((await syncPage(owner.accessToken, deletedAt)).changes).toEqual([]);
    const fromZero = await syncPage(owner.accessToken, 0);
    expect(fromZero.changes.map((c) => c.entityId)).toEqual([kept.id]);
    const snapshot = await expectJson(await call('/v1/sync/snapshot', { token: owner.accessToken }));
    expect(snapshot.data.map((i: Json) => i.entityId)).toEqual([kept.id]);
    expect(snapshot.version).toBe(deletedAt);
    // A snapshot cursor is checked like a since.
    const stale = btoa(`${seenBeforeDelete}:task:`).replace(/=+$/, '');
    expect((await expectProblem(await call(`/v1/sync/snapshot?cursor=${stale}`, { token: owner.accessToken }), 410)).code).toBe(
      'resync_required',
    );
    expect(
      (await expectProblem(await call(`/v1/sync/snapshot?cursor=${btoa('nope')}`, { token: owner.accessToken }), 422)).errors[0].path,
    ).toBe('cursor');
  });
});
