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

/**
 * A query whose SQL text drizzle builds once per binding per isolate (`.prepare()` with
 * `sql.placeholder`s), for the hottest fixed-shape statements: building the text costs 30–55 µs of
 * CPU per statement, which the load test showed in every webhook fan-out (issue 20).
 */
export function preparedPer<T>(build: (db: Db) => T): (d1: D1Database) => T {
  const prepared = new WeakMap<D1Database, T>();
  return (d1) => {
    let q = prepared.get(d1);
    if (q === undefined) {
      q = build(getDb(d1));
      prepared.set(d1, q);
    }
    return q;
  };
}

/** Readiness probe: one trivial query through the binding. */
export async function pingDb(d1: D1Database): Promise<void> {
  await d1.prepare('SELECT 1').first();
}
