/** Email in workerd tests: what the fake Resend API (test/support/node/fake-resend.ts) received, and the verification link flow. */
import { inject } from 'vitest';
import { eventually } from '../shared/time';
import { fetchWorker, json } from './http';
import type { TestTenant } from './tenants';

/** One request the fake Resend API got. */
export interface ResendRequest {
  at: number;
  idempotencyKey: string | null;
  status: number;
  id: string | null;
  body: Record<string, any> | null;
}

/** Every request the fake Resend API got for `address`, in arrival order. */
export async function sentTo(address: string): Promise<ResendRequest[]> {
  const res = await fetch(`${inject('fakeResendUrl')}/__sent?to=${encodeURIComponent(address.toLowerCase())}`);
  return (await res.json()) as ResendRequest[];
}

/** Waits until `address` got at least `n` requests that match `filter`. */
export function sentAtLeast(
  address: string,
  n: number,
  { timeoutMs = 10_000, filter = () => true }: { timeoutMs?: number; filter?: (r: ResendRequest) => boolean } = {},
): Promise<ResendRequest[]> {
  return eventually(
    async () => {
      const got = (await sentTo(address)).filter(filter);
      return got.length >= n ? got : undefined;
    },
    { timeoutMs, what: `${n} email request(s) to ${address}` },
  );
}

export const isVerification = (r: ResendRequest) => r.body?.subject === 'Confirm your email address';
/** Notification mail (anything but verification). */
export const isNotification = (r: ResendRequest) => !isVerification(r);

/** The newest verification link emailed to `address` (path only). */
export async function verificationLink(address: string, n = 1): Promise<string> {
  const mails = await sentAtLeast(address, n, { filter: (r) => isVerification(r) && r.status === 200 });
  const text: string = mails[mails.length - 1]!.body!.text;
  return new URL(/https?:\/\/\S+\/v1\/auth\/verify-email\/\S+/.exec(text)![0]).pathname;
}

/** Verifies `t`'s address the way its owner does: the emailed link's button (a POST). */
export async function verifyEmail(t: Pick<TestTenant, 'email'>): Promise<void> {
  const res = await fetchWorker(await verificationLink(t.email), { method: 'POST' });
  if (res.status !== 200) throw new Error(`verification failed: ${res.status} ${JSON.stringify(await json(res))}`);
}
