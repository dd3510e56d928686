/**
 * The TenantHub tables of the events issue (forwarded control-plane events,
 * idempotency keys). Kept apart from HUB_MIGRATIONS so that this feature and the
 * task storage evolve without renumbering each other: every statement is
 * idempotent (IF NOT EXISTS) and runs at construction, after HUB_MIGRATIONS.
 */

const STATEMENTS = [
  // Ids of control-plane events appended to the outbox: a forward retried by the Worker or the sweeper appends once.
  `CREATE TABLE IF NOT EXISTS forwarded_events (id TEXT PRIMARY KEY, sequence INTEGER NOT NULL, received_at INTEGER NOT NULL)`,
  `CREATE INDEX IF NOT EXISTS forwarded_events_at_idx ON forwarded_events (received_at)`,
  // Idempotency-Key records (src/middleware/idempotency.ts): in flight until locked_until, then done or abandoned.
  `CREATE TABLE IF NOT EXISTS idempotency_keys (
     key TEXT PRIMARY KEY,
     fingerprint TEXT NOT NULL,
     state TEXT NOT NULL,
     response TEXT,
     locked_until INTEGER,
     expires_at INTEGER NOT NULL
   )`,
  `CREATE INDEX IF NOT EXISTS idempotency_keys_expiry_idx ON idempotency_keys (expires_at)`,
];

export function ensureEventTables(storage: DurableObjectStorage): void {
  storage.transactionSync(() => {
    for (const s of STATEMENTS) storage.sql.exec(s);
  });
}
