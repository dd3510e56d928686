/**
 * A Durable Object's SqlStorage seen through a stand-in for `exec`, for tests of how a read uses
 * SQLite: `interceptExec` hands each statement to `exec(query, args, real)`, and `planRecorder` records
 * SQLite's plan (EXPLAIN QUERY PLAN, with the real arguments) of every statement run through it.
 */
type Exec = (query: string, args: SqlStorageValue[], real: SqlStorage) => unknown;

export function interceptExec(sql: SqlStorage, exec: Exec): SqlStorage {
  return new Proxy(sql, {
    get(target, key) {
      if (key !== 'exec') return Reflect.get(target, key);
      return (query: string, ...args: SqlStorageValue[]) => exec(query, args, target);
    },
  });
}

export function planRecorder(sql: SqlStorage): { sql: SqlStorage; plans: string[] } {
  const plans: string[] = [];
  const recording = interceptExec(sql, (query, args, real) => {
    for (const r of real.exec<{ detail: string }>(`EXPLAIN QUERY PLAN ${query}`, ...args)) plans.push(r.detail);
    return real.exec(query, ...args);
  });
  return { sql: recording, plans };
}
