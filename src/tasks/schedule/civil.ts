/**
 * Calendar arithmetic on "wall milliseconds": a local date and time encoded as if it were UTC
 * (Date.UTC of the wall fields). Time zones are applied only at the edges (zone.ts), so the
 * recurrence engine sees floating local time and DST never shifts a series.
 */
import { ScheduleError } from './error';

export const DAY_MS = 86_400_000;

const DATE_RE = /^(\d{4})-(\d{2})-(\d{2})$/;
const TIME_RE = /^(\d{2}):(\d{2})(?::(\d{2}))?$/;
const INSTANT_RE = /^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2}(?::\d{2})?)(?:\.(\d+))?(Z|[+-]\d{2}:\d{2})$/i;

/** Wall ms of a calendar date at midnight; years 0001-9999 (Date.UTC would map 0-99 to 19xx). */
function civilMs(year: number, month: number, day: number): number {
  const d = new Date(0);
  d.setUTCFullYear(year, month - 1, day);
  return d.getTime();
}

/** 'YYYY-MM-DD' → wall ms at 00:00; throws ScheduleError(field) for anything else, e.g. 2026-02-30. */
export function parseDate(date: string, field: string): number {
  const m = DATE_RE.exec(date);
  const ms = m ? civilMs(Number(m[1]), Number(m[2]), Number(m[3])) : NaN;
  if (!m || Number(m[1]) < 1 || formatDate(ms) !== date)
    throw new ScheduleError(field, `Expected a calendar date YYYY-MM-DD, got '${date}'`);
  return ms;
}

/** 'HH:mm' or 'HH:mm:ss' → ms since midnight. */
export function parseTime(time: string, field: string): number {
  const m = TIME_RE.exec(time);
  const [h, mi, s] = m ? [Number(m[1]), Number(m[2]), Number(m[3] ?? 0)] : [NaN, NaN, NaN];
  if (!(h <= 23 && mi <= 59 && s <= 59)) throw new ScheduleError(field, `Expected a time HH:mm or HH:mm:ss (00:00-23:59), got '${time}'`);
  return ((h * 60 + mi) * 60 + s) * 1000;
}

/** An ISO 8601 instant with 'Z' or an offset → epoch ms (fraction beyond ms is truncated). */
export function parseInstant(instant: string, field: string): number {
  const m = INSTANT_RE.exec(instant);
  const bad = () => new ScheduleError(field, `Expected an ISO 8601 instant like 2026-03-08T09:00:00Z, got '${instant}'`);
  if (!m) throw bad();
  const wall = parseDate(m[1]!, field) + parseTime(m[2]!, field) + Number((m[3] ?? '').slice(0, 3).padEnd(3, '0'));
  const zone = m[4]!.toUpperCase();
  if (zone === 'Z') return wall;
  const [oh, om] = [Number(zone.slice(1, 3)), Number(zone.slice(4, 6))];
  if (oh > 23 || om > 59) throw bad();
  return wall - (zone.startsWith('-') ? -1 : 1) * (oh * 60 + om) * 60_000;
}

/** Epoch ms → 'YYYY-MM-DDTHH:mm:ss.sssZ'. */
export function formatInstant(ms: number): string {
  return new Date(ms).toISOString();
}

/** Wall ms → 'YYYY-MM-DD'. */
export function formatDate(wall: number): string {
  return new Date(wall).toISOString().slice(0, 10);
}

/** Wall ms → 'HH:mm'. */
export function formatTime(wall: number): string {
  return new Date(wall).toISOString().slice(11, 16);
}

/** Wall ms of midnight on the same local date. */
export function startOfDay(wall: number): number {
  return Math.floor(wall / DAY_MS) * DAY_MS;
}
