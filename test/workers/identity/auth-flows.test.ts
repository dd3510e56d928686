/** Sign-up, login, /v1/me, /v1/tenant, logout and refresh as a client sees them. */
import { describe, expect, it } from 'vitest';
import { call, expectJson, expectProblem } from '../../support/workers/http';
import { addMember, PASSWORD, signup, uniqueEmail } from '../../support/workers/tenants';
import { forgeAccessToken, getStatus, joinExisting, login, loginOk, refresh, stableProblem, tenantName } from './_support';

describe('POST /v1/auth/signup', () => {
  it('returns 201 with user, tenant, access and refresh tokens', async () => {
    const email = uniqueEmail('signup');
    const res = await call('/v1/auth/signup', { body: { email, password: PASSWORD, name: 'Ana', tenantName: 'Acme' } });
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    const body = await expectJson(res, 201);
    expect(body.user).toMatchObject({ email, name: 'Ana' });
    expect(body.user.id).toMatch(/^usr_/);
    expect(body.tenant).toMatchObject({ name: 'Acme', plan: 'free' });
    expect(body.tenant.id).toMatch(/^tnt_/);
    expect(body.role).toBe('admin');
    expect(typeof body.accessToken).toBe('string');
    expect(body.accessToken.split('.')).toHaveLength(3);
    expect(body.refreshToken).toMatch(/^ert_/);
    expect(body.tokenType).toBe('Bearer');
    expect(body.expiresIn).toBe(900);
    const text = JSON.stringify(body);
    expect(text).not.toContain(PASSWORD);
    expect(text).not.toMatch(/hash/i);
    // The new access token works at once.
    const me = await expectJson(await call('/v1/me', { token: body.accessToken }), 200);
    expect(me.tenant.id).toBe(body.tenant.id);
  });

  it('rejects a duplicate email with 409, also when it differs only in case', async () => {
    const owner = await signup('dup');
    await expectProblem(
      await call('/v1/auth/signup', { body: { email: owner.email, password: PASSWORD, name: 'B', tenantName: 'Other' } }),
      409,
    );
    await expectProblem(
      await call('/v1/auth/signup', { body: { email: owner.email.toUpperCase(), password: PASSWORD, name: 'B', tenantName: 'Other' } }),
      409,
    );
  });

  it.each([
    ['too short', 'Sh0rt!'],
    ['too common', 'password123'],
    ['repetitive', 'aaaaaaaaaaaa'],
  ])('rejects a weak password (%s) with 422 naming `password`', async (_label, password) => {
    const body = await expectProblem(
      await call('/v1/auth/signup', { body: { email: uniqueEmail('weak'), password, name: 'W', tenantName: 'Weak' } }),
      422,
    );
    expect(body.errors.map((e: { path: string }) => e.path)).toContain('password');
  });

  it('two concurrent sign-ups with one email: one 201, the other 409 (never 500)', async () => {
    const email = uniqueEmail('signup-race');
    const results = await Promise.all(
      [0, 1].map((i) => call('/v1/auth/signup', { body: { email, password: PASSWORD, name: `R${i}`, tenantName: `R${i}` } })),
    );
    expect(results.map((r) => r.status).sort()).toEqual([201, 409]);
  });

  it('rejects a password containing the email local part with 422', async () => {
    const email = uniqueEmail('localpart');
    const local = email.split('@')[0]!;
    const body = await expectProblem(
      await call('/v1/auth/signup', { body: { email, password: `${local}-X1!`, name: 'L', tenantName: 'L' } }),
      422,
    );
    expect(body.errors.map((e: { path: string }) => e.path)).toContain('password');
  });
});

