/**
 * A Durable Object's SqlStorage that records SQLite's plan (EXPLAIN QUERY PLAN, with the real
 * arguments) of every statement run through it, for tests of which index a read uses.
 */
export function planRecorder(sql: SqlStorage): { sql: SqlStorage; plans: string[] } {
  const plans: string[] = [];
  const recording = new Proxy(sql, {
    get(target, key) {
      if (key !== 'exec') return Reflect.get(target, key);
      return (query: string, ...args: SqlStorageValue[]) => {
        for (const r of target.exec<{ detail: string }>(`EXPLAIN QUERY PLAN ${query}`, ...args)) plans.push(r.detail);
        return target.exec(query, ...args);
      };
    },
  });
  return { sql: recording, plans };
}
