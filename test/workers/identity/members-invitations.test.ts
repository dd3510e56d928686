/** Invitations (single use, revocable, session-proofed for existing accounts) and member management. */

import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import { verifyEmail } from '../../support/workers/email';
import { call, expectJson, expectProblem } from '../../support/workers/http';
import { startOfUsableWindow } from '../../support/workers/rate-limits';
import { addMember, PASSWORD, signup, uniqueEmail } from '../../support/workers/tenants';
import { auditEntries, getStatus, invite, joinExisting, refresh, tenantName } from './_support';

async function memberRole(admin: { accessToken: string }, userId: string): Promise<string | undefined> {
  const list = await expectJson(await call('/v1/members?limit=100', { token: admin.accessToken }), 200);
  return list.data.find((m: { userId: string }) => m.userId === userId)?.role;
}

describe('invitations', () => {
  it('an admin invites: the token is returned once, status pending; GET and list never show it', async () => {
    const owner = await signup('inv');
    const email = uniqueEmail('invitee');
    const { id, token, body } = await invite(owner, email, 'viewer');
    expect(token).toMatch(/^inv_/);
    expect(id).toMatch(/^inv_/);
    expect(body).toMatchObject({ email, role: 'viewer', status: 'pending', invitedBy: owner.userId, acceptedAt: null });
    expect(Date.parse(body.expiresAt)).toBeGreaterThan(Date.now());

    const one = await expectJson(await call(`/v1/invitations/${id}`, { token: owner.accessToken }), 200);
    expect(one).toMatchObject({ id, email, role: 'viewer', status: 'pending' });
    expect(one).not.toHaveProperty('token');
    const list = await expectJson(await call('/v1/invitations', { token: owner.accessToken }), 200);
    expect(list.data.map((i: { id: string }) => i.id)).toContain(id);
    expect(JSON.stringify([one, list])).not.toContain(token);
    expect(JSON.stringify([one, list])).not.toMatch(/hash/i);
    const row = await env.DB.prepare('SELECT * FROM invitations WHERE id = ?1').bind(id).first();
    expect(JSON.stringify(row)).not.toContain(token);
  });

  it('accept creates the account and the membership with the invited role', async () => {
    const owner = await signup('inv-accept');
    const email = uniqueEmail('newbie');
    const { id, token } = await invite(owner, email, 'viewer');
    const acc = await expectJson(await call('/v1/invitations/accept', { body: { token, password: PASSWORD, name: 'Newbie' } }), 200);
    expect(acc.user).toMatchObject({ email, name: 'Newbie' });
    expect(acc.tenant.id).toBe(owner.tenantId);
    expect(acc.role).toBe('viewer');
    expect(acc.refreshToken).toMatch(/^ert_/);

    const me = await expectJson(await call('/v1/me', { token: acc.accessToken }), 200);
    expect(me).toMatchObject({ role: 'viewer', tenant: { id: owner.tenantId }, user: { email } });
    expect(await memberRole(owner, acc.user.id)).toBe('viewer');
    const inv = await expectJson(await call(`/v1/invitations/${id}`, { token: owner.accessToken }), 200);
    expect(inv.status).toBe('accepted');
    expect(inv.acceptedAt).not.toBeNull();
    // The new account can log in with its password.
    expect((await call('/v1/auth/login', { body: { email, password: PASSWORD } })).status).toBe(200);
  });

  it('a new account needs a name and a strong password (422)', async () => {
    const owner = await signup('inv-weak');
    const { token } = await invite(owner, uniqueEmail('weak'), 'member');
    const noName = await expectProblem(await call('/v1/invitations/accept', { body: { token, password: PASSWORD } }), 422);
    expect(noName.errors.map((e: { path: string }) => e.path)).toContain('name');
    const weak = await expectProblem(await call('/v1/invitations/accept', { body: { token, password: 'short', name: 'W' } }), 422);
    expect(weak.errors.map((e: { path: string }) => e.path)).toContain('password');
    // Still usable after the failed attempts.
    expect((await call('/v1/invitations/accept', { body: { token, password: PASSWORD, name: 'W' } })).status).toBe(200);
  });

  it('a token is single use: the second accept → 409', async () => {
    const owner = await signup('inv-once');
    const { token } = await invite(owner, uniqueEmail('once'), 'member');
    expect((await call('/v1/invitations/accept', { body: { token, password: PASSWORD, name: 'Once' } })).status).toBe(200);
    await expectProblem(await call('/v1/invitations/accept', { body: { token, password: PASSWORD, name: 'Twice' } }), 409);
  });

  it('concurrent accepts of one token: exactly one joins', async () => {
    const owner = await signup('inv-race');
    const { token } = await invite(owner, uniqueEmail('race'), 'member');
    const results = await Promise.all(
      [0, 1, 2].map(() => call('/v1/invitations/accept', { body: { token, password: PASSWORD, name: 'Racer' } })),
    );
    const statuses = results.map((r) => r.status).sort();
    expect(
      statuses.filter((s) => s === 200),
      `statuses ${statuses.join(',')}`,
    ).toHaveLength(1);
    // The losers are told the invitation was used (409), never an internal error.
    expect(
      statuses.filter((s) => s !== 200),
      `statuses ${statuses.join(',')}`,
    ).toEqual(statuses.filter((s) => s !== 200).map(() => 409));
    const list = await expectJson(await call('/v1/members?limit=100', { token: owner.accessToken }), 200);
    expect(list.data).toHaveLength(2);
  });

  it('accept never tells whether an email is registered: the same answers up to creating the account', async () => {
    const owner = await signup('inv-oracle');
    const registered = await signup('inv-oracle-victim');
    const a = await invite(owner, registered.email, 'member');
    const b = await invite(owner, uniqueEmail('inv-oracle-new'), 'member');
    for (const body of [{}, { password: PASSWORD }, { name: 'N' }, { password: 'short', name: 'N' }]) {
      const [ra, rb] = await Promise.all(
        [a, b].map(async (inv) => call('/v1/invitations/accept', { body: { token: inv.token, ...body } })),
      );
      const [pa, pb] = [await expectProblem(ra!, 422), await expectProblem(rb!, 422)];
      expect({ detail: pa.detail, errors: pa.errors }).toEqual({ detail: pb.detail, errors: pb.errors });
    }
  });

  it("a refused accept is audited on the victim's own tenant", async () => {
    const attacker = await signup('inv-attacker');
    const victim = await signup('inv-victim');
    const { id, token } = await invite(attacker, victim.email, 'member');
    await expectProblem(await call('/v1/invitations/accept', { body: { token, password: 'Guess-Passw0rd-1', name: 'V' } }), 401);
    const entry = (await auditEntries(victim)).find((e) => e.action === 'invitation.accept_refused');
    expect(entry).toMatchObject({ actorType: 'anonymous', targetType: 'user', targetId: victim.userId });
    expect(entry!.metadata).toMatchObject({ invitationId: id, invitingTenantId: attacker.tenantId, reason: 'bad_password' });
  });

  it("guesses through accept spend the account's login budget: from fresh IPs, they end in 429 and so does login", {
    timeout: 60_000,
  }, async () => {
    const attacker = await signup('inv-budget');
    const victim = await signup('inv-budget-victim');
    const { token } = await invite(attacker, victim.email, 'member');
    // The 12 guesses and the login after them in one limiter window (10 per 60 s).
    await startOfUsableWindow(15_000);
    const statuses: number[] = [];
    for (let i = 0; i < 12; i++) {
      const res = await call('/v1/invitations/accept', { body: { token, password: `Guess-Passw0rd-${i}`, name: 'V' } });
      statuses.push(res.status);
      await res.body?.cancel();
    }
    expect(statuses).toContain(429);
    expect(statuses.every((s) => s === 401 || s === 429)).toBe(true);
    const login = await call('/v1/auth/login', { body: { email: victim.email, password: PASSWORD } });
    expect(login.status).toBe(429);
  });

  it('a losing accept leaves no user, refresh token or audit entry behind', async () => {
    const owner = await signup('inv-lose');
    const existing = await signup('inv-lose-existing');
    await verifyEmail(existing);
    const { token } = await invite(owner, existing.email, 'member');
    const results = await Promise.all(
      [0, 1, 2, 3].map(() => call('/v1/invitations/accept', { token: existing.accessToken, body: { token } })),
    );
    expect(results.map((r) => r.status).sort()).toEqual([200, 409, 409, 409]);
    const accepted = (await auditEntries(owner)).filter((e) => e.action === 'invitation.accepted');
    expect(accepted).toHaveLength(1);
    const tokens = await env.DB.prepare('SELECT COUNT(*) AS n FROM refresh_tokens WHERE tenant_id = ?1 AND user_id = ?2')
      .bind(owner.tenantId, existing.userId)
      .first<{ n: number }>();
    expect(tokens?.n).toBe(1);

    // New accounts racing on one token: one user row for the email.
    const email = uniqueEmail('inv-lose-new');
    const inv = await invite(owner, email, 'member');
    const racers = await Promise.all(
      [0, 1, 2].map(() => call('/v1/invitations/accept', { body: { token: inv.token, password: PASSWORD, name: 'R' } })),
    );
    expect(racers.map((r) => r.status).sort()).toEqual([200, 409, 409]);
    const users = await env.DB.prepare('SELECT COUNT(*) AS n FROM users WHERE email = ?1').bind(email).first<{ n: number }>();
    expect(users?.n).toBe(1);
    expect((await auditEntries(owner)).filter((e) => e.action === 'invitation.accepted')).toHaveLength(2);
  });

  it('a revoked invitation → 410 on accept; revoking again → 409', async () => {
    const owner = await signup('inv-revoke');
    const { id, token } = await invite(owner, uniqueEmail('revoked'), 'member');
    expect((await call(`/v1/invitations/${id}`, { method: 'DELETE', token: owner.accessToken })).status).toBe(204);
    const inv = await expectJson(await call(`/v1/invitations/${id}`, { token: owner.accessToken }), 200);
    expect(inv.status).toBe('revoked');
    await expectProblem(await call('/v1/invitations/accept', { body: { token, password: PASSWORD, name: 'Late' } }), 410);
    await expectProblem(await call(`/v1/invitations/${id}`, { method: 'DELETE', token: owner.accessToken }), 409);
    const members = await expectJson(await call('/v1/members', { token: owner.accessToken }), 200);
    expect(members.data).toHaveLength(1);
  });

  it('an expired invitation → 410 on accept, status expired', async () => {
    const owner = await signup('inv-expired');
    const { id, token } = await invite(owner, uniqueEmail('expired'), 'member');
    await env.DB.prepare('UPDATE invitations SET expires_at = ?1 WHERE id = ?2')
      .bind(new Date(Date.now() - 1_000).toISOString(), id)
      .run();
    await expectProblem(await call('/v1/invitations/accept', { body: { token, password: PASSWORD, name: 'Late' } }), 410);
    const inv = await expectJson(await call(`/v1/invitations/${id}`, { token: owner.accessToken }), 200);
    expect(inv.status).toBe('expired');
  });

  it('an unknown token → 404', async () => {
    await expectProblem(
      await call('/v1/invitations/accept', { body: { token: 'inv_does-not-exist', password: PASSWORD, name: 'X' } }),
      404,
    );
  });

  it('an existing account joins with its own session (or its password, as at login); anything else is one 401', async () => {
    const owner = await signup('inv-existing');
    const existing = await signup('existing');
    const stranger = await signup('inv-stranger');
    const { token } = await invite(owner, existing.email, 'member');
    // A wrong password, with or without someone else's session: one answer.
    for (const attempt of [
      { body: { token, password: 'Wrong-Passw0rd-xyz', name: 'Guess' } },
      { token: stranger.accessToken, body: { token, password: 'Wrong-Passw0rd-xyz', name: 'Guess' } },
    ]) {
      const refused = await expectProblem(await call('/v1/invitations/accept', attempt), 401);
      expect(refused.detail).toBe(
        'Invalid credentials for this invitation: accept signed in as the invited account, or with its password.',
      );
    }
    expect(await memberRole(owner, existing.userId)).toBeUndefined();

    await verifyEmail(existing);
    const acc = await expectJson(await call('/v1/invitations/accept', { token: existing.accessToken, body: { token } }), 200);
    expect(acc.user.id).toBe(existing.userId);
    expect(acc.tenant.id).toBe(owner.tenantId);
    expect(acc.role).toBe('member');
    expect(await memberRole(owner, existing.userId)).toBe('member');
    // Their own tenant is untouched and still theirs.
    const home = await expectJson(await call('/v1/me', { token: existing.accessToken }), 200);
    expect(home).toMatchObject({ role: 'admin', tenant: { id: existing.tenantId } });
  });

  it('inviting an existing member → 409 (also with different email case)', async () => {
    const owner = await signup('inv-dup');
    const member = await addMember(owner, 'member');
    await expectProblem(await call('/v1/invitations', { token: owner.accessToken, body: { email: member.email, role: 'admin' } }), 409);
    await expectProblem(
      await call('/v1/invitations', { token: owner.accessToken, body: { email: member.email.toUpperCase(), role: 'admin' } }),
      409,
    );
    await expectProblem(await call('/v1/invitations', { token: owner.accessToken, body: { email: owner.email, role: 'admin' } }), 409);
  });
});

