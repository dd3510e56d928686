/**
 * ISO 8601 durations for reminders. Weeks and days are nominal (calendar) days and the time
 * part is exact, as RFC 5545 §3.3.6 and Temporal define them: "P1D before 09:00" is 09:00 the
 * day before even across a DST change, "PT24H" is exactly 24 hours.
 */

export interface DurationParts {
  /** Nominal days (weeks × 7 + days). */
  days: number;
  /** Exact milliseconds of the time part. */
  ms: number;
}

// PnW alone, or PnD with an optional time part. Years and months have no fixed length: unsupported.
const DURATION_RE = /^P(?:(\d+)W|(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d{1,3})?)S)?)?)$/;

/** Parses a positive duration into nominal days and exact ms; null if invalid, zero, or with Y/M. */
export function parseDurationParts(iso: string): DurationParts | null {
  const m = DURATION_RE.exec(iso);
  if (!m || iso.endsWith('T')) return null;
  const [, w, d, h, mi, s] = m;
  if (w === undefined && d === undefined && h === undefined && mi === undefined && s === undefined) return null;
  const days = Number(w ?? 0) * 7 + Number(d ?? 0);
  const ms = Math.round(((Number(h ?? 0) * 60 + Number(mi ?? 0)) * 60 + Number(s ?? 0)) * 1000);
  if (days === 0 && ms === 0) return null;
  if (!Number.isSafeInteger(days * 86_400_000 + ms)) return null;
  return { days, ms };
}

/** ISO 8601 duration → ms (a day counts 24 h): PnW, PnD, PTnHnMnS, PnDTnH…; null if invalid, zero, or with years/months. */
export function parseDuration(iso: string): number | null {
  const parts = parseDurationParts(iso);
  return parts ? parts.days * 86_400_000 + parts.ms : null;
}