describe('POST /v1/auth/login', () => {
  it('signs in with the right password', async () => {
    const owner = await signup('login');
    const body = await expectJson(await login(owner.email), 200);
    expect(body.user.id).toBe(owner.userId);
    expect(body.tenant.id).toBe(owner.tenantId);
    expect(body.role).toBe('admin');
    expect(body.refreshToken).toMatch(/^ert_/);
    expect(body.expiresIn).toBe(900);
    expect(body.tenants).toEqual([expect.objectContaining({ id: owner.tenantId, role: 'admin' })]);
    expect(await getStatus('/v1/me', body.accessToken)).toBe(200);
  });

  it('is case-insensitive on the email', async () => {
    const owner = await signup('case');
    expect((await login(owner.email.toUpperCase())).status).toBe(200);
  });

  it('answers a wrong password and an unknown email identically (401, same body but requestId/instance)', async () => {
    const owner = await signup('enum');
    const wrong = await login(owner.email, 'Not-The-Right-Passw0rd');
    const unknown = await login(uniqueEmail('nobody'), 'Not-The-Right-Passw0rd');
    expect(wrong.status).toBe(401);
    expect(unknown.status).toBe(wrong.status);
    expect(wrong.headers.get('content-type')).toBe(unknown.headers.get('content-type'));
    expect(wrong.headers.get('www-authenticate')).toBe(unknown.headers.get('www-authenticate'));
    const a = await expectProblem(wrong, 401);
    const b = await expectProblem(unknown, 401);
    expect(stableProblem(a)).toEqual(stableProblem(b));
    expect(a.instance).toBe(b.instance);
  });

  it('with `tenantId` signs in to that tenant when the user belongs to two', async () => {
    const user = await signup('two-tenants');
    const other = await signup('other-owner');
    await joinExisting(other, user, 'viewer');

    const first = await expectJson(await login(user.email), 200);
    expect(first.tenant.id).toBe(user.tenantId);
    expect(first.tenants.map((t: { id: string }) => t.id).sort()).toEqual([user.tenantId, other.tenantId].sort());

    const picked = await expectJson(await login(user.email, PASSWORD, other.tenantId), 200);
    expect(picked.tenant.id).toBe(other.tenantId);
    expect(picked.role).toBe('viewer');
    const me = await expectJson(await call('/v1/me', { token: picked.accessToken }), 200);
    expect(me.tenant.id).toBe(other.tenantId);
    expect(me.role).toBe('viewer');
    expect(me.tenants.map((t: { id: string }) => t.id).sort()).toEqual([user.tenantId, other.tenantId].sort());

    const back = await expectJson(await login(user.email, PASSWORD, user.tenantId), 200);
    expect(back.tenant.id).toBe(user.tenantId);
    expect(back.role).toBe('admin');
  });

  it('with a `tenantId` the user does not belong to is the same generic 401', async () => {
    const user = await signup('not-mine');
    const stranger = await signup('stranger');
    const res = await login(user.email, PASSWORD, stranger.tenantId);
    const body = await expectProblem(res, 401);
    const generic = await expectProblem(await login(user.email, 'Not-The-Right-Passw0rd'), 401);
    expect(stableProblem(body)).toEqual(stableProblem(generic));
  });
});

describe('GET /v1/me', () => {
  it('describes the caller, tenant and role', async () => {
    const owner = await signup('me');
    const me = await expectJson(await call('/v1/me', { token: owner.accessToken }), 200);
    expect(me.actor).toEqual({ type: 'user', id: owner.userId });
    expect(me.user).toMatchObject({ id: owner.userId, email: owner.email });
    expect(me.apiKey).toBeNull();
    expect(me.tenant.id).toBe(owner.tenantId);
    expect(me.role).toBe('admin');
    expect(me.tenants).toEqual([expect.objectContaining({ id: owner.tenantId, role: 'admin' })]);
    expect(JSON.stringify(me)).not.toMatch(/hash/i);
  });

  it('without a credential is 401 problem+json', async () => {
    const res = await call('/v1/me');
    expect(res.headers.get('www-authenticate')).toMatch(/^Bearer/);
    await expectProblem(res, 401);
  });
});

describe('GET/PATCH /v1/tenant', () => {
  it('admin reads and renames the tenant', async () => {
    const owner = await signup('tenant');
    const before = await expectJson(await call('/v1/tenant', { token: owner.accessToken }), 200);
    expect(before).toMatchObject({ id: owner.tenantId, plan: 'free' });
    const after = await expectJson(
      await call('/v1/tenant', { method: 'PATCH', token: owner.accessToken, body: { name: '  Renamed Co  ' } }),
      200,
    );
    expect(after).toMatchObject({ id: owner.tenantId, name: 'Renamed Co', plan: 'free' });
    expect(await tenantName(owner)).toBe('Renamed Co');
  });

  it('a member reads (200) but cannot PATCH (403, unchanged)', async () => {
    const owner = await signup('tenant-m');
    const member = await addMember(owner, 'member');
    const before = await tenantName(owner);
    expect(await getStatus('/v1/tenant', member.accessToken)).toBe(200);
    await expectProblem(await call('/v1/tenant', { method: 'PATCH', token: member.accessToken, body: { name: 'Hijacked' } }), 403);
    expect(await tenantName(owner)).toBe(before);
  });
});

