/**
 * Schema migrations for a Durable Object's own SQLite storage. Each object runs
 * them once under blockConcurrencyWhile at construction; applied versions are
 * remembered in `_schema`, so a migration runs exactly once per object.
 */

export interface DoMigration {
  version: number;
  sql: string;
}

export function migrateDoStorage(storage: DurableObjectStorage, migrations: readonly DoMigration[]): number {
  const sql = storage.sql;
  sql.exec('CREATE TABLE IF NOT EXISTS _schema (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)');
  const row = sql.exec<{ v: number | null }>('SELECT MAX(version) AS v FROM _schema').one();
  let current = row.v ?? 0;
  for (const m of [...migrations].sort((a, b) => a.version - b.version)) {
    if (m.version <= current) continue;
    storage.transactionSync(() => {
      sql.exec(m.sql);
      sql.exec('INSERT INTO _schema (version, applied_at) VALUES (?, ?)', m.version, new Date().toISOString());
    });
    current = m.version;
  }
  return current;
}
