/** API keys: shown once, never listed with their secret, bound to a role, revocable, expiring. */
import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import { eventually, sleep } from '../../support/shared/time';
import { call, expectJson, expectProblem } from '../../support/workers/http';
import { createApiKey, signup } from '../../support/workers/tenants';
import { getStatus, tenantName } from './_support';

const SECRETISH = /hash|secret|^key$/i;

function expectNoSecretFields(view: Record<string, unknown>, secret?: string) {
  for (const field of Object.keys(view)) expect(field).not.toMatch(SECRETISH);
  if (secret) expect(JSON.stringify(view)).not.toContain(secret.slice(8));
}

describe('/v1/api-keys', () => {
  it('create returns the `ek_live_` key once; list and GET never show it or any hash', async () => {
    const owner = await signup('keys');
    const created = await expectJson(await call('/v1/api-keys', { token: owner.accessToken, body: { name: 'ci', role: 'viewer' } }), 201);
    expect(created.key).toMatch(/^ek_live_[A-Za-z0-9_-]{40,}$/);
    expect(created).toMatchObject({ name: 'ci', role: 'viewer', createdBy: owner.userId, expiresAt: null, lastUsedAt: null });
    expect(created.id).toMatch(/^key_/);
    expect(created.key.startsWith(created.prefix)).toBe(true);
    expect(created.prefix.length).toBeLessThan(created.key.length / 2);
    expect(Object.keys(created).filter((k) => /hash/i.test(k))).toEqual([]);

    const list = await expectJson(await call('/v1/api-keys', { token: owner.accessToken }), 200);
    const listed = list.data.find((k: { id: string }) => k.id === created.id);
    expect(listed).toBeDefined();
    expectNoSecretFields(listed, created.key);
    expect(JSON.stringify(list)).not.toContain(created.key);

    const one = await expectJson(await call(`/v1/api-keys/${created.id}`, { token: owner.accessToken }), 200);
    expectNoSecretFields(one, created.key);
    expect(one).toMatchObject({ id: created.id, name: 'ci', role: 'viewer', prefix: created.prefix });

    // Stored only as a hash.
    const row = await env.DB.prepare('SELECT * FROM api_keys WHERE id = ?1').bind(created.id).first<Record<string, unknown>>();
    expect(JSON.stringify(row)).not.toContain(created.key);
    expect(JSON.stringify(row)).not.toContain(created.key.slice(8));
  });

  it('defaults to role member', async () => {
    const owner = await signup('keys-default');
    const created = await expectJson(await call('/v1/api-keys', { token: owner.accessToken, body: { name: 'default' } }), 201);
    expect(created.role).toBe('member');
  });

  it('works as a Bearer on /v1/me and /v1/tenant with its own role', async () => {
    const owner = await signup('keys-use');
    const key = await createApiKey(owner, 'viewer');
    const me = await expectJson(await call('/v1/me', { token: key.key }), 200);
    expect(me.actor).toEqual({ type: 'api_key', id: key.id });
    expect(me.role).toBe('viewer');
    expect(me.user).toBeNull();
    expect(me.tenant.id).toBe(owner.tenantId);
    expect(me.apiKey).toMatchObject({ id: key.id, role: 'viewer' });
    expectNoSecretFields(me.apiKey, key.key);
    const tenant = await expectJson(await call('/v1/tenant', { token: key.key }), 200);
    expect(tenant.id).toBe(owner.tenantId);
  });

  it('a viewer key cannot PATCH /v1/tenant (403), a member key neither, an admin key can', async () => {
    const owner = await signup('keys-roles');
    const before = await tenantName(owner);
    for (const role of ['viewer', 'member'] as const) {
      const key = await createApiKey(owner, role);
      await expectProblem(await call('/v1/tenant', { method: 'PATCH', token: key.key, body: { name: `by-${role}` } }), 403);
      expect(await tenantName(owner)).toBe(before);
    }
    const admin = await createApiKey(owner, 'admin');
    const patched = await expectJson(await call('/v1/tenant', { method: 'PATCH', token: admin.key, body: { name: 'by-admin-key' } }), 200);
    expect(patched.name).toBe('by-admin-key');
  });

  it('revoke → the key stops working at once (401), GET 404, gone from the list', async () => {
    const owner = await signup('keys-revoke');
    const key = await createApiKey(owner, 'admin');
    expect(await getStatus('/v1/me', key.key)).toBe(200); // warm any cache
    expect((await call(`/v1/api-keys/${key.id}`, { method: 'DELETE', token: owner.accessToken })).status).toBe(204);
    const res = await call('/v1/me', { token: key.key });
    expect(res.headers.get('www-authenticate')).toMatch(/^Bearer/);
    await expectProblem(res, 401);
    await expectProblem(await call('/v1/tenant', { token: key.key }), 401);
    await expectProblem(await call(`/v1/api-keys/${key.id}`, { token: owner.accessToken }), 404);
    await expectProblem(await call(`/v1/api-keys/${key.id}`, { method: 'DELETE', token: owner.accessToken }), 404);
    const list = await expectJson(await call('/v1/api-keys', { token: owner.accessToken }), 200);
    expect(list.data.map((k: { id: string }) => k.id)).not.toContain(key.id);
  });

  it('a key can revoke itself and is refused right after', async () => {
    const owner = await signup('keys-self');
    const key = await createApiKey(owner, 'admin');
    expect((await call(`/v1/api-keys/${key.id}`, { method: 'DELETE', token: key.key })).status).toBe(204);
    await expectProblem(await call('/v1/me', { token: key.key }), 401);
  });

  it('an expired key → 401', { timeout: 60_000 }, async () => {
    const owner = await signup('keys-expire');
    const expiresAt = new Date(Date.now() + 2_000).toISOString();
    const created = await expectJson(
      await call('/v1/api-keys', { token: owner.accessToken, body: { name: 'short', role: 'viewer', expiresAt } }),
      201,
    );
    expect(Date.parse(created.expiresAt)).toBe(Date.parse(expiresAt));
    const status = await getStatus('/v1/me', created.key);
    // Works before it expires (checked only while clearly before, so a slow machine cannot flake this).
    if (Date.now() < Date.parse(expiresAt) - 300) expect(status).toBe(200);
    await sleep(Math.max(0, Date.parse(expiresAt) - Date.now()) + 500);
    await expectProblem(await call('/v1/me', { token: created.key }), 401);
    await expectProblem(await call('/v1/tenant', { token: created.key }), 401);
  });

  it.each([
    ['in the past', () => new Date(Date.now() - 60_000).toISOString()],
    ['now-ish (1 s ago)', () => new Date(Date.now() - 1_000).toISOString()],
    ['not a date', () => 'tomorrow'],
  ])('expiresAt %s → 422 naming expiresAt', async (_label, make) => {
    const owner = await signup('keys-bad-exp');
    const body = await expectProblem(
      await call('/v1/api-keys', { token: owner.accessToken, body: { name: 'bad', expiresAt: make() } }),
      422,
    );
    expect(body.errors.map((e: { path: string }) => e.path)).toContain('expiresAt');
    const list = await expectJson(await call('/v1/api-keys', { token: owner.accessToken }), 200);
    expect(list.data).toEqual([]);
  });

  it('rejects an unknown role and unknown fields with 422', async () => {
    const owner = await signup('keys-bad');
    const a = await expectProblem(await call('/v1/api-keys', { token: owner.accessToken, body: { name: 'x', role: 'owner' } }), 422);
    expect(a.errors.map((e: { path: string }) => e.path)).toContain('role');
    const b = await expectProblem(
      await call('/v1/api-keys', { token: owner.accessToken, body: { name: 'x', tenantId: 'tnt_other' } }),
      422,
    );
    expect(b.errors.map((e: { path: string }) => e.path)).toContain('tenantId');
  });

  it('lastUsedAt gets set after use', async () => {
    const owner = await signup('keys-last-used');
    const key = await createApiKey(owner, 'viewer');
    const before = await expectJson(await call(`/v1/api-keys/${key.id}`, { token: owner.accessToken }), 200);
    expect(before.lastUsedAt).toBeNull();
    expect(await getStatus('/v1/me', key.key)).toBe(200);
    const seen: string = await eventually(
      async () => {
        const v = await expectJson(await call(`/v1/api-keys/${key.id}`, { token: owner.accessToken }), 200);
        return v.lastUsedAt ?? undefined;
      },
      { what: 'lastUsedAt', intervalMs: 200 },
    );
    expect(Number.isNaN(Date.parse(seen))).toBe(false);
    expect(Date.parse(seen)).toBeGreaterThanOrEqual(Date.parse(before.createdAt) - 1_000);
  });

  it('a made-up key with the right prefix → 401', async () => {
    await expectProblem(await call('/v1/me', { token: `ek_live_${'A'.repeat(43)}` }), 401);
  });
});
