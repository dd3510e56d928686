/**
 * Schema migrations for a Durable Object's own SQLite storage. Each object runs
 * them once under blockConcurrencyWhile at construction; applied versions are
 * remembered in `_schema`, so a migration runs exactly once per object.
 */

export interface DoMigration {
  version: number;
  sql: string;
}

/**
 * `fresh`, when given, is the schema at `fresh.version` written out in one piece: a new object (no
 * version applied yet) runs it instead of every step up to that version, then any later steps. It must
 * equal the steps' result; a test per object compares both (test/workers/do-migrations.test.ts).
 */
export function migrateDoStorage(storage: DurableObjectStorage, migrations: readonly DoMigration[], fresh?: DoMigration): number {
  const sql = storage.sql;
  sql.exec('CREATE TABLE IF NOT EXISTS _schema (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)');
  const row = sql.exec<{ v: number | null }>('SELECT MAX(version) AS v FROM _schema').one();
  const current = row.v ?? 0;
  // A new object starts from the fresh schema, then takes the steps after it.
  const start = fresh && current === 0 ? [fresh] : [];
  const from = start[0]?.version ?? current;
  const pending = [...start, ...[...migrations].sort((a, b) => a.version - b.version).filter((m) => m.version > from)];
  if (pending.length === 0) return current;
  // Every pending step in one transaction: a new object (every run starts as one) commits once, not
  // once per step (issue 20), and a failing step leaves the schema where it was, not half-way.
  const appliedAt = new Date().toISOString();
  storage.transactionSync(() => {
    for (const m of pending) {
      sql.exec(m.sql);
      sql.exec('INSERT INTO _schema (version, applied_at) VALUES (?, ?)', m.version, appliedAt);
    }
  });
  return pending[pending.length - 1]!.version;
}
