/**
 * IANA time zones through Intl (workerd has no native Temporal). Conversions follow Temporal's
 * 'compatible' disambiguation: a wall time in a spring-forward gap moves forward by the gap, an
 * ambiguous one (fall-back) takes the earlier instant.
 */
import { DAY_MS, formatDate, formatInstant, formatTime, parseDate, parseInstant, parseTime } from './civil';
import { ScheduleError } from './error';

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(timezone: string): Intl.DateTimeFormat | null {
  let f = formatters.get(timezone);
  if (!f) {
    // Offset strings ('+01:00') are accepted by newer Intl but are not IANA zones and have no DST rules.
    if (!/^[A-Za-z][A-Za-z0-9_+\-/]*$/.test(timezone)) return null;
    try {
      f = new Intl.DateTimeFormat('en-US', {
        timeZone: timezone,
        hourCycle: 'h23',
        year: 'numeric',
        month: 'numeric',
        day: 'numeric',
        hour: 'numeric',
        minute: 'numeric',
        second: 'numeric',
      });
    } catch {
      return null;
    }
    // Names are case-insensitive, so the cache is bounded by hand against made-up spellings.
    if (formatters.size >= 1000) formatters.clear();
    formatters.set(timezone, f);
  }
  return f;
}

/** True for a time zone name Intl knows (IANA names such as 'Europe/Berlin', and 'UTC'). */
export function isValidTimezone(tz: string): boolean {
  return formatter(tz) !== null;
}

function zoneFormatter(timezone: string): Intl.DateTimeFormat {
  const f = formatter(timezone);
  if (!f) throw new ScheduleError('timezone', `Unknown time zone '${timezone}': use an IANA name such as 'Europe/Berlin' or 'UTC'`);
  return f;
}

/** Epoch ms → wall ms in `timezone` (seconds precision is all zones need; ms are carried over). */
export function instantToWall(ms: number, timezone: string): number {
  const parts: Record<string, number> = {};
  for (const p of zoneFormatter(timezone).formatToParts(ms)) if (p.type !== 'literal') parts[p.type] = Number(p.value);
  const d = new Date(0);
  d.setUTCFullYear(parts.year!, parts.month! - 1, parts.day!);
  d.setUTCHours(parts.hour!, parts.minute!, parts.second!, ((ms % 1000) + 1000) % 1000);
  return d.getTime();
}

function offsetAt(ms: number, timezone: string): number {
  return instantToWall(ms, timezone) - ms;
}

/** Wall ms in `timezone` → epoch ms, with 'compatible' disambiguation (see the module comment). */
export function wallToInstant(wall: number, timezone: string): number {
  // Assume at most one offset change within ±1 day of the wall time (true of the tz database).
  const before = offsetAt(wall - DAY_MS, timezone);
  const after = offsetAt(wall + DAY_MS, timezone);
  const candidates = [wall - before, wall - after].filter((ms) => instantToWall(ms, timezone) === wall);
  // Gap: no instant shows this wall time; the offset before the transition moves it forward by the gap.
  return candidates.length > 0 ? Math.min(...candidates) : wall - before;
}

/** A local date and time in `timezone` → ISO UTC instant with ms. */
export function zonedToInstant(date: string, time: string, timezone: string): string {
  zoneFormatter(timezone);
  return formatInstant(wallToInstant(parseDate(date, 'date') + parseTime(time, 'time'), timezone));
}

/** An ISO instant → its local date and time (HH:mm) in `timezone`. */
export function instantToZoned(instant: string, timezone: string): { date: string; time: string } {
  const wall = instantToWall(parseInstant(instant, 'instant'), timezone);
  return { date: formatDate(wall), time: formatTime(wall) };
}

/** The local date in `timezone` at `now`. */
export function todayIn(timezone: string, now: Date): string {
  return formatDate(instantToWall(now.getTime(), timezone));
}
