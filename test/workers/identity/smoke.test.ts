import { describe, expect, it } from 'vitest';
import { call, json } from '../../support/workers/http';
import { addMember, createApiKey, signup } from '../../support/workers/tenants';

describe('identity smoke', () => {
  it('signup → me → invite → accept → api key', async () => {
    const owner = await signup();
    const me = await call('/v1/me', { token: owner.accessToken });
    expect(me.status).toBe(200);
    const member = await addMember(owner, 'member');
    expect(member.tenantId).toBe(owner.tenantId);
    const key = await createApiKey(owner, 'viewer');
    const viaKey = await call('/v1/tenant', { token: key.key });
    expect(viaKey.status).toBe(200);
    expect((await json(viaKey)).id).toBe(owner.tenantId);
  });
});
