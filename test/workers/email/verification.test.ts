/**
 * Address verification: signup emails a single-use, expiring link; an unverified account signs in
 * but cannot join another tenant nor get email notifications; re-sending is rate-limited; an
 * invitation to an unverified address tells the inviter nothing.
 */
import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import { isVerification, sentAtLeast, verificationLink, verifyEmail } from '../../support/workers/email';
import { call, expectJson, expectProblem, fetchWorker } from '../../support/workers/http';
import { createApiKey, signup, uniqueEmail } from '../../support/workers/tenants';

const me = async (token: string) => expectJson(await call('/v1/me', { token }));

describe('address verification', () => {
  it('signup emails a link; its page changes nothing; its button verifies once; a second use is 409', async () => {
    const owner = await signup('verify');
    expect((await me(owner.accessToken)).user.emailVerified).toBe(false);
    const path = await verificationLink(owner.email);
    expect(path).toMatch(/^\/v1\/auth\/verify-email\/ev_[A-Za-z0-9_-]{43}$/);

    // Opening the link (or a scanner fetching it) shows a button and uses nothing.
    const page = await fetchWorker(path);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('<form method="post">');
    expect((await me(owner.accessToken)).user.emailVerified).toBe(false);

    expect(await expectJson(await fetchWorker(path, { method: 'POST' }))).toEqual({ verified: true, email: owner.email });
    expect((await me(owner.accessToken)).user.emailVerified).toBe(true);
    await expectProblem(await fetchWorker(path, { method: 'POST' }), 409);
    await expectProblem(await fetchWorker(path), 409);
    await expectProblem(await fetchWorker(`${path.slice(0, -2)}xx`, { method: 'POST' }), 404);
    // Verified already: no new link.
    await expectProblem(await call('/v1/me/verify-email', { method: 'POST', token: owner.accessToken }), 409);
  });

  it('an expired link is 410 and verifies nothing', async () => {
    const owner = await signup('verify-exp');
    const path = await verificationLink(owner.email);
    await env.DB.prepare(`UPDATE email_verifications SET expires_at = ? WHERE user_id = ?`)
      .bind(new Date(Date.now() - 1000).toISOString(), owner.userId)
      .run();
    await expectProblem(await fetchWorker(path, { method: 'POST' }), 410);
    expect((await me(owner.accessToken)).user.emailVerified).toBe(false);
  });

  it('re-sending is rate-limited: at most once a minute (429 with Retry-After); the new link works', async () => {
    const owner = await signup('verify-resend');
    await verificationLink(owner.email);
    const limited = await call('/v1/me/verify-email', { method: 'POST', token: owner.accessToken });
    await expectProblem(limited, 429);
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
    // A minute later (the signup link's time moved back), a new link is sent and works.
    await env.DB.prepare(`UPDATE email_verifications SET created_at = ? WHERE user_id = ?`)
      .bind(new Date(Date.now() - 61_000).toISOString(), owner.userId)
      .run();
    const sent = await expectJson(await call('/v1/me/verify-email', { method: 'POST', token: owner.accessToken }), 202);
    expect(sent).toMatchObject({ sent: true, expiresAt: expect.any(String) });
    expect(await sentAtLeast(owner.email, 2, { filter: isVerification })).toHaveLength(2);
    await verifyEmail(owner);
    expect((await me(owner.accessToken)).user.emailVerified).toBe(true);
    // API keys have no address.
    const key = await createApiKey(owner, 'admin');
    await expectProblem(await call('/v1/me/verify-email', { method: 'POST', token: key.key }), 403);
  });

  it('an unverified account cannot join another tenant; the inviter cannot tell it is unverified', async () => {
    const host = await signup('verify-host');
    const guest = await signup('verify-guest');
    const fresh = uniqueEmail('verify-nobody');
    const invitedUnverified = await expectJson(
      await call('/v1/invitations', { token: host.accessToken, body: { email: guest.email, role: 'member' } }),
      201,
    );
    const invitedNobody = await expectJson(
      await call('/v1/invitations', { token: host.accessToken, body: { email: fresh, role: 'member' } }),
      201,
    );
    // The same answer shape for an unverified account and an address nobody has.
    expect(Object.keys(invitedUnverified).sort()).toEqual(Object.keys(invitedNobody).sort());
    expect(invitedUnverified.status ?? null).toEqual(invitedNobody.status ?? null);

    const refused = await expectProblem(
      await call('/v1/invitations/accept', { token: guest.accessToken, body: { token: invitedUnverified.token } }),
      403,
    );
    expect(refused.detail).toMatch(/Confirm your email address/);
    await verifyEmail(guest);
    const joined = await expectJson(
      await call('/v1/invitations/accept', { token: guest.accessToken, body: { token: invitedUnverified.token } }),
    );
    expect(joined.tenant.id).toBe(host.tenantId);
  });
});