describe('POST /v1/auth/logout', () => {
  it('with a refresh token revokes that family (refresh then fails), other sessions survive', async () => {
    const owner = await signup('logout');
    const other = await loginOk(owner.email);
    const res = await call('/v1/auth/logout', { body: { refreshToken: owner.refreshToken } });
    expect(res.status).toBe(204);
    await expectProblem(await refresh(owner.refreshToken), 401);
    // Another family (a separate login) is untouched.
    expect((await refresh(other.refreshToken)).status).toBe(200);
  });

  it('revokes successors too: a rotated token of the logged-out family fails', async () => {
    const owner = await signup('logout-chain');
    const next = await expectJson(await refresh(owner.refreshToken), 200);
    expect((await call('/v1/auth/logout', { body: { refreshToken: next.refreshToken } })).status).toBe(204);
    await expectProblem(await refresh(next.refreshToken), 401);
  });

  it('with a refresh token still works when the client also sends its expired access token', async () => {
    const owner = await signup('logout-expired');
    // The usual moment to sign out is after the access token has expired; the refresh token is the proof.
    const expired = await forgeAccessToken({
      sub: owner.userId,
      tid: owner.tenantId,
      role: 'admin',
      iat: Math.floor(Date.now() / 1000) - 3600,
      exp: Math.floor(Date.now() / 1000) - 60,
    });
    const res = await call('/v1/auth/logout', { token: expired, body: { refreshToken: owner.refreshToken } });
    expect(res.status).toBe(204);
    await expectProblem(await refresh(owner.refreshToken), 401);
  });

  it('is safe to repeat and with an unknown token (204)', async () => {
    const owner = await signup('logout-twice');
    expect((await call('/v1/auth/logout', { body: { refreshToken: owner.refreshToken } })).status).toBe(204);
    expect((await call('/v1/auth/logout', { body: { refreshToken: owner.refreshToken } })).status).toBe(204);
    expect((await call('/v1/auth/logout', { body: { refreshToken: 'ert_unknown-token' } })).status).toBe(204);
  });

  it('with a bearer and no body revokes every session of the user in the tenant', async () => {
    const owner = await signup('logout-all');
    const second = await loginOk(owner.email);
    const third = await loginOk(owner.email);
    const res = await call('/v1/auth/logout', { method: 'POST', token: third.accessToken });
    expect(res.status).toBe(204);
    for (const rt of [owner.refreshToken, second.refreshToken, third.refreshToken]) {
      await expectProblem(await refresh(rt), 401);
    }
  });

  it('with a bearer and no body does not touch another user of the tenant', async () => {
    const owner = await signup('logout-scope');
    const member = await addMember(owner, 'member');
    expect((await call('/v1/auth/logout', { method: 'POST', token: owner.accessToken })).status).toBe(204);
    expect((await refresh(member.refreshToken)).status).toBe(200);
  });

  it('with neither a token nor a bearer is 401', async () => {
    await expectProblem(await call('/v1/auth/logout', { method: 'POST' }), 401);
  });
});

describe('POST /v1/auth/refresh', () => {
  it('rotates: the new access token works, the new refresh token differs, the old one then fails', async () => {
    const owner = await signup('refresh');
    const next = await expectJson(await refresh(owner.refreshToken), 200);
    expect(next.tokenType).toBe('Bearer');
    expect(next.expiresIn).toBe(900);
    expect(next.refreshToken).toMatch(/^ert_/);
    expect(next.refreshToken).not.toBe(owner.refreshToken);
    expect(next.accessToken).not.toBe(owner.accessToken);
    const me = await expectJson(await call('/v1/me', { token: next.accessToken }), 200);
    expect(me.actor.id).toBe(owner.userId);
    expect(me.tenant.id).toBe(owner.tenantId);
    await expectProblem(await refresh(owner.refreshToken), 401);
  });

  it('can chain several rotations', async () => {
    const owner = await signup('refresh-chain');
    let rt = owner.refreshToken;
    for (let i = 0; i < 3; i++) {
      const next = await expectJson(await refresh(rt), 200);
      expect(await getStatus('/v1/me', next.accessToken)).toBe(200);
      rt = next.refreshToken;
    }
  });

  it('rejects garbage and access tokens as refresh tokens (401)', async () => {
    const owner = await signup('refresh-garbage');
    await expectProblem(await refresh('ert_not-a-real-token'), 401);
    await expectProblem(await refresh(owner.accessToken), 401);
  });
});
