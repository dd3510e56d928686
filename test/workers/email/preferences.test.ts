/** GET|PUT /v1/me/notification-preferences and RFC 8058 one-click unsubscribe, over the public API. */
import { describe, expect, it } from 'vitest';
import { call, expectJson, expectProblem, fetchWorker } from '../../support/workers/http';
import { createApiKey, signup } from '../../support/workers/tenants';
import { deliveriesWhen, EMAIL_ON, fireReminder, markVerified, putPrefs, sentAtLeast, sentTo } from './_support';

describe('notification preferences', () => {
  it('defaults to in-app only; PUT replaces and GET reads back', async () => {
    const owner = await signup('prefs');
    const before = await expectJson(await call('/v1/me/notification-preferences', { token: owner.accessToken }));
    expect(before).toEqual({
      email: { enabled: false, address: null, digest: 'off', quietHours: null },
      kinds: { reminder: ['inapp', 'email'], system: ['inapp'] },
    });
    const wanted = {
      email: {
        enabled: true,
        address: owner.email.toUpperCase(),
        digest: 'daily',
        quietHours: { start: '22:00', end: '07:00', timeZone: 'Europe/Berlin' },
        locale: 'de-DE',
      },
      kinds: { reminder: ['email'], system: ['inapp', 'email'] },
    };
    const put = await putPrefs(owner, wanted);
    expect(put.email.address).toBe(owner.email.toLowerCase());
    expect(await expectJson(await call('/v1/me/notification-preferences', { token: owner.accessToken }))).toEqual(put);
  });

  it('refuses bad input with problem+json field paths', async () => {
    const owner = await signup('prefs422');
    const bad = await expectProblem(
      await call('/v1/me/notification-preferences', {
        method: 'PUT',
        token: owner.accessToken,
        body: {
          email: {
            enabled: 'yes',
            address: null,
            digest: 'weekly',
            quietHours: { start: '25:00', end: '07:00', timeZone: 'Mars/Olympus' },
          },
          kinds: { reminder: ['email', 'email', 'sms'], system: [] },
          extra: 1,
        },
      }),
      422,
    );
    const paths = bad.errors.map((e: { path: string }) => e.path);
    for (const p of ['email.enabled', 'email.digest', 'email.quietHours.start', 'email.quietHours.timeZone', 'kinds.reminder', 'extra'])
      expect(paths).toContain(p);
    // Another person's address is not accepted.
    const other = await expectProblem(
      await call('/v1/me/notification-preferences', {
        method: 'PUT',
        token: owner.accessToken,
        body: { ...EMAIL_ON, email: { ...EMAIL_ON.email, address: 'someone.else@example.com' } },
      }),
      422,
    );
    expect(other.errors[0].path).toBe('email.address');
    // API keys have no preferences.
    const key = await createApiKey(owner, 'admin');
    await expectProblem(await call('/v1/me/notification-preferences', { token: key.key }), 403);
  });
});

describe('one-click unsubscribe (RFC 8058)', () => {
  it('POSTing the List-Unsubscribe URL without login turns email off; the next reminder is suppressed; a tampered token is 404', async () => {
    const owner = await signup('unsub');
    await markVerified(owner);
    await putPrefs(owner);
    await fireReminder(owner);
    const [mail] = await sentAtLeast(owner.email, 1);
    const url = new URL(/^<(.+)>$/.exec(mail!.body!.headers['List-Unsubscribe'])![1]!);
    expect(mail!.body!.headers['List-Unsubscribe-Post']).toBe('List-Unsubscribe=One-Click');

    // Tampered: one character of the signature, or of the payload → 404, nothing changes.
    const token = url.pathname.split('/').pop()!;
    const flipped = (s: string, i: number) => s.slice(0, i) + (s[i] === 'a' ? 'b' : 'a') + s.slice(i + 1);
    for (const bad of [flipped(token, token.length - 1), flipped(token, 6), 'eu1_nope.00', `${token}x`]) {
      await expectProblem(
        await fetchWorker(`/v1/email/unsubscribe/${bad}`, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: 'List-Unsubscribe=One-Click',
        }),
        404,
      );
      await expectProblem(await fetchWorker(`/v1/email/unsubscribe/${bad}`), 404);
    }
    expect((await expectJson(await call('/v1/me/notification-preferences', { token: owner.accessToken }))).email.enabled).toBe(true);

    // GET (a person or a link scanner) changes nothing: a page with a button.
    const page = await fetchWorker(url.pathname);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    expect(await page.text()).toContain('<form method="post">');
    expect((await expectJson(await call('/v1/me/notification-preferences', { token: owner.accessToken }))).email.enabled).toBe(true);

    // The one-click POST, as a mail provider sends it (no credentials).
    const res = await fetchWorker(url.pathname, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'List-Unsubscribe=One-Click',
    });
    expect(await expectJson(res)).toEqual({ unsubscribed: true, address: owner.email.toLowerCase() });
    // Twice is fine (idempotent), also as multipart/form-data.
    const form = new FormData();
    form.set('List-Unsubscribe', 'One-Click');
    expect((await fetchWorker(url.pathname, { method: 'POST', body: form })).status).toBe(200);
    expect((await expectJson(await call('/v1/me/notification-preferences', { token: owner.accessToken }))).email.enabled).toBe(false);

    const { notification } = await fireReminder(owner, 'After unsubscribing');
    const [d] = await deliveriesWhen(owner, notification.id, (l) => l.length === 1);
    expect(d).toMatchObject({ status: 'suppressed', reason: 'unsubscribed' });
    expect(await sentTo(owner.email)).toHaveLength(1);

    // Turning email on again is the member's explicit opt-in: it lifts their own unsubscribe.
    await putPrefs(owner);
    const { notification: n3 } = await fireReminder(owner, 'Opted in again');
    await deliveriesWhen(owner, n3.id, (l) => l[0]?.status === 'sent');
    expect(await sentTo(owner.email)).toHaveLength(2);
  });
});
