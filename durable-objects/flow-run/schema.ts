/** The FlowRun's SQLite schema (see ../shared/migrations.ts). */
import type { DoMigration } from '../shared/migrations';

export const RUN_MIGRATIONS: readonly DoMigration[] = [
  // Version 1's run_meta was never read or written; version 4 drops it from objects that applied it.
  { version: 1, sql: `CREATE TABLE IF NOT EXISTS run_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)` },
  {
    version: 2,
    sql: `
      CREATE TABLE run (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        run_id TEXT NOT NULL,
        tenant_id TEXT NOT NULL,
        flow_id TEXT NOT NULL,
        flow_version INTEGER NOT NULL,
        definition TEXT NOT NULL,
        input TEXT NOT NULL,
        settings TEXT NOT NULL,
        parent TEXT,
        status TEXT NOT NULL,
        created_at TEXT NOT NULL,
        started_at TEXT,
        finished_at TEXT,
        deadline_at INTEGER,
        error TEXT,
        output TEXT,
        input_tokens INTEGER NOT NULL DEFAULT 0,
        output_tokens INTEGER NOT NULL DEFAULT 0,
        cost_usd REAL NOT NULL DEFAULT 0
      );
      CREATE TABLE nodes (
        id TEXT PRIMARY KEY,
        type TEXT NOT NULL,
        status TEXT NOT NULL,
        attempt INTEGER NOT NULL DEFAULT 0,
        output TEXT,
        error TEXT,
        branch TEXT,
        reused INTEGER NOT NULL DEFAULT 0,
        started_at TEXT,
        finished_at TEXT,
        not_before INTEGER,
        wait TEXT,
        children TEXT,
        successes INTEGER NOT NULL DEFAULT 0,
        input_tokens INTEGER NOT NULL DEFAULT 0,
        output_tokens INTEGER NOT NULL DEFAULT 0,
        cost_usd REAL NOT NULL DEFAULT 0
      );
      CREATE TABLE events (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        type TEXT NOT NULL,
        node_id TEXT,
        data TEXT,
        at TEXT NOT NULL
      );
    `,
  },
  { version: 3, sql: `ALTER TABLE nodes ADD COLUMN attempt_base INTEGER NOT NULL DEFAULT 0` },
  { version: 4, sql: `DROP TABLE IF EXISTS run_meta` },
  {
    version: 5,
    sql: `
      -- The run's report outbox (./reports.ts): one row per receiver of a status change, written in the
      -- transition's transaction and delivered by the alarm until the receiver acknowledges.
      CREATE TABLE reports (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        receiver TEXT NOT NULL,
        status TEXT NOT NULL,
        payload TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        next_at INTEGER NOT NULL,
        last_error TEXT,
        done_at INTEGER
      );
      CREATE INDEX reports_pending_idx ON reports (done_at, id);
    `,
  },
  {
    version: 6,
    sql: `
      -- Durable steps of a node (src/flows/nodes/types.ts ExecContext.step): an agent's model calls, tool
      -- calls and the answers to its parked calls. A replayed node attempt reads a 'done' step instead of
      -- doing it again; a 'started' one was interrupted (the object died mid-step).
      CREATE TABLE steps (
        node_id TEXT NOT NULL,
        key TEXT NOT NULL,
        status TEXT NOT NULL,
        result TEXT,
        started_at TEXT NOT NULL,
        finished_at TEXT,
        PRIMARY KEY (node_id, key)
      );
      -- Who started the run (its role travels with the run: agent task tools act with it).
      ALTER TABLE run ADD COLUMN initiator TEXT;
    `,
  },
];

/**
 * The schema at version 6 in one piece, for a new object (every run starts as one, issue 20): the same
 * tables as steps 1 to 6 without creating and dropping run_meta or altering tables just made.
 * test/workers/do-migrations.test.ts checks that it equals the steps' result.
 */
export const RUN_FRESH: DoMigration = {
  version: 6,
  sql: `
    CREATE TABLE run (
      id INTEGER PRIMARY KEY CHECK (id = 1),
      run_id TEXT NOT NULL,
      tenant_id TEXT NOT NULL,
      flow_id TEXT NOT NULL,
      flow_version INTEGER NOT NULL,
      definition TEXT NOT NULL,
      input TEXT NOT NULL,
      settings TEXT NOT NULL,
      parent TEXT,
      status TEXT NOT NULL,
      created_at TEXT NOT NULL,
      started_at TEXT,
      finished_at TEXT,
      deadline_at INTEGER,
      error TEXT,
      output TEXT,
      input_tokens INTEGER NOT NULL DEFAULT 0,
      output_tokens INTEGER NOT NULL DEFAULT 0,
      cost_usd REAL NOT NULL DEFAULT 0, initiator TEXT
    );
    CREATE TABLE nodes (
      id TEXT PRIMARY KEY,
      type TEXT NOT NULL,
      status TEXT NOT NULL,
      attempt INTEGER NOT NULL DEFAULT 0,
      output TEXT,
      error TEXT,
      branch TEXT,
      reused INTEGER NOT NULL DEFAULT 0,
      started_at TEXT,
      finished_at TEXT,
      not_before INTEGER,
      wait TEXT,
      children TEXT,
      successes INTEGER NOT NULL DEFAULT 0,
      input_tokens INTEGER NOT NULL DEFAULT 0,
      output_tokens INTEGER NOT NULL DEFAULT 0,
      cost_usd REAL NOT NULL DEFAULT 0, attempt_base INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE events (
      seq INTEGER PRIMARY KEY AUTOINCREMENT,
      type TEXT NOT NULL,
      node_id TEXT,
      data TEXT,
      at TEXT NOT NULL
    );
    CREATE TABLE reports (
      id INTEGER PRIMARY KEY AUTOINCREMENT,
      receiver TEXT NOT NULL,
      status TEXT NOT NULL,
      payload TEXT NOT NULL,
      attempts INTEGER NOT NULL DEFAULT 0,
      next_at INTEGER NOT NULL,
      last_error TEXT,
      done_at INTEGER
    );
    CREATE INDEX reports_pending_idx ON reports (done_at, id);
    CREATE TABLE steps (
      node_id TEXT NOT NULL,
      key TEXT NOT NULL,
      status TEXT NOT NULL,
      result TEXT,
      started_at TEXT NOT NULL,
      finished_at TEXT,
      PRIMARY KEY (node_id, key)
    );
  `,
};
