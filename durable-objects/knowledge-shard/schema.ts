/** The KnowledgeShard's SQLite schema (see ../shared/migrations.ts; docs/knowledge.md, docs/storage-schema.md). */
import type { DoMigration } from '../shared/migrations';

export const KNOWLEDGE_MIGRATIONS: readonly DoMigration[] = [
  {
    version: 1,
    sql: `
      CREATE TABLE documents (
        doc_id TEXT PRIMARY KEY,
        source TEXT NOT NULL,
        title TEXT NOT NULL,
        metadata TEXT NOT NULL,
        version INTEGER NOT NULL,
        indexed_version INTEGER,
        pending_text TEXT,
        pending_type TEXT,
        pending_title TEXT,
        pending_metadata TEXT,
        updated_at TEXT NOT NULL
      );
      CREATE TABLE chunks (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        chunk_id TEXT NOT NULL UNIQUE,
        doc_id TEXT NOT NULL,
        ord INTEGER NOT NULL,
        text TEXT NOT NULL,
        vector BLOB NOT NULL,
        scale REAL NOT NULL
      );
      CREATE INDEX chunks_doc_idx ON chunks (doc_id, ord);
      CREATE VIRTUAL TABLE chunks_fts USING fts5(text, tokenize = 'unicode61 remove_diacritics 2');
    `,
  },
];
