// Idempotency-Key on POST: replay within 24 h, 422 on a different body, 409 while in flight, scoped per credential.

import { runInDurableObject } from 'cloudflare:test';
import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import { LEASE_MS } from '../../../src/middleware/idempotency';
import { MAX_TOOL_REQUEST_MS } from '../../../src/tools/model';
import { call, json } from '../../support/workers/http';
import { addMember, createApiKey, signup, type TestTenant } from '../../support/workers/tenants';
import { receiverUrl } from './_support';

const hookBody = (tag: string) => ({ url: `${receiverUrl()}/hooks/idem-${tag}`, eventTypes: ['task.created'] });
const post = (owner: { accessToken: string } | string, path: string, body: unknown, key?: string) =>
  call(path, { token: typeof owner === 'string' ? owner : owner.accessToken, body, headers: key ? { 'idempotency-key': key } : {} });

async function hookCount(owner: TestTenant): Promise<number> {
  return (await json(await call('/v1/webhooks', { token: owner.accessToken }))).data.length;
}

describe('Idempotency-Key', () => {
  it('replays the first response (status, body, Location-like headers) without doing the work again', async () => {
    const owner = await signup('idem-replay');
    const first = await post(owner, '/v1/webhooks', hookBody('a'), 'key-replay-1');
    expect(first.status).toBe(201);
    expect(first.headers.get('idempotent-replayed')).toBeNull();
    const firstBody = await first.text();
    const again = await post(owner, '/v1/webhooks', hookBody('a'), 'key-replay-1');
    expect(again.status).toBe(201);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(again.headers.get('content-type')).toMatch(/^application\/json/);
    expect(await again.text()).toBe(firstBody); // including the secret: same response, shown to the same caller
    expect(await hookCount(owner)).toBe(1);
    // Without the key the same body is a new request.
    expect((await post(owner, '/v1/webhooks', hookBody('a'))).status).toBe(201);
    expect(await hookCount(owner)).toBe(2);
  });

  it('works on any POST, e.g. creating a task', async () => {
    const owner = await signup('idem-task');
    const a = await json(await post(owner, '/v1/tasks', { title: 'once' }, 'task-key-1'));
    const b = await json(await post(owner, '/v1/tasks', { title: 'once' }, 'task-key-1'));
    expect(b.id).toBe(a.id);
    expect((await json(await call('/v1/tasks', { token: owner.accessToken }))).data).toHaveLength(1);
  });

  it('answers 422 idempotency_key_reused for the same key with another body or route', async () => {
    const owner = await signup('idem-reuse');
    expect((await post(owner, '/v1/webhooks', hookBody('b'), 'key-reuse')).status).toBe(201);
    const other = await post(owner, '/v1/webhooks', hookBody('c'), 'key-reuse');
    expect(other.status).toBe(422);
    expect(await json(other)).toMatchObject({
      code: 'idempotency_key_reused',
      type: 'https://edgecrew.dev/problems/idempotency-key-reused',
    });
    expect((await post(owner, '/v1/tasks', { title: 'x' }, 'key-reuse')).status).toBe(422);
    expect(await hookCount(owner)).toBe(1);
  });

  it('answers 409 to a duplicate while the first is in flight', async () => {
    const owner = await signup('idem-inflight');
    // The first request holds the key (as it does between claim and completion).
    const hub = env.TENANT_HUB.get(env.TENANT_HUB.idFromName(owner.tenantId));
    const body = JSON.stringify(hookBody('d'));
    const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(`POST /v1/webhooks\n${body}`));
    const print = [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join('');
    expect(await hub.idempotencyBegin(owner.tenantId, `${owner.userId}:key-busy`, print, { leaseMs: LEASE_MS, ttlMs: 86_400_000 })).toEqual(
      {
        state: 'started',
      },
    );
    const res = await call('/v1/webhooks', {
      token: owner.accessToken,
      rawBody: body,
      headers: { 'content-type': 'application/json', 'idempotency-key': 'key-busy' },
    });
    expect(res.status).toBe(409);
    expect(res.headers.get('retry-after')).toBe('1');
    expect(await hookCount(owner)).toBe(0);
  });

  it('concurrent duplicates do the work exactly once', async () => {
    const owner = await signup('idem-race');
    const results = await Promise.all(Array.from({ length: 6 }, () => post(owner, '/v1/webhooks', hookBody('e'), 'key-race')));
    const statuses = results.map((r) => r.status);
    const fresh = results.filter((r) => r.status === 201 && r.headers.get('idempotent-replayed') === null);
    expect(fresh).toHaveLength(1);
    expect(statuses.every((s) => s === 201 || s === 409)).toBe(true);
    expect(await hookCount(owner)).toBe(1);
  });

  it('is scoped per tenant and credential', async () => {
    const owner = await signup('idem-scope');
    const key = await createApiKey(owner, 'admin');
    const other = await signup('idem-scope-b');
    expect((await post(owner, '/v1/webhooks', hookBody('f'), 'shared-key')).status).toBe(201);
    const viaKey = await post(key.key, '/v1/webhooks', hookBody('f'), 'shared-key');
    expect(viaKey.status).toBe(201);
    expect(viaKey.headers.get('idempotent-replayed')).toBeNull();
    const otherTenant = await post(other, '/v1/webhooks', hookBody('f'), 'shared-key');
    expect(otherTenant.headers.get('idempotent-replayed')).toBeNull();
    expect(await hookCount(owner)).toBe(2);
  });

  it('stores client errors too, and validates the key', async () => {
    const owner = await signup('idem-4xx');
    const bad = await post(owner, '/v1/webhooks', { url: 'not a url at all' }, 'key-4xx');
    expect(bad.status).toBe(422);
    const again = await post(owner, '/v1/webhooks', { url: 'not a url at all' }, 'key-4xx');
    expect(again.status).toBe(422);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    const invalid = await post(owner, '/v1/webhooks', hookBody('g'), 'bad key with spaces');
    expect(invalid.status).toBe(422);
    expect((await json(invalid)).errors[0]).toMatchObject({ in: 'header', path: 'Idempotency-Key' });
  });

  it('a replay passes the permission check again: a demoted admin cannot replay a key creation to read the key', async () => {
    const owner = await signup('idem-demote');
    const admin = await addMember(owner, 'admin', 'idem-demoted');
    const first = await post(admin, '/v1/api-keys', { name: 'k', role: 'admin' }, 'key-demote');
    expect(first.status).toBe(201);
    const patched = await call(`/v1/members/${admin.userId}`, { method: 'PATCH', token: owner.accessToken, body: { role: 'member' } });
    expect(patched.status).toBe(200);
    const replay = await post(admin, '/v1/api-keys', { name: 'k', role: 'admin' }, 'key-demote');
    expect(replay.status).toBe(403);
    expect(await replay.text()).not.toContain('ek_live_');
  });

  it('stores responses sealed: the one-time secret is not in the hub in plaintext, yet the same caller gets its replay', async () => {
    const owner = await signup('idem-sealed');
    const first = await json(await post(owner, '/v1/api-keys', { name: 'sealed', role: 'member' }, 'key-sealed'));
    const again = await post(owner, '/v1/api-keys', { name: 'sealed', role: 'member' }, 'key-sealed');
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect((await json(again)).key).toBe(first.key);
    const hub = env.TENANT_HUB.get(env.TENANT_HUB.idFromName(owner.tenantId));
    const stored = await runInDurableObject(hub, (_o, state) =>
      state.storage.sql
        .exec<{ response: string }>('SELECT response FROM idempotency_keys')
        .toArray()
        .map((r) => r.response),
    );
    expect(stored).toHaveLength(1);
    expect(stored[0]).not.toContain(first.key);
    expect(stored[0]).not.toContain('ek_live_');
  });

  describe('a committed write is never answered 500 because its idempotency record failed', () => {
    /** From outside, in the hub's own storage: completing a key's record (state → done) aborts, so the write commits first and then its record fails. */
    const failRecords = (tenantId: string, on: boolean) =>
      runInDurableObject(env.TENANT_HUB.get(env.TENANT_HUB.idFromName(tenantId)), (_o, state) =>
        state.storage.sql.exec(
          on
            ? `CREATE TRIGGER fault_idempotency_complete BEFORE UPDATE ON idempotency_keys WHEN NEW.state = 'done' BEGIN SELECT RAISE(ABORT, 'injected: idempotency record'); END`
            : 'DROP TRIGGER fault_idempotency_complete',
        ),
      );
    const keyState = (tenantId: string) =>
      runInDurableObject(env.TENANT_HUB.get(env.TENANT_HUB.idFromName(tenantId)), (_o, state) =>
        state.storage.sql.exec<{ state: string }>('SELECT state FROM idempotency_keys').toArray(),
      );

    it('a task (written in the hub): the client gets its 201, and the write happened once', async () => {
      const owner = await signup('idem-record-task');
      await failRecords(owner.tenantId, true);
      const first = await post(owner, '/v1/tasks', { title: 'committed once' }, 'record-fails-1');
      expect(first.status).toBe(201);
      const task = await json(first);
      expect(task).toMatchObject({ title: 'committed once', status: 'open' });
      // The record did fail: the key is still only claimed, so a retry is told to wait, not run again.
      expect(await keyState(owner.tenantId)).toEqual([{ state: 'in_flight' }]);
      await failRecords(owner.tenantId, false);
      const retry = await post(owner, '/v1/tasks', { title: 'committed once' }, 'record-fails-1');
      expect(retry.status).toBe(409);
      const list = (await json(await call('/v1/tasks', { token: owner.accessToken }))).data as Array<{ id: string }>;
      expect(list.map((t) => t.id)).toEqual([task.id]);
    });

    it('a webhook (written in D1): the client gets its 201 with the one-time secret, and the write happened once', async () => {
      const owner = await signup('idem-record-hook');
      await failRecords(owner.tenantId, true);
      const first = await post(owner, '/v1/webhooks', hookBody('record'), 'record-fails-2');
      expect(first.status).toBe(201);
      expect((await json(first)).secret).toMatch(/^whsec_/);
      await failRecords(owner.tenantId, false);
      expect((await post(owner, '/v1/webhooks', hookBody('record'), 'record-fails-2')).status).toBe(409);
      expect(await hookCount(owner)).toBe(1);
    });
  });

  it('the claim outlasts the longest request a route can make (a tool invocation), so a retry never runs it twice', () => {
    expect(LEASE_MS).toBeGreaterThan(MAX_TOOL_REQUEST_MS);
  });

  it('auth routes never store, even with a valid bearer (their answers carry sessions)', async () => {
    const owner = await signup('idem-auth');
    const body = { refreshToken: owner.refreshToken };
    const first = await call('/v1/auth/refresh', { token: owner.accessToken, body, headers: { 'idempotency-key': 'auth-1' } });
    expect(first.status).toBe(200);
    const second = await call('/v1/auth/refresh', { token: owner.accessToken, body, headers: { 'idempotency-key': 'auth-1' } });
    expect(second.headers.get('idempotent-replayed')).toBeNull();
    expect(second.status).toBe(401); // the used refresh token, not a replay of the fresh pair
  });

  it('ignores the key on unauthenticated POSTs (no tenant to scope it by)', async () => {
    const res = await call('/v1/auth/login', {
      body: { email: 'nobody@example.com', password: 'x' },
      headers: { 'idempotency-key': 'anon-1' },
    });
    expect(res.status).toBe(401);
    expect(res.headers.get('idempotent-replayed')).toBeNull();
  });
});
