/**
 * drizzle over D1, one instance per binding per isolate: building one reads the whole schema's
 * relational config (about a quarter of a millisecond of CPU), which every request paid before
 * (issue 20). The instance holds no per-request state, only the binding and the schema.
 */
import { drizzle } from 'drizzle-orm/d1';
import * as schema from './schema';

const instances = new WeakMap<D1Database, ReturnType<typeof create>>();

function create(d1: D1Database) {
  return drizzle(d1, { schema });
}

export function getDb(d1: D1Database) {
  let db = instances.get(d1);
  if (db === undefined) {
    db = create(d1);
    instances.set(d1, db);
  }
  return db;
}

export type Db = ReturnType<typeof getDb>;

/** Readiness probe: one trivial query through the binding. */
export async function pingDb(d1: D1Database): Promise<void> {
  await d1.prepare('SELECT 1').first();
}
