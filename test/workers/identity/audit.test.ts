/** GET /v1/audit-log: what identity writes, newest first, paginated, admin only. */
import { describe, expect, it } from 'vitest';
import { sleep } from '../../support/shared/time';
import { call, expectJson, expectProblem } from '../../support/workers/http';
import { addMember, createApiKey, PASSWORD, signup, uniqueEmail } from '../../support/workers/tenants';
import { auditEntries, login } from './_support';

/**
 * Performs one of each audited identity action in a fresh tenant, in this order. Entry ids order by
 * millisecond, so the steps are kept a few milliseconds apart to make "newest first" well defined.
 */
async function seedActivity() {
  const gap = () => sleep(3);
  const owner = await signup('audit');
  await gap();
  expect((await login(owner.email)).status).toBe(200); // auth.login
  await gap();
  expect((await login(owner.email, 'Wrong-Passw0rd-123')).status).toBe(401); // auth.login_failed
  await gap();
  const email = uniqueEmail('audit-invitee');
  const inv = await expectJson(await call('/v1/invitations', { token: owner.accessToken, body: { email, role: 'member' } }), 201); // invitation.created
  await gap();
  const acc = await expectJson(
    await call('/v1/invitations/accept', { body: { token: inv.token, password: PASSWORD, name: 'Invitee' } }),
    200,
  ); // invitation.accepted
  await gap();
  expect((await call(`/v1/members/${acc.user.id}`, { method: 'PATCH', token: owner.accessToken, body: { role: 'viewer' } })).status).toBe(
    200,
  ); // member.role_changed
  await gap();
  const key = await createApiKey(owner, 'viewer'); // api_key.created
  await gap();
  expect((await call(`/v1/api-keys/${key.id}`, { method: 'DELETE', token: owner.accessToken })).status).toBe(204); // api_key.revoked
  return { owner, invitation: inv, invitee: acc, key };
}

const EXPECTED_ORDER = [
  'auth.signup',
  'auth.login',
  'auth.login_failed',
  'invitation.created',
  'invitation.accepted',
  'member.role_changed',
  'api_key.created',
  'api_key.revoked',
];

describe('GET /v1/audit-log', () => {
  it('lists every identity action, newest first, with actor and target', async () => {
    const { owner, invitation, invitee, key } = await seedActivity();
    const page = await expectJson(await call('/v1/audit-log?limit=100', { token: owner.accessToken }), 200);
    expect(page.nextCursor).toBeNull();
    const actions = page.data.map((e: { action: string }) => e.action);
    for (const a of EXPECTED_ORDER) expect(actions).toContain(a);
    // Newest first: the reverse of the order we acted in.
    expect(actions.filter((a: string) => EXPECTED_ORDER.includes(a))).toEqual([...EXPECTED_ORDER].reverse());
    const ids = page.data.map((e: { id: string }) => e.id);
    expect(ids).toEqual([...ids].sort().reverse());
    const times = page.data.map((e: { createdAt: string }) => Date.parse(e.createdAt));
    for (let i = 1; i < times.length; i++) expect(times[i - 1]).toBeGreaterThanOrEqual(times[i]);

    const by = (action: string) => page.data.find((e: { action: string }) => e.action === action);
    expect(by('auth.signup')).toMatchObject({ actorType: 'user', actorId: owner.userId });
    expect(by('auth.login')).toMatchObject({ actorType: 'user', actorId: owner.userId });
    expect(by('auth.login_failed')).toMatchObject({ actorType: 'anonymous', targetType: 'user', targetId: owner.userId });
    expect(by('invitation.created')).toMatchObject({ actorType: 'user', actorId: owner.userId, targetId: invitation.id });
    expect(by('invitation.accepted')).toMatchObject({ actorId: invitee.user.id, targetId: invitation.id });
    expect(by('member.role_changed')).toMatchObject({
      actorId: owner.userId,
      targetId: invitee.user.id,
      metadata: { from: 'member', to: 'viewer' },
    });
    expect(by('api_key.created')).toMatchObject({ actorId: owner.userId, targetType: 'api_key', targetId: key.id });
    expect(by('api_key.revoked')).toMatchObject({ actorId: owner.userId, targetId: key.id });
    for (const e of page.data) {
      expect(typeof e.requestId).toBe('string');
      expect(Number.isNaN(Date.parse(e.createdAt))).toBe(false);
    }

    // Secrets never reach the audit log.
    const text = JSON.stringify(page);
    for (const secret of [PASSWORD, 'Wrong-Passw0rd-123', invitation.token, key.key, owner.refreshToken, owner.accessToken])
      expect(text).not.toContain(secret);
  });

  it('records the acting API key as the actor', async () => {
    const owner = await signup('audit-key');
    const adminKey = await createApiKey(owner, 'admin');
    const created = await expectJson(
      await call('/v1/api-keys', { token: adminKey.key, body: { name: 'made-by-key', role: 'viewer' } }),
      201,
    );
    const entries = await auditEntries(owner);
    expect(entries.find((e) => e.action === 'api_key.created' && e.targetId === created.id)).toMatchObject({
      actorType: 'api_key',
      actorId: adminKey.id,
    });
  });

  it('paginates with limit and cursor: pages join to the full list with no gaps or repeats', async () => {
    const { owner } = await seedActivity();
    const full = (await expectJson(await call('/v1/audit-log?limit=100', { token: owner.accessToken }), 200)).data.map(
      (e: { id: string }) => e.id,
    );
    expect(full.length).toBeGreaterThanOrEqual(EXPECTED_ORDER.length);
    const paged: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const q: string = cursor ? `?limit=3&cursor=${encodeURIComponent(cursor)}` : '?limit=3';
      const page = await expectJson(await call(`/v1/audit-log${q}`, { token: owner.accessToken }), 200);
      expect(page.data.length).toBeLessThanOrEqual(3);
      expect(page).toHaveProperty('nextCursor');
      if (page.nextCursor !== null) expect(page.data.length).toBe(3);
      paged.push(...page.data.map((e: { id: string }) => e.id));
      cursor = page.nextCursor;
      pages++;
    } while (cursor && pages < 50);
    expect(cursor).toBeNull();
    expect(pages).toBe(Math.ceil(full.length / 3));
    expect(paged).toEqual(full);
  });

  it('rejects a bad limit or cursor with 422', async () => {
    const owner = await signup('audit-bad');
    for (const q of ['?limit=0', '?limit=101', '?limit=abc', '?cursor=%%%']) {
      await expectProblem(await call(`/v1/audit-log${q}`, { token: owner.accessToken }), 422);
    }
  });

  it('member and viewer (JWT or API key) get 403', async () => {
    const owner = await signup('audit-403');
    const member = await addMember(owner, 'member');
    const viewer = await addMember(owner, 'viewer');
    const memberKey = await createApiKey(owner, 'member');
    const viewerKey = await createApiKey(owner, 'viewer');
    for (const token of [member.accessToken, viewer.accessToken, memberKey.key, viewerKey.key]) {
      await expectProblem(await call('/v1/audit-log', { token }), 403);
    }
    await expectProblem(await call('/v1/audit-log'), 401);
  });

  it("shows only the caller's tenant", async () => {
    const a = await signup('audit-a');
    const b = await signup('audit-b');
    await createApiKey(b, 'viewer');
    const entries = await auditEntries(a);
    expect(entries.every((e) => e.action !== 'api_key.created')).toBe(true);
    expect(JSON.stringify(entries)).not.toContain(b.userId);
  });
});
