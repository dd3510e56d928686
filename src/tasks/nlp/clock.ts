/** Wall-clock arithmetic on plain 'YYYY-MM-DD' / 'HH:mm' strings; zone conversion comes from the scheduling core. */
import { instantToZoned, isValidTimezone, zonedToInstant } from '../schedule/zone';

/** "Now" as seen on a wall clock in one timezone. */
export interface LocalClock {
  /** The injected instant. */
  instant: Date;
  timezone: string;
  date: string; // YYYY-MM-DD
  time: string; // HH:mm
}

/** Local date and minute of `instant` in `timeZone` (the scheduling core's zone conversion). */
export function toLocal(instant: Date, timeZone: string): { date: string; time: string } {
  return instantToZoned(instant.toISOString(), timeZone);
}

export function localClock(now: Date, timezone: string): LocalClock {
  return { instant: now, timezone, ...toLocal(now, timezone) };
}

/** True when `timeZone` is an IANA name this runtime knows. */
export const isValidTimeZone = isValidTimezone;

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

/** The instant a local wall-clock minute names in `timeZone` (same DST rules as the scheduling core). */
export function localToInstant(date: string, time: string, timeZone: string): Date {
  return new Date(zonedToInstant(date, time, timeZone));
}
