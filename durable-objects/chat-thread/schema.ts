/** The ChatThread's SQLite schema (see ../shared/migrations.ts; docs/storage-schema.md). */
import type { DoMigration } from '../shared/migrations';

export const CHAT_MIGRATIONS: readonly DoMigration[] = [
  {
    version: 1,
    sql: `
      CREATE TABLE chat (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        tenant_id TEXT NOT NULL,
        chat_id TEXT NOT NULL,
        title TEXT NOT NULL,
        created_by TEXT NOT NULL,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
      );
      CREATE TABLE messages (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        id TEXT NOT NULL UNIQUE,
        role TEXT NOT NULL,
        turn_id TEXT,
        message TEXT NOT NULL,
        created_at TEXT NOT NULL
      );
      CREATE TABLE turns (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        id TEXT NOT NULL UNIQUE,
        status TEXT NOT NULL,
        user_message TEXT,
        message_id TEXT NOT NULL,
        run_id TEXT NOT NULL,
        run_started INTEGER NOT NULL DEFAULT 0,
        plan TEXT NOT NULL,
        mapper TEXT NOT NULL,
        cursor INTEGER NOT NULL DEFAULT 0,
        segment INTEGER NOT NULL DEFAULT 0,
        pending TEXT,
        error TEXT,
        created_at TEXT NOT NULL,
        started_at TEXT,
        finished_at TEXT
      );
      CREATE INDEX turns_status ON turns (status, seq);
      CREATE TABLE chunks (
        turn_id TEXT NOT NULL,
        seq INTEGER NOT NULL,
        segment INTEGER NOT NULL,
        chunk TEXT NOT NULL,
        PRIMARY KEY (turn_id, seq)
      );
      CREATE TABLE reports (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        report TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        next_at INTEGER NOT NULL
      );
    `,
  },
];
