/**
 * The tenant comes from the credential only: a tenant id in the query, headers, body or a forged
 * cursor never reaches another tenant's rows. (Per-resource isolation, 404 on every route of another
 * tenant's id, is the table in test/workers/isolation.test.ts.)
 */
import { describe, expect, it } from 'vitest';
import { call, expectJson, expectProblem } from '../../support/workers/http';
import { addMember, createApiKey, signup } from '../../support/workers/tenants';
import { snapshotTenant } from './_support';

async function setupTenants() {
  const a = await signup('iso-a');
  const b = await signup('iso-b');
  const bKey = await createApiKey(b, 'admin');
  return { a, b: { admin: b, key: bKey.key } };
}

describe('tenant isolation: the tenant comes from the credential only', () => {
  it('/v1/me and /v1/tenant ignore a tenant id in the query, headers or body', async () => {
    const { a, b } = await setupTenants();
    const nameA = (await expectJson(await call('/v1/tenant', { token: a.accessToken }), 200)).name;
    const me = await expectJson(
      await call(`/v1/me?tenantId=${a.tenantId}&tid=${a.tenantId}`, { token: b.admin.accessToken, headers: { 'x-tenant-id': a.tenantId } }),
      200,
    );
    expect(me.tenant.id).toBe(b.admin.tenantId);
    const t = await expectJson(
      await call(`/v1/tenant?tenantId=${a.tenantId}`, { token: b.key, headers: { 'x-tenant-id': a.tenantId } }),
      200,
    );
    expect(t.id).toBe(b.admin.tenantId);
    await expectProblem(
      await call('/v1/tenant', { method: 'PATCH', token: b.admin.accessToken, body: { name: 'pwned', tenantId: a.tenantId } }),
      422,
    );
    expect((await expectJson(await call('/v1/tenant', { token: a.accessToken }), 200)).name).toBe(nameA);
  });

  it("B's lists (members, invitations, api-keys, audit-log) contain only B's rows", async () => {
    const { a, b } = await setupTenants();
    const aMember = await addMember(a, 'member');
    await createApiKey(a, 'viewer');
    const aSnapshot = await snapshotTenant(a.tenantId);
    const aIds = new Set<string>([a.userId, aMember.userId, a.tenantId]);
    for (const inv of aSnapshot.invitations as Array<{ id: string }>) aIds.add(inv.id);
    for (const k of aSnapshot.api_keys as Array<{ id: string }>) aIds.add(k.id);
    for (const path of ['/v1/members?limit=100', '/v1/invitations?limit=100', '/v1/api-keys?limit=100', '/v1/audit-log?limit=100']) {
      for (const token of [b.admin.accessToken, b.key]) {
        const text = JSON.stringify(await expectJson(await call(path, { token }), 200));
        for (const aid of aIds) expect(text, `${path} leaks ${aid}`).not.toContain(aid);
      }
    }
  });

  it("a forged cursor holding A's id does not reveal A's rows", async () => {
    const { a, b } = await setupTenants();
    const keyA = await createApiKey(a, 'viewer');
    const cursor = btoa('key_zzzzzzzzzzzzzzzzzzzzzzzzzz').replace(/=+$/, '');
    const page = await expectJson(await call(`/v1/api-keys?cursor=${cursor}`, { token: b.admin.accessToken }), 200);
    expect(JSON.stringify(page)).not.toContain(keyA.id);
  });
});
