/**
 * D1 and Durable Object SQLite bind at most 100 values per statement. A statement that binds a list
 * (`IN (…)`, a multi-row insert of one column) takes it BIND_CHUNK at a time, leaving room for the
 * statement's other values.
 */
export const BIND_CHUNK = 90;

/** `items` in order, BIND_CHUNK (or `size`) at a time: one statement's worth each. */
export function bindChunks<T>(items: readonly T[], size = BIND_CHUNK): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}
