/**
 * Email notifications end to end in workerd with the real bindings: the hub's alarm fires a
 * reminder, the EVENTS consumer's email sink plans and sends it through the HTTP provider to a
 * local Resend-compatible API (test/support/node/fake-resend.ts), deliveries are tracked and sent
 * at most once per attempt whatever is redelivered.
 */
import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import { purgeEmailRecords, sweepEmail } from '../../../src/email/sweep';
import { tenantHubStub } from '../../../src/lib/stubs';
import { hub, runAlarm } from '../../support/workers/durable-objects';
import { call, expectJson } from '../../support/workers/http';
import { addMember, signup } from '../../support/workers/tenants';
import { runBatch } from '../events/_support';
import { outboxRows, runBatchOf } from './_events';
import { deliveriesOf, deliveriesWhen, EMAIL_ON, fireReminder, markVerified, putPrefs, sentAtLeast, sentTo } from './_support';

const pad = (n: number) => String(n).padStart(2, '0');

describe('reminder emails', () => {
  it('one reminder → exactly one email, in the member’s zone, even when the alarm and the queue deliver again', async () => {
    const owner = await signup('mail');
    await markVerified(owner);
    await expectJson(await call('/v1/me', { method: 'PATCH', token: owner.accessToken, body: { timezone: 'Asia/Tokyo' } }));
    await putPrefs(owner);

    const { task, notification } = await fireReminder(owner, 'Pay the rent');
    const [first] = await sentAtLeast(owner.email, 1);
    expect(first!.status).toBe(200);

    // The alarm runs again (at-least-once), the notification.created event is redelivered to the
    // consumer twice, and the sweeper runs: nothing is sent again.
    await runAlarm(hub(owner.tenantId));
    const created = (await outboxRows(owner.tenantId)).filter(
      (r) => r.event.type === 'notification.created' && r.event.data.notification.id === notification.id,
    );
    expect(created).toHaveLength(1);
    await runBatchOf([created[0]!.event, created[0]!.event]);
    await runBatchOf([created[0]!.event]);
    await sweepEmail(env, new Date(Date.now() + 60_000));
    const all = await sentTo(owner.email);
    expect(all).toHaveLength(1);

    // What was sent: subject, the due time written in Asia/Tokyo (UTC+9, no DST), both parts, the unsubscribe headers.
    const body = all[0]!.body!;
    expect(body.subject).toBe('Reminder: Pay the rent');
    const due = new Date(Date.parse(task.dueAt) + 9 * 3600_000);
    const h12 = due.getUTCHours() % 12 === 0 ? 12 : due.getUTCHours() % 12;
    const clock = `${h12}:${pad(due.getUTCMinutes())}`;
    expect(body.text).toContain(clock);
    expect(body.text).toContain('(Asia/Tokyo)');
    expect(body.html).toContain(clock);
    expect(body.headers['List-Unsubscribe']).toMatch(/^<https:\/\/edgecrew\.local\/v1\/email\/unsubscribe\/eu1_[^>]+>$/);
    expect(body.headers['List-Unsubscribe-Post']).toBe('List-Unsubscribe=One-Click');
    expect(body.reply_to).toMatch(/^reply\+eml_[0-9a-z]{26}\.[0-9a-f]{32}@edgecrew\.test$/);
    expect(all[0]!.idempotencyKey).toMatch(/^eml_/);

    const deliveries = await deliveriesWhen(owner, notification.id, (d) => d[0]?.status === 'sent');
    expect(deliveries).toEqual([
      expect.objectContaining({
        id: all[0]!.idempotencyKey,
        channel: 'email',
        recipientId: owner.userId,
        status: 'sent',
        attempts: 1,
        providerMessageId: all[0]!.id,
      }),
    ]);
    // email.sent reaches the tenant's event stream once.
    const sentEvents = (await outboxRows(owner.tenantId)).filter((r) => r.event.type === 'email.sent');
    expect(sentEvents.map((r) => r.event.data.deliveryId)).toEqual([all[0]!.idempotencyKey]);
  });

  it('preferences off → suppressed, nothing sent; a member without preferences gets no delivery at all', async () => {
    const owner = await signup('mailoff');
    await markVerified(owner);
    await putPrefs(owner, { ...EMAIL_ON, email: { ...EMAIL_ON.email, enabled: false } });
    const { notification } = await fireReminder(owner);
    const d = await deliveriesWhen(owner, notification.id, (l) => l.length === 1);
    expect(d[0]).toMatchObject({ status: 'suppressed', reason: 'preferences', attempts: 0 });
    const ev = await outboxRows(owner.tenantId);
    expect(ev.filter((r) => r.event.type === 'email.suppressed').map((r) => r.event.data.reason)).toEqual(['preferences']);

    const quiet = await signup('noprefs');
    const { notification: n2 } = await fireReminder(quiet);
    // The consumer handled the event (its webhook/analytics siblings ran) and planned nothing.
    await sweepEmail(env, new Date());
    expect(await deliveriesOf(quiet, n2.id)).toEqual([]);
    expect(await sentTo(owner.email)).toEqual([]);
    expect(await sentTo(quiet.email)).toEqual([]);
  });

  it('an unverified address is suppressed', async () => {
    const owner = await signup('unverified');
    await putPrefs(owner);
    const { notification } = await fireReminder(owner);
    const d = await deliveriesWhen(owner, notification.id, (l) => l.length === 1);
    expect(d[0]).toMatchObject({ status: 'suppressed', reason: 'unverified' });
    expect(await sentTo(owner.email)).toEqual([]);
  });

  it('quiet hours → deferred to the window’s end, then sent by the sweeper', async () => {
    const owner = await signup('quiet');
    await markVerified(owner);
    const now = new Date();
    const start = new Date(now.getTime() - 3600_000);
    const end = new Date(now.getTime() + 3600_000);
    const hhmm = (d: Date) => `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}`;
    await putPrefs(owner, {
      ...EMAIL_ON,
      email: { ...EMAIL_ON.email, quietHours: { start: hhmm(start), end: hhmm(end), timeZone: 'UTC' } },
    });
    const { notification } = await fireReminder(owner);
    const [d] = await deliveriesWhen(owner, notification.id, (l) => l.length === 1);
    expect(d).toMatchObject({ status: 'deferred', reason: 'quiet_hours', attempts: 0 });
    const windowEnd = Date.parse(d!.nextAttemptAt);
    expect(new Date(windowEnd).toISOString().slice(11, 16)).toBe(hhmm(end));
    expect(windowEnd).toBeGreaterThan(now.getTime());

    // A job that arrives early (queue and Worker clocks differ) sends nothing and comes back at the window's end.
    const resent: Array<{ body: unknown; options: unknown }> = [];
    const events = {
      send: (body: unknown, options?: QueueSendOptions) => {
        resent.push({ body, options });
        return env.EVENTS.send(body, options);
      },
      sendBatch: (m: Iterable<MessageSendRequest>, o?: QueueSendBatchOptions) => env.EVENTS.sendBatch(m, o),
    } as unknown as Queue;
    const early = await runBatch([{ kind: 'email_attempt', deliveryId: d!.id, attempt: 1 }], { EVENTS: events });
    expect(early.retryMessages).toEqual([]);
    expect(resent).toHaveLength(1);
    expect(resent[0]!.body).toEqual({ kind: 'email_attempt', deliveryId: d!.id, attempt: 1 });
    const delay = (resent[0]!.options as { delaySeconds: number }).delaySeconds;
    expect(delay * 1000).toBeGreaterThanOrEqual(windowEnd - Date.now());
    expect(delay * 1000).toBeLessThanOrEqual(windowEnd - now.getTime() + 1000);
    expect((await deliveriesOf(owner, notification.id))[0]).toMatchObject({ status: 'deferred', attempts: 0 });

    // Before the window ends the sweeper leaves it; at its end it is sent.
    await sweepEmail(env, new Date(windowEnd - 60_000));
    expect(await sentTo(owner.email)).toEqual([]);
    await sweepEmail(env, new Date(windowEnd + 1000));
    const sent = await sentTo(owner.email);
    expect(sent).toHaveLength(1);
    expect((await deliveriesOf(owner, notification.id))[0]).toMatchObject({ status: 'sent', attempts: 1 });
  });

  it('the provider answering 429 with Retry-After: 3 is retried after at least 3 s with the same idempotency key', async () => {
    const owner = await signup('ratelimited');
    await markVerified(owner);
    await putPrefs(owner);
    const { notification } = await fireReminder(owner);
    const requests = await sentAtLeast(owner.email, 2, 20_000);
    expect(requests.map((r) => r.status)).toEqual([429, 200]);
    expect(requests[1]!.idempotencyKey).toBe(requests[0]!.idempotencyKey);
    expect(requests[1]!.at - requests[0]!.at).toBeGreaterThanOrEqual(3000);
    const [d] = await deliveriesWhen(owner, notification.id, (l) => l[0]?.status === 'sent');
    expect(d).toMatchObject({ status: 'sent', attempts: 2, lastStatusCode: 200, providerMessageId: requests[1]!.id });
  });

  it('a provider refusing the address (422) fails the delivery and suppresses the address as bounced', async () => {
    const owner = await signup('invalid');
    await markVerified(owner);
    await putPrefs(owner);
    const { notification } = await fireReminder(owner);
    const [d] = await deliveriesWhen(owner, notification.id, (l) => l[0]?.status === 'failed');
    expect(d).toMatchObject({ status: 'failed', attempts: 1, lastStatusCode: 422 });
    const { notification: again } = await fireReminder(owner, 'Second');
    const [d2] = await deliveriesWhen(owner, again.id, (l) => l.length === 1);
    expect(d2).toMatchObject({ status: 'suppressed', reason: 'bounced' });
    expect(await sentTo(owner.email)).toHaveLength(1);
    const types = (await outboxRows(owner.tenantId)).map((r) => r.event.type).filter((t) => t.startsWith('email.'));
    expect(types).toEqual(['email.failed', 'email.suppressed']);
  });
});

