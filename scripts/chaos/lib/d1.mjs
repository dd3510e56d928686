/**
 * "D1 is unavailable", injected from outside through the D1 binding itself: every application
 * table is renamed away, so every query the Worker makes (reads and writes, from requests, queue
 * consumers, Durable Objects and the sweeper alike) fails with a D1 error, until `up()` renames
 * them back. Indexes, foreign keys and triggers follow a rename, so nothing else changes.
 */
const SUFFIX = '__chaos_offline';

export async function d1Switch(db) {
  const tables = (
    await db
      .prepare(
        `SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '_cf_%' AND name NOT LIKE 'd1_%'`,
      )
      .all()
  ).results.map((r) => r.name);
  return {
    tables,
    down: () => db.batch(tables.map((t) => db.prepare(`ALTER TABLE "${t}" RENAME TO "${t}${SUFFIX}"`))),
    up: () => db.batch(tables.map((t) => db.prepare(`ALTER TABLE "${t}${SUFFIX}" RENAME TO "${t}"`))),
  };
}
