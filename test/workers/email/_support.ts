/** Helpers for the email suites: the fake Resend API's record, preferences, a delivered reminder. */
import { eventually } from '../../support/shared/time';
import { hub, runAlarm } from '../../support/workers/durable-objects';
import { isNotification, sentAtLeast as kitSentAtLeast, sentTo as kitSentTo, type ResendRequest } from '../../support/workers/email';
import { call, expectJson } from '../../support/workers/http';
import type { TestTenant } from '../../support/workers/tenants';
import { type Json, makeDue, taskWithReminder } from '../tasks/_support';

export type { ResendRequest };

/** Notification mail (not verification mail) the fake Resend API got for `address`. */
export async function sentTo(address: string): Promise<ResendRequest[]> {
  return (await kitSentTo(address)).filter(isNotification);
}

export function sentAtLeast(address: string, n: number, timeoutMs = 10_000): Promise<ResendRequest[]> {
  return kitSentAtLeast(address, n, { timeoutMs, filter: isNotification });
}

export const EMAIL_ON = {
  email: { enabled: true, address: null, digest: 'off', quietHours: null },
  kinds: { reminder: ['inapp', 'email'], system: ['inapp'] },
} as const;

export async function putPrefs(t: TestTenant, prefs: Json = EMAIL_ON): Promise<Json> {
  return expectJson(await call('/v1/me/notification-preferences', { method: 'PUT', token: t.accessToken, body: prefs }));
}

export { verifyEmail as markVerified } from '../../support/workers/email';

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