describe('daily digest', () => {
  it('what is not urgent waits for one digest email at 09:00 local listing it all', async () => {
    const owner = await signup('digest');
    await markVerified(owner);
    await putPrefs(owner, {
      email: { enabled: true, address: null, digest: 'daily', quietHours: null },
      kinds: { reminder: ['inapp', 'email'], system: ['inapp', 'email'] },
    });
    const hubStub = tenantHubStub(env, owner.tenantId);
    const ids = [`ntf_${crypto.randomUUID().replaceAll('-', '')}`, `ntf_${crypto.randomUUID().replaceAll('-', '')}`];
    await hubStub.createSystemNotification(owner.tenantId, { id: ids[0]!, title: 'Webhook endpoint disabled', body: 'first notice' });
    await hubStub.createSystemNotification(owner.tenantId, { id: ids[1]!, title: 'Another notice', body: 'second notice' });
    const deferred = await Promise.all(ids.map((id) => deliveriesWhen(owner, id, (l) => l[0]?.status === 'deferred')));
    const at = deferred.map((d) => d[0]!.nextAttemptAt);
    expect(deferred.map((d) => d[0]!.reason)).toEqual(['digest', 'digest']);
    expect(at[0]).toBe(at[1]);
    expect(new Date(at[0]).toISOString().slice(11, 16)).toBe('09:00'); // the owner has no zone: the tenant's, UTC

    // A reminder is urgent: it goes at once, not in the digest.
    await fireReminder(owner, 'Urgent thing');
    await sentAtLeast(owner.email, 1);

    await sweepEmail(env, new Date(Date.parse(at[0]) + 1000));
    const mails = await sentTo(owner.email);
    expect(mails).toHaveLength(2);
    const digest = mails[1]!.body!;
    expect(digest.subject).toBe('Your daily digest: 2 notifications');
    expect(digest.text).toContain('Webhook endpoint disabled: first notice');
    expect(digest.text).toContain('Another notice: second notice');
    const sent = await Promise.all(ids.map((id) => deliveriesOf(owner, id)));
    expect(sent.map((d) => d[0]!.status)).toEqual(['sent', 'sent']);
    expect(new Set(sent.map((d) => d[0]!.providerMessageId))).toEqual(new Set([mails[1]!.id]));
  });
});

