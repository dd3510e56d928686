/** Helpers for the email suites: the fake Resend API's record, preferences, a delivered reminder. */
import { env } from 'cloudflare:workers';
import { inject } from 'vitest';
import { eventually } from '../../support/shared/time';
import { hub, runAlarm } from '../../support/workers/durable-objects';
import { call, expectJson } from '../../support/workers/http';
import type { TestTenant } from '../../support/workers/tenants';
import { type Json, makeDue, taskWithReminder } from '../tasks/_support';

/** One request the fake Resend API got (test/support/node/fake-resend.ts). */
export interface ResendRequest {
  at: number;
  idempotencyKey: string | null;
  status: number;
  id: string | null;
  body: Record<string, any> | null;
}

/** Every request the fake Resend API got for `address`, in arrival order. */
export async function sentTo(address: string): Promise<ResendRequest[]> {
  const res = await fetch(`${inject('fakeResendUrl')}/__sent?to=${encodeURIComponent(address)}`);
  return (await res.json()) as ResendRequest[];
}

/** Waits until `address` got `n` requests. */
export function sentAtLeast(address: string, n: number, timeoutMs = 10_000): Promise<ResendRequest[]> {
  return eventually(
    async () => {
      const got = await sentTo(address);
      return got.length >= n ? got : undefined;
    },
    { timeoutMs, what: `${n} email request(s) to ${address}` },
  );
}

export const EMAIL_ON = {
  email: { enabled: true, address: null, digest: 'off', quietHours: null },
  kinds: { reminder: ['inapp', 'email'], system: ['inapp'] },
} as const;

export async function putPrefs(t: TestTenant, prefs: Json = EMAIL_ON): Promise<Json> {
  return expectJson(await call('/v1/me/notification-preferences', { method: 'PUT', token: t.accessToken, body: prefs }));
}

/** Marks the account's address proven (what the verification link does; tested in verification.test.ts). */
export async function markVerified(t: TestTenant): Promise<void> {
  await env.DB.prepare(`UPDATE users SET email_verified_at = ? WHERE id = ?`).bind(new Date().toISOString(), t.userId).run();
}

/** A reminder of a new task fired through the hub's alarm; its notification. */
export async function fireReminder(t: TestTenant, title = 'Call the bank'): Promise<{ task: Json; notification: Json }> {
  const { task, reminderId } = await taskWithReminder(t, title);
  await makeDue(t.tenantId, reminderId);
  await runAlarm(hub(t.tenantId));
  const list = (await expectJson(await call('/v1/notifications', { token: t.accessToken }))).data as Json[];
  const notification = list.find((n) => n.taskId === task.id)!;
  return { task, notification };
}

export async function deliveriesOf(t: TestTenant, notificationId: string): Promise<Json[]> {
  return (await expectJson(await call(`/v1/notifications/${notificationId}/deliveries`, { token: t.accessToken }))).data;
}

/** Waits until the notification's deliveries satisfy `done`. */
export function deliveriesWhen(t: TestTenant, notificationId: string, done: (d: Json[]) => boolean, timeoutMs = 10_000): Promise<Json[]> {
  return eventually(
    async () => {
      const d = await deliveriesOf(t, notificationId);
      return done(d) ? d : undefined;
    },
    { timeoutMs, what: `deliveries of ${notificationId}` },
  );
}
