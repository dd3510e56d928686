/**
 * Replies that act, end to end: the bundled Worker on workerd emails a reminder through the HTTP
 * provider (a local Resend-compatible API), and replies come in through wrangler's local email
 * endpoint (`POST /cdn-cgi/local/email`, which runs the Worker's `email()` handler as Email Routing
 * would). "done" from the verified member completes the task (task.completed reaches a webhook),
 * "snooze 1h" adds a reminder; a stranger's reply, a forged reply address or chatter do nothing.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, signup } from '../support/node/api';
import { emailThrough, type FakeResend, mailTo, startFakeResend, verifyEmail } from '../support/node/fake-resend';
import { startWebhookReceiver, type WebhookReceiver } from '../support/node/webhook-receiver';
import { type RunningWorker, startWorker } from '../support/node/worker';
import type { TestTenant } from '../support/shared/tenants';
import { eventually } from '../support/shared/time';

let worker: RunningWorker;
let resend: FakeResend;
let receiver: WebhookReceiver;
beforeAll(async () => {
  resend = await startFakeResend();
  receiver = await startWebhookReceiver();
  worker = await startWorker({
    triggerHandlers: true,
    bindings: emailThrough(resend),
  });
});
afterAll(async () => {
  await worker?.dispose();
  await resend?.close();
  await receiver?.close();
});

async function verifiedMember(tag: string): Promise<TestTenant> {
  const t = await signup(worker, tag);
  await verifyEmail(worker, resend, t.email);
  return t;
}

/** A task whose reminder fires in about a second; resolves with the task and its reminder email's Reply-To. */
async function remindedTask(t: TestTenant, title: string): Promise<{ taskId: string; replyTo: string }> {
  const now = Date.now();
  const task = await api(worker, 'POST', '/v1/tasks', t.accessToken, {
    title,
    dueAt: new Date(now + 3600_000).toISOString(),
    reminders: [{ at: new Date(now + 1500).toISOString() }],
  });
  expect(task.status).toBe(201);
  const mail = await mailTo(resend, t.email, `Reminder: ${title}`);
  return { taskId: task.body.id, replyTo: mail.body!.reply_to };
}

function reply(from: string, to: string, text: string, messageId = `<${crypto.randomUUID()}@mail.example>`): string {
  return [
    `From: <${from}>`,
    `To: <${to}>`,
    'Subject: Re: your reminder',
    `Message-ID: ${messageId}`,
    `Date: ${new Date().toUTCString()}`,
    'MIME-Version: 1.0',
    'Content-Type: text/plain; charset=utf-8',
    '',
    text,
    '',
    '> On Thursday Edgecrew wrote:',
    '> done',
    '',
  ].join('\r\n');
}

/** Delivers `raw` to the Worker's email() handler; the handler never rejects (nothing bounces to the sender). */
async function send(from: string, to: string, raw: string): Promise<void> {
  const res = await worker.fetch(`/cdn-cgi/local/email?from=${encodeURIComponent(from)}&to=${encodeURIComponent(to)}`, {
    method: 'POST',
    body: raw,
  });
  const text = await res.text();
  expect(res.status, text).toBe(200);
}

const taskOf = async (t: TestTenant, id: string) => (await api(worker, 'GET', `/v1/tasks/${id}`, t.accessToken)).body;

describe('replies that act', () => {
  it('"done" from the verified member completes the task and emits task.completed; a stranger, a forged address and chatter do nothing', async () => {
    const owner = await verifiedMember('reply');
    const stranger = await verifiedMember('reply-stranger');
    const hook = await api(worker, 'POST', '/v1/webhooks', owner.accessToken, {
      url: `${receiver.url}/hooks/replies-${owner.tenantId}`,
      eventTypes: ['task.completed'],
    });
    expect(hook.status).toBe(201);
    await fetch(`${receiver.url}/__register`, {
      method: 'POST',
      body: JSON.stringify({ name: `replies-${owner.tenantId}`, secrets: [hook.body.secret] }),
    });
    await api(worker, 'PUT', '/v1/me/notification-preferences', owner.accessToken, {
      email: { enabled: true, address: null, digest: 'off', quietHours: null },
      kinds: { reminder: ['inapp', 'email'], system: ['inapp'] },
    });
    const { taskId, replyTo } = await remindedTask(owner, 'Water the plants');
    expect(replyTo).toMatch(/^reply\+eml_[0-9a-z]{26}\.[0-9a-f]{32}@edgecrew\.test$/);

    // Someone else (a real account, but not this delivery's member) replies "done": nothing.
    await send(stranger.email, replyTo, reply(stranger.email, replyTo, 'done'));
    // The member, to a reply address whose signature was altered: nothing.
    const forged = replyTo.replace(/\.([0-9a-f])/, (_m, c: string) => `.${c === 'a' ? 'b' : 'a'}`);
    await send(owner.email, forged, reply(owner.email, forged, 'done'));
    // The member, but not a command: nothing.
    await send(owner.email, replyTo, reply(owner.email, replyTo, 'Thanks, will do!'));
    expect((await taskOf(owner, taskId)).status).toBe('open');

    const messageId = `<${crypto.randomUUID()}@mail.example>`;
    await send(owner.email, replyTo, reply(owner.email, replyTo, 'Done', messageId));
    expect((await taskOf(owner, taskId)).status).toBe('done');
    const completed = await eventually(
      () => receiver.received.find((r) => r.name === `replies-${owner.tenantId}` && r.payload?.type === 'task.completed'),
      { what: 'task.completed at the webhook', timeoutMs: 20_000, intervalMs: 100 },
    );
    expect(completed.payload!.data.task).toMatchObject({ id: taskId, status: 'done' });
    // The same message delivered again acts once.
    await send(owner.email, replyTo, reply(owner.email, replyTo, 'Done', messageId));
    const logs = worker.logs.map((l) => l.message).filter((m) => m.includes('inbound email'));
    expect(logs.filter((m) => m.includes('"reason":"sender is not the verified member"'))).toHaveLength(1);
    expect(logs.filter((m) => m.includes('"reason":"not a reply address"'))).toHaveLength(1);
    expect(logs.filter((m) => m.includes('"reason":"no command"'))).toHaveLength(1);
    expect(logs.filter((m) => m.includes('inbound email acted'))).toHaveLength(1);
    expect(logs.filter((m) => m.includes('"reason":"already handled"'))).toHaveLength(1);
  });

  it('"snooze 1h" adds a reminder an hour from now', async () => {
    const owner = await verifiedMember('snooze');
    await api(worker, 'PUT', '/v1/me/notification-preferences', owner.accessToken, {
      email: { enabled: true, address: null, digest: 'off', quietHours: null },
      kinds: { reminder: ['inapp', 'email'], system: ['inapp'] },
    });
    const { taskId, replyTo } = await remindedTask(owner, 'Call Ana');
    const before = Date.now();
    await send(owner.email, replyTo, reply(owner.email, replyTo, 'snooze 1h'));
    const task = await taskOf(owner, taskId);
    expect(task.status).toBe('open');
    const at = Date.parse(task.nextReminderAt);
    expect(at).toBeGreaterThanOrEqual(before + 3600_000 - 1000);
    expect(at).toBeLessThanOrEqual(Date.now() + 3600_000);
  });
});
