/**
 * The message itself: MIME built by mimetext, parsed back with postal-mime (the parser Cloudflare's
 * own local email tooling uses), accepted by the real `send_email` binding; and the pure delivery
 * rules (quiet hours, digest, who is suppressed).
 */
import { env } from 'cloudflare:workers';
import PostalMime from 'postal-mime';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config';
import { parseReply } from '../../../src/email/inbound';
import { decide, nextDigestAt, quietUntil } from '../../../src/email/policy';
import { type MessagePayload, renderEmail } from '../../../src/email/render';
import { DEFAULT_PREFERENCES, type NotificationPreferences } from '../../../src/email/schemas';
import { sendEmail } from '../../../src/email/transport';

const reminder: MessagePayload = {
  kind: 'reminder',
  title: 'Zahnarzt – Termin bestätigen',
  body: 'due 2026-12-04T08:00:00.000Z',
  taskId: 'tsk_x',
  dueAt: '2026-12-04T08:00:00.000Z',
  dueDate: null,
  timeZone: 'America/New_York',
  locale: 'en-US',
};

function render(p: MessagePayload, to = 'ana@example.com') {
  return renderEmail(p, {
    id: 'eml_01abcdefghjkmnpqrstvwxyz0',
    from: { address: 'notifications@edgecrew.test', name: 'Edgecrew' },
    to,
    links: { unsubscribe: 'https://api.example/v1/email/unsubscribe/eu1_abc.def', replyTo: 'reply+eml_x.00@edgecrew.test' },
    now: new Date('2026-12-03T10:00:00Z'),
  });
}

describe('the message', () => {
  it('is multipart text + HTML that postal-mime reads back, with the due time in the recipient’s zone and RFC 8058 headers', async () => {
    const email = await render(reminder);
    const parsed = await PostalMime.parse(email.raw);
    expect(parsed.subject).toBe('Reminder: Zahnarzt – Termin bestätigen');
    expect(parsed.from).toMatchObject({ address: 'notifications@edgecrew.test', name: 'Edgecrew' });
    expect(parsed.to?.[0]?.address).toBe('ana@example.com');
    expect(parsed.messageId).toBe('<eml_01abcdefghjkmnpqrstvwxyz0@edgecrew.test>');
    // 08:00Z on 4 December is 03:00 in New York (EST, UTC-5).
    expect(parsed.text).toContain('Friday, December 4, 2026 at 3:00');
    expect(parsed.text).toContain('(America/New_York)');
    expect(parsed.html).toContain('Zahnarzt – Termin bestätigen');
    const header = (name: string) => parsed.headers.find((h) => h.key === name)?.value;
    expect(header('list-unsubscribe')).toBe('<https://api.example/v1/email/unsubscribe/eu1_abc.def>');
    expect(header('list-unsubscribe-post')).toBe('List-Unsubscribe=One-Click');
    expect(parsed.replyTo?.[0]?.address).toBe('reply+eml_x.00@edgecrew.test');
    expect(header('auto-submitted')).toBe('auto-generated');
  });

  it('writes dates in the recipient’s locale', async () => {
    const parsed = await PostalMime.parse((await render({ ...reminder, timeZone: 'Europe/Berlin', locale: 'de-DE' })).raw);
    // 08:00Z is 09:00 in Berlin (CET).
    expect(parsed.text).toContain('Freitag, 4. Dezember 2026 um 09:00');
  });

  it('is accepted by the real send_email binding (locally Miniflare checks and stores it)', async () => {
    const config = { ...loadConfig(env), EMAIL_PROVIDER: 'binding' as const };
    const result = await sendEmail(env, config, await render(reminder), 'eml_01abcdefghjkmnpqrstvwxyz0');
    expect(result).toMatchObject({ ok: true, providerMessageId: expect.any(String) });
  });

  it('a From that does not match the envelope is refused by the binding and reported as a failed attempt, not thrown', async () => {
    const config = { ...loadConfig(env), EMAIL_PROVIDER: 'binding' as const };
    const email = await render(reminder);
    const result = await sendEmail(env, config, { ...email, from: { ...email.from, address: 'other@edgecrew.test' } }, 'eml_x');
    expect(result).toMatchObject({ ok: false, permanent: false });
  });
});

