/**
 * Pure rules of email delivery (no I/O, clock passed in): whether a member gets an email for a
 * notification, and when (quiet hours, daily digest). Table-tested in test/workers/email/policy.test.ts.
 */
import { DAY_MS, startOfDay } from '../tasks/schedule/civil';
import { instantToWall, wallToInstant } from '../tasks/schedule/zone';
import type { NotificationKind, NotificationPreferences } from './schemas';

/** The hour (local, recipient's zone) the daily digest goes out. */
export const DIGEST_HOUR = 9;

function minutesOf(hhmm: string): number {
  return Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3, 5));
}

/** When the quiet window around `now` ends (epoch ms), or null when `now` is outside it. */
export function quietUntil(q: NotificationPreferences['email']['quietHours'], now: number): number | null {
  if (!q) return null;
  const wall = instantToWall(now, q.timeZone);
  const day = startOfDay(wall);
  const m = Math.floor((wall - day) / 60_000);
  const s = minutesOf(q.start);
  const e = minutesOf(q.end);
  const inside = s < e ? m >= s && m < e : m >= s || m < e;
  if (!inside) return null;
  let endWall = day + e * 60_000;
  if (endWall <= wall) endWall += DAY_MS;
  return wallToInstant(endWall, q.timeZone);
}

/** The next digest time after `now`: DIGEST_HOUR local in `timeZone`, moved past quiet hours. */
export function nextDigestAt(timeZone: string, quiet: NotificationPreferences['email']['quietHours'], now: number): number {
  const wall = instantToWall(now, timeZone);
  let at = startOfDay(wall) + DIGEST_HOUR * 3600_000;
  if (at <= wall) at += DAY_MS;
  const instant = wallToInstant(at, timeZone);
  return quietUntil(quiet, instant) ?? instant;
}

export type Decision =
  | { status: 'queued'; at: number }
  | { status: 'deferred'; reason: 'quiet_hours' | 'digest'; at: number }
  | { status: 'suppressed'; reason: 'preferences' | 'unverified' | 'unsubscribed' | 'bounced' };

export interface Recipient {
  prefs: NotificationPreferences;
  verified: boolean;
  /** Why the address is on the suppression list, if it is. */
  suppressed: 'unsubscribed' | 'bounced' | null;
  timeZone: string;
}

/** What happens to `kind` for `r` at `now`. Reminders are urgent (never digested); other kinds follow `digest`. */
export function decide(kind: NotificationKind, r: Recipient, now: number): Decision {
  // An unsubscribed or bounced address says so first (one-click unsubscribe also turns preferences off).
  if (r.suppressed) return { status: 'suppressed', reason: r.suppressed };
  if (!r.prefs.email.enabled || !r.prefs.kinds[kind].includes('email')) return { status: 'suppressed', reason: 'preferences' };
  if (!r.verified) return { status: 'suppressed', reason: 'unverified' };
  if (kind !== 'reminder' && r.prefs.email.digest === 'daily')
    return { status: 'deferred', reason: 'digest', at: nextDigestAt(r.timeZone, r.prefs.email.quietHours, now) };
  const quiet = quietUntil(r.prefs.email.quietHours, now);
  if (quiet !== null) return { status: 'deferred', reason: 'quiet_hours', at: quiet };
  return { status: 'queued', at: now };
}
