/** Wall-clock arithmetic on plain 'YYYY-MM-DD' / 'HH:mm' strings; the only timezone-aware step is `localClock`. */

/** "Now" as seen on a wall clock in one timezone. */
export interface LocalClock {
  /** The injected instant. */
  instant: Date;
  timezone: string;
  date: string; // YYYY-MM-DD
  time: string; // HH:mm
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (!f) {
    // Throws RangeError on an unknown zone: callers validate the timezone before parsing.
    f = new Intl.DateTimeFormat('en-US', {
      timeZone, hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit',
    });
    formatters.set(timeZone, f);
  }
  return f;
}

/** Local date and minute of `instant` in `timeZone`. */
export function toLocal(instant: Date, timeZone: string): { date: string; time: string } {
  const parts: Record<string, string> = {};
  for (const p of formatter(timeZone).formatToParts(instant)) parts[p.type] = p.value;
  return { date: `${parts.year}-${parts.month}-${parts.day}`, time: `${parts.hour}:${parts.minute}` };
}

export function localClock(now: Date, timezone: string): LocalClock {
  return { instant: now, timezone, ...toLocal(now, timezone) };
}

/** True when `timeZone` is an IANA name this runtime knows. */
export function isValidTimeZone(timeZone: string): boolean {
  try {
    formatter(timeZone);
    return true;
  } catch {
    return false;
  }
}

export function ymd(year: number, month: number, day: number): string {
  return `${String(year).padStart(4, '0')}-${pad2(month)}-${pad2(day)}`;
}

export function hm(hour: number, minute: number): string {
  return `${pad2(hour)}:${pad2(minute)}`;
}

function pad2(n: number): string {
  return String(n).padStart(2, '0');
}

function toUtc(date: string): Date {
  const [y, m, d] = date.split('-').map(Number) as [number, number, number];
  return new Date(Date.UTC(y, m - 1, d));
}

export function addDays(date: string, days: number): string {
  const t = toUtc(date);
  t.setUTCDate(t.getUTCDate() + days);
  return t.toISOString().slice(0, 10);
}

/** 0 = Sunday … 6 = Saturday, like Date#getDay. */
export function weekdayOf(date: string): number {
  return toUtc(date).getUTCDay();
}

export function daysInMonth(year: number, month: number): number {
  return new Date(Date.UTC(year, month, 0)).getUTCDate();
}

export function splitDate(date: string): { year: number; month: number; day: number } {
  const [year, month, day] = date.split('-').map(Number) as [number, number, number];
  return { year, month, day };
}

/** Monday of the week after the one containing `date`. */
export function nextMonday(date: string): string {
  const offset = (8 - weekdayOf(date)) % 7 || 7;
  return addDays(date, offset);
}

/** The instant a local wall-clock minute names in `timeZone` (the later one if a DST change repeats it). */
export function localToInstant(date: string, time: string, timeZone: string): Date {
  const { year, month, day } = splitDate(date);
  const [hour, minute] = time.split(':').map(Number) as [number, number];
  const want = Date.UTC(year, month - 1, day, hour, minute);
  let guess = want;
  // Two corrections settle the offset, DST included.
  for (let i = 0; i < 2; i++) {
    const seen = toLocal(new Date(guess), timeZone);
    const s = splitDate(seen.date);
    const [h, m] = seen.time.split(':').map(Number) as [number, number];
    guess += want - Date.UTC(s.year, s.month - 1, s.day, h, m);
  }
  return new Date(guess);
}