describe('members', () => {
  it('lists members with roles', async () => {
    const owner = await signup('members');
    const m = await addMember(owner, 'member');
    const v = await addMember(owner, 'viewer');
    const list = await expectJson(await call('/v1/members', { token: owner.accessToken }), 200);
    expect(list.nextCursor).toBeNull();
    const byId = Object.fromEntries(list.data.map((x: { userId: string; role: string }) => [x.userId, x.role]));
    expect(byId).toEqual({ [owner.userId]: 'admin', [m.userId]: 'member', [v.userId]: 'viewer' });
    for (const row of list.data) {
      expect(Object.keys(row).sort()).toEqual(['email', 'joinedAt', 'name', 'role', 'userId']);
    }
    // A member and a viewer may read the list too.
    expect(await getStatus('/v1/members', m.accessToken)).toBe(200);
    expect(await getStatus('/v1/members', v.accessToken)).toBe(200);
    const one = await expectJson(await call(`/v1/members/${m.userId}`, { token: v.accessToken }), 200);
    expect(one).toMatchObject({ userId: m.userId, email: m.email, role: 'member' });
  });

  it('paginates with limit/cursor', async () => {
    const owner = await signup('members-page');
    await addMember(owner, 'member');
    await addMember(owner, 'viewer');
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const q: string = cursor ? `?limit=1&cursor=${encodeURIComponent(cursor)}` : '?limit=1';
      const page = await expectJson(await call(`/v1/members${q}`, { token: owner.accessToken }), 200);
      expect(page.data.length).toBeLessThanOrEqual(1);
      seen.push(...page.data.map((x: { userId: string }) => x.userId));
      cursor = page.nextCursor;
    } while (cursor);
    expect(seen).toHaveLength(3);
    expect(new Set(seen).size).toBe(3);
  });

  it('an admin changes a role', async () => {
    const owner = await signup('role');
    const m = await addMember(owner, 'member');
    const updated = await expectJson(
      await call(`/v1/members/${m.userId}`, { method: 'PATCH', token: owner.accessToken, body: { role: 'viewer' } }),
      200,
    );
    expect(updated).toMatchObject({ userId: m.userId, role: 'viewer' });
    expect(await memberRole(owner, m.userId)).toBe('viewer');
    const me = await expectJson(await call('/v1/me', { token: m.accessToken }), 200);
    expect(me.role).toBe('viewer');
  });

  it('the last admin can be neither demoted nor removed (409)', async () => {
    const owner = await signup('last-admin');
    await addMember(owner, 'member');
    await expectProblem(
      await call(`/v1/members/${owner.userId}`, { method: 'PATCH', token: owner.accessToken, body: { role: 'member' } }),
      409,
    );
    await expectProblem(
      await call(`/v1/members/${owner.userId}`, { method: 'PATCH', token: owner.accessToken, body: { role: 'viewer' } }),
      409,
    );
    await expectProblem(await call(`/v1/members/${owner.userId}`, { method: 'DELETE', token: owner.accessToken }), 409);
    expect(await memberRole(owner, owner.userId)).toBe('admin');
    // Their refresh token was not revoked by the refused removal.
    expect((await refresh(owner.refreshToken)).status).toBe(200);
  });

  it('with two admins one can be demoted, then the other is the last admin', async () => {
    const owner = await signup('two-admins');
    const second = await addMember(owner, 'admin');
    const res = await expectJson(
      await call(`/v1/members/${owner.userId}`, { method: 'PATCH', token: second.accessToken, body: { role: 'member' } }),
      200,
    );
    expect(res.role).toBe('member');
    await expectProblem(
      await call(`/v1/members/${second.userId}`, { method: 'PATCH', token: second.accessToken, body: { role: 'viewer' } }),
      409,
    );
    await expectProblem(await call(`/v1/members/${second.userId}`, { method: 'DELETE', token: second.accessToken }), 409);
    expect(await memberRole(second, second.userId)).toBe('admin');
  });

  it('two admins demoting each other concurrently never leave the tenant without an admin', async () => {
    const owner = await signup('admin-race');
    const second = await addMember(owner, 'admin');
    await Promise.all([
      call(`/v1/members/${second.userId}`, { method: 'PATCH', token: owner.accessToken, body: { role: 'member' } }),
      call(`/v1/members/${owner.userId}`, { method: 'PATCH', token: second.accessToken, body: { role: 'member' } }),
    ]);
    const { results } = await env.DB.prepare("SELECT user_id FROM memberships WHERE tenant_id = ?1 AND role = 'admin'")
      .bind(owner.tenantId)
      .all();
    expect(results.length).toBeGreaterThanOrEqual(1);
  });

  it('with two admins one can be removed', async () => {
    const owner = await signup('remove-admin');
    const second = await addMember(owner, 'admin');
    expect((await call(`/v1/members/${second.userId}`, { method: 'DELETE', token: owner.accessToken })).status).toBe(204);
    expect(await memberRole(owner, second.userId)).toBeUndefined();
  });

  it('removing a member makes their access token fail at once and their refresh token too', async () => {
    const owner = await signup('remove');
    const m = await addMember(owner, 'member');
    expect(await getStatus('/v1/me', m.accessToken)).toBe(200); // the membership is now cached
    expect((await call(`/v1/members/${m.userId}`, { method: 'DELETE', token: owner.accessToken })).status).toBe(204);
    await expectProblem(await call('/v1/me', { token: m.accessToken }), 401);
    await expectProblem(await call('/v1/tenant', { token: m.accessToken }), 401);
    await expectProblem(await refresh(m.refreshToken), 401);
    await expectProblem(await call(`/v1/members/${m.userId}`, { token: owner.accessToken }), 404);
    await expectProblem(await call(`/v1/members/${m.userId}`, { method: 'DELETE', token: owner.accessToken }), 404);
    // Login still works for the account but no longer into this tenant.
    await expectProblem(await call('/v1/auth/login', { body: { email: m.email, password: PASSWORD, tenantId: owner.tenantId } }), 401);
  });

  it('a removed member who is invited again and accepts can use the new token at once', async () => {
    const owner = await signup('rejoin');
    const m = await addMember(owner, 'member');
    expect((await call(`/v1/members/${m.userId}`, { method: 'DELETE', token: owner.accessToken })).status).toBe(204);
    // Their old token is refused (and that refusal may be remembered by the credential cache).
    await expectProblem(await call('/v1/me', { token: m.accessToken }), 401);
    const { token } = await invite(owner, m.email, 'viewer');
    // No tenant left to sign in to: the password proves the account, as at login (name is required either way).
    const acc = await expectJson(await call('/v1/invitations/accept', { body: { token, password: PASSWORD, name: 'Again' } }), 200);
    expect(acc.user.id).toBe(m.userId);
    const me = await call('/v1/me', { token: acc.accessToken });
    expect(me.status, 'the token issued by accept must work immediately').toBe(200);
    expect((await me.json<{ role: string }>()).role).toBe('viewer');
    // And a fresh login into that tenant works too.
    const login = await expectJson(
      await call('/v1/auth/login', { body: { email: m.email, password: PASSWORD, tenantId: owner.tenantId } }),
      200,
    );
    expect((await call('/v1/me', { token: login.accessToken })).status).toBe(200);
  });

  it('removing a member from one tenant leaves their sessions in another tenant alone', async () => {
    const owner = await signup('remove-scope');
    const user = await signup('remove-scope-user');
    const joined = await joinExisting(owner, user, 'member');
    expect((await call(`/v1/members/${user.userId}`, { method: 'DELETE', token: owner.accessToken })).status).toBe(204);
    await expectProblem(await refresh(joined.refreshToken), 401);
    expect(await getStatus('/v1/me', user.accessToken)).toBe(200);
    expect((await refresh(user.refreshToken)).status).toBe(200);
  });

  it('demoting an admin to viewer takes away write rights of their existing token at once', async () => {
    const owner = await signup('demote');
    const admin2 = await addMember(owner, 'admin');
    // Warm: admin2's token can write now.
    expect((await call('/v1/tenant', { method: 'PATCH', token: admin2.accessToken, body: { name: 'by admin2' } })).status).toBe(200);
    expect(
      (await call(`/v1/members/${admin2.userId}`, { method: 'PATCH', token: owner.accessToken, body: { role: 'viewer' } })).status,
    ).toBe(200);
    const before = await tenantName(owner);
    await expectProblem(await call('/v1/tenant', { method: 'PATCH', token: admin2.accessToken, body: { name: 'after demotion' } }), 403);
    await expectProblem(
      await call('/v1/invitations', { token: admin2.accessToken, body: { email: uniqueEmail('x'), role: 'admin' } }),
      403,
    );
    await expectProblem(await call('/v1/audit-log', { token: admin2.accessToken }), 403);
    expect(await tenantName(owner)).toBe(before);
    // Reads still work, and /v1/me reports the current role.
    const me = await expectJson(await call('/v1/me', { token: admin2.accessToken }), 200);
    expect(me.role).toBe('viewer');
    // A refreshed token carries the new role.
    const next = await expectJson(await refresh(admin2.refreshToken), 200);
    await expectProblem(await call('/v1/tenant', { method: 'PATCH', token: next.accessToken, body: { name: 'x' } }), 403);
  });

  it('PATCH with an unknown role or extra fields → 422', async () => {
    const owner = await signup('role-bad');
    const m = await addMember(owner, 'member');
    const a = await expectProblem(
      await call(`/v1/members/${m.userId}`, { method: 'PATCH', token: owner.accessToken, body: { role: 'owner' } }),
      422,
    );
    expect(a.errors.map((e: { path: string }) => e.path)).toContain('role');
    const b = await expectProblem(
      await call(`/v1/members/${m.userId}`, { method: 'PATCH', token: owner.accessToken, body: { role: 'viewer', tenantId: 'tnt_x' } }),
      422,
    );
    expect(b.errors.map((e: { path: string }) => e.path)).toContain('tenantId');
    expect(await memberRole(owner, m.userId)).toBe('member');
  });
});