const prefs = (over: Partial<NotificationPreferences['email']> = {}): NotificationPreferences => ({
  ...DEFAULT_PREFERENCES,
  email: { ...DEFAULT_PREFERENCES.email, enabled: true, ...over },
});
const at = (iso: string) => Date.parse(iso);

describe('delivery rules', () => {
  it.each([
    // [start, end, zone, now, until]
    ['22:00', '07:00', 'Europe/Berlin', '2026-12-03T22:30:00Z', '2026-12-04T06:00:00.000Z'], // 23:30 local → 07:00 local
    ['22:00', '07:00', 'Europe/Berlin', '2026-12-04T05:00:00Z', '2026-12-04T06:00:00.000Z'], // 06:00 local, after midnight
    ['22:00', '07:00', 'Europe/Berlin', '2026-12-04T12:00:00Z', null], // 13:00 local: outside
    ['09:00', '17:00', 'UTC', '2026-12-04T09:00:00Z', '2026-12-04T17:00:00.000Z'], // start is inside
    ['09:00', '17:00', 'UTC', '2026-12-04T17:00:00Z', null], // end is outside
    ['01:00', '03:30', 'America/New_York', '2026-03-08T07:00:00Z', '2026-03-08T07:30:00.000Z'], // 02:00 does not exist: 03:30 EDT
  ])('quiet %s–%s %s at %s → %s', (start, end, timeZone, now, until) => {
    const got = quietUntil({ start, end, timeZone }, at(now));
    expect(got === null ? null : new Date(got).toISOString()).toBe(until);
  });

  it('the daily digest goes out at 09:00 local, after quiet hours', () => {
    expect(new Date(nextDigestAt('Asia/Tokyo', null, at('2026-12-03T23:00:00Z'))).toISOString()).toBe('2026-12-04T00:00:00.000Z');
    expect(new Date(nextDigestAt('Asia/Tokyo', null, at('2026-12-04T01:00:00Z'))).toISOString()).toBe('2026-12-05T00:00:00.000Z');
    const quiet = { start: '08:00', end: '10:00', timeZone: 'Asia/Tokyo' };
    expect(new Date(nextDigestAt('Asia/Tokyo', quiet, at('2026-12-03T23:00:00Z'))).toISOString()).toBe('2026-12-04T01:00:00.000Z');
  });

  it.each([
    ['reminder', prefs(), true, null, 'queued'],
    ['reminder', prefs({ enabled: false }), true, null, 'suppressed:preferences'],
    ['system', prefs(), true, null, 'suppressed:preferences'], // system: in-app only by default
    ['reminder', prefs(), false, null, 'suppressed:unverified'],
    ['reminder', prefs({ enabled: false }), true, 'unsubscribed', 'suppressed:unsubscribed'],
    ['reminder', prefs(), true, 'bounced', 'suppressed:bounced'],
    ['reminder', prefs({ digest: 'daily' }), true, null, 'queued'], // reminders are urgent: never digested
    ['system', { ...prefs({ digest: 'daily' }), kinds: { reminder: ['email'], system: ['email'] } }, true, null, 'deferred:digest'],
  ] as const)('%s, %j, verified %s, suppression %s → %s', (kind, p, verified, suppressed, want) => {
    const d = decide(kind, { prefs: p as NotificationPreferences, verified, suppressed, timeZone: 'UTC' }, at('2026-12-04T12:00:00Z'));
    expect('reason' in d ? `${d.status}:${d.reason}` : d.status).toBe(want);
  });
});

describe('reply commands', () => {
  it.each([
    ['done', { kind: 'done' }],
    ['Done!\n\n> On Thursday…\n> done', { kind: 'done' }],
    ['\n\n  DONE.  ', { kind: 'done' }],
    ['snooze 1h', { kind: 'snooze', ms: 3600_000 }],
    ['Snooze 30 min', { kind: 'snooze', ms: 1800_000 }],
    ['snooze 2 days', { kind: 'snooze', ms: 2 * 86_400_000 }],
    ['snooze 0h', null],
    ['snooze 31d', null],
    ['snooze', null],
    ['done with it', null],
    ['not done', null],
    ['> done', null],
    ['', null],
  ] as const)('%j → %j', (text, want) => {
    expect(parseReply(text)).toEqual(want);
  });
});
