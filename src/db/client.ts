/** drizzle over D1. One instance per request is cheap (it wraps the binding). */
import { drizzle } from 'drizzle-orm/d1';
import * as schema from './schema';

export function getDb(d1: D1Database) {
  return drizzle(d1, { schema });
}

export type Db = ReturnType<typeof getDb>;

/** Readiness probe: one trivial query through the binding. */
export async function pingDb(d1: D1Database): Promise<void> {
  await d1.prepare('SELECT 1').first();
}