describe('a tenant with many members', () => {
  it('every verified member with email on gets exactly one email: a few inline, the rest as queued jobs', async () => {
    const owner = await signup('many');
    const members = [owner, ...(await Promise.all([1, 2, 3, 4].map((i) => addMember(owner, 'member', `many${i}`))))];
    for (const m of members) {
      await markVerified(m);
      await putPrefs(m);
    }
    const { notification } = await fireReminder(owner, 'Team standup');
    const deliveries = await deliveriesWhen(owner, notification.id, (l) => l.length === 5 && l.every((d) => d.status === 'sent'), 20_000);
    expect(new Set(deliveries.map((d) => d.recipientId))).toEqual(new Set(members.map((m) => m.userId)));
    for (const m of members) expect(await sentTo(m.email)).toHaveLength(1);
  });
});

describe('retention', () => {
  it('finished deliveries go after 30 days, used-up verification links a day after they expired; nothing else', async () => {
    const owner = await signup('retention');
    await markVerified(owner);
    await putPrefs(owner);
    const { notification } = await fireReminder(owner);
    const [d] = await deliveriesWhen(owner, notification.id, (l) => l[0]?.status === 'sent');
    const old = new Date(Date.now() - 31 * 86_400_000).toISOString();
    await env.DB.prepare(`UPDATE email_deliveries SET updated_at = ? WHERE id = ?`).bind(old, d!.id).run();
    await env.DB.prepare(`UPDATE email_verifications SET expires_at = ? WHERE user_id = ?`).bind(old, owner.userId).run();
    const { notification: fresh } = await fireReminder(owner, 'Fresh');
    await deliveriesWhen(owner, fresh.id, (l) => l[0]?.status === 'sent');
    await purgeEmailRecords.run(env, new Date());
    expect(await deliveriesOf(owner, notification.id)).toEqual([]);
    expect(await deliveriesOf(owner, fresh.id)).toHaveLength(1);
    const links = await env.DB.prepare(`SELECT COUNT(*) AS n FROM email_verifications WHERE user_id = ?`)
      .bind(owner.userId)
      .first<{ n: number }>();
    expect(links?.n).toBe(0);
  });
});
