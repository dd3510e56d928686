/** The TenantHub's SQLite schema, one migration per version (see ../shared/migrations.ts). */
import type { DoMigration } from '../shared/migrations';

export const HUB_MIGRATIONS: readonly DoMigration[] = [
  { version: 1, sql: `CREATE TABLE IF NOT EXISTS hub_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)` },
  {
    version: 2,
    sql: `
      CREATE TABLE tasks (
        id TEXT PRIMARY KEY,
        data TEXT NOT NULL,
        status TEXT NOT NULL,
        due_key TEXT,
        assignee_id TEXT,
        search TEXT NOT NULL,
        version INTEGER NOT NULL
      );
      CREATE INDEX tasks_status_idx ON tasks (status, id);
      CREATE INDEX tasks_due_idx ON tasks (due_key);
      CREATE TABLE task_labels (task_id TEXT NOT NULL, label TEXT NOT NULL, PRIMARY KEY (label, task_id));
      CREATE TABLE task_history (
        id TEXT PRIMARY KEY,
        task_id TEXT NOT NULL,
        due_date TEXT,
        due_at TEXT,
        completed_at TEXT NOT NULL,
        completed_by TEXT NOT NULL
      );
      CREATE INDEX task_history_task_idx ON task_history (task_id, id);
      -- The per-tenant change log: version is the sync cursor (AUTOINCREMENT never reuses a value).
      CREATE TABLE changes (
        version INTEGER PRIMARY KEY AUTOINCREMENT,
        entity TEXT NOT NULL,
        entity_id TEXT NOT NULL,
        op TEXT NOT NULL,
        data TEXT,
        occurred_at TEXT NOT NULL
      );
      -- One row per reminder per occurrence; delivered_at makes delivery idempotent across alarm retries.
      CREATE TABLE reminders (
        id TEXT PRIMARY KEY,
        task_id TEXT NOT NULL,
        fire_at INTEGER NOT NULL,
        delivered_at TEXT
      );
      CREATE INDEX reminders_pending_idx ON reminders (delivered_at, fire_at);
      CREATE INDEX reminders_task_idx ON reminders (task_id);
      CREATE TABLE notifications (
        id TEXT PRIMARY KEY,
        data TEXT NOT NULL,
        read_at TEXT
      );
      -- Events committed with their change, published to the EVENTS queue by the alarm.
      CREATE TABLE outbox (
        sequence INTEGER PRIMARY KEY AUTOINCREMENT,
        event TEXT NOT NULL,
        published_at TEXT,
        attempts INTEGER NOT NULL DEFAULT 0
      );
      CREATE INDEX outbox_pending_idx ON outbox (published_at, sequence);
      -- Replays of a socket mutation with the same client id apply once.
      CREATE TABLE client_mutations (
        key TEXT PRIMARY KEY,
        response TEXT NOT NULL,
        created_at TEXT NOT NULL
      );
    `,
  },
  {
    version: 3,
    sql: `
      -- Admission control for flow runs: active runs hold a slot; the rest wait in order.
      CREATE TABLE run_slots (
        run_id TEXT PRIMARY KEY,
        state TEXT NOT NULL,
        seq INTEGER NOT NULL
      );
      CREATE INDEX run_slots_state_idx ON run_slots (state, seq);
    `,
  },
  {
    version: 4,
    // Once created apart from the numbered migrations (IF NOT EXISTS at every construction); IF NOT
    // EXISTS stays so hubs that already have these tables take this version without error.
    sql: `
      -- Ids of control-plane events appended to the outbox: a forward retried by the Worker or the sweeper appends once.
      CREATE TABLE IF NOT EXISTS forwarded_events (id TEXT PRIMARY KEY, sequence INTEGER NOT NULL, received_at INTEGER NOT NULL);
      CREATE INDEX IF NOT EXISTS forwarded_events_at_idx ON forwarded_events (received_at);
      -- Idempotency-Key records (src/middleware/idempotency.ts): in flight until locked_until, then done or abandoned.
      CREATE TABLE IF NOT EXISTS idempotency_keys (
        key TEXT PRIMARY KEY,
        fingerprint TEXT NOT NULL,
        state TEXT NOT NULL,
        response TEXT,
        locked_until INTEGER,
        expires_at INTEGER NOT NULL
      );
      CREATE INDEX IF NOT EXISTS idempotency_keys_expiry_idx ON idempotency_keys (expires_at);
    `,
  },
  {
    version: 5,
    // Retention and compaction (durable-objects/tenant-hub/retention.ts): indexes matching each pruning query.
    sql: `
      -- Compaction deletes an entity's older changes: (entity, entity_id, version) finds them.
      CREATE INDEX changes_entity_idx ON changes (entity, entity_id, version);
      -- Tombstones are dropped in version order once past the horizon.
      CREATE INDEX changes_tombstones_idx ON changes (version) WHERE op = 'delete';
      CREATE INDEX client_mutations_created_idx ON client_mutations (created_at);
      CREATE INDEX notifications_created_idx ON notifications (json_extract(data, '$.createdAt'));
      CREATE INDEX task_history_completed_idx ON task_history (completed_at);
    `,
  },
  {
    version: 6,
    sql: `
      -- Notifications belong to their recipients: who may see one (audience), and read state per reader.
      ALTER TABLE notifications ADD COLUMN audience TEXT NOT NULL DEFAULT 'members';
      UPDATE notifications SET audience = 'admins' WHERE json_extract(data, '$.kind') = 'system';
      CREATE TABLE notification_reads (
        notification_id TEXT NOT NULL,
        reader_id TEXT NOT NULL,
        read_at TEXT NOT NULL,
        PRIMARY KEY (notification_id, reader_id)
      );
    `,
  },
  {
    version: 7,
    sql: `
      -- Single-use stream tickets (durable-objects/tenant-hub/stream-tickets.ts): the hash of the ticket, never the ticket.
      CREATE TABLE stream_tickets (hash TEXT PRIMARY KEY, path TEXT NOT NULL, caller TEXT NOT NULL, expires_at INTEGER NOT NULL);
      CREATE INDEX stream_tickets_expiry_idx ON stream_tickets (expires_at);
    `,
  },
  {
    version: 8,
    sql: `
      -- The tenant's live child runs (map, subflow) against its plan's budget (run-admission.ts): a row per child
      -- admitted, deleted when the child reports its end.
      CREATE TABLE child_runs (run_id TEXT PRIMARY KEY, parent_run_id TEXT NOT NULL, admitted_at INTEGER NOT NULL);
      CREATE INDEX child_runs_age_idx ON child_runs (admitted_at);
    `,
  },
  {
    version: 9,
    sql: `
      -- Feedback keys (durable-objects/tenant-hub/feedback.ts): what a rating measures; the whole key as JSON.
      CREATE TABLE feedback_keys (key TEXT PRIMARY KEY, data TEXT NOT NULL);
      -- One rating per (target, key, rater); a second rating by the same rater updates the row.
      -- The target's attributes are copied on, so stats group and routing reads without a join.
      CREATE TABLE feedback (
        id TEXT PRIMARY KEY,
        target_type TEXT NOT NULL,
        target_id TEXT NOT NULL,
        target_node TEXT NOT NULL DEFAULT '',
        key TEXT NOT NULL,
        rater TEXT NOT NULL,
        source TEXT NOT NULL,
        score REAL,
        value TEXT,
        comment TEXT,
        correction TEXT,
        run_id TEXT,
        flow_id TEXT,
        flow_version INTEGER,
        node_id TEXT,
        provider TEXT,
        model TEXT,
        agent_id TEXT,
        tool_id TEXT,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
      );
      CREATE UNIQUE INDEX feedback_rater_uq ON feedback (target_type, target_id, target_node, key, rater);
      CREATE INDEX feedback_key_time_idx ON feedback (key, updated_at);
      CREATE INDEX feedback_key_provider_idx ON feedback (key, provider, updated_at);
    `,
  },
  {
    version: 10,
    sql: `
      -- Datasets (durable-objects/tenant-hub/datasets.ts): examples are append-only (position = order added),
      -- each tagged with the dataset version that added it, so version N is every example with version <= N.
      CREATE TABLE datasets (id TEXT PRIMARY KEY, data TEXT NOT NULL);
      CREATE TABLE dataset_examples (
        id TEXT PRIMARY KEY,
        dataset_id TEXT NOT NULL,
        position INTEGER NOT NULL,
        version INTEGER NOT NULL,
        data TEXT NOT NULL
      );
      CREATE UNIQUE INDEX dataset_examples_idx ON dataset_examples (dataset_id, position);
      -- Experiments (durable-objects/tenant-hub/experiments.ts): the record, its driving run, its results once evaluated.
      CREATE TABLE experiments (
        id TEXT PRIMARY KEY,
        run_id TEXT NOT NULL,
        status TEXT NOT NULL,
        data TEXT NOT NULL,
        results TEXT
      );
      CREATE UNIQUE INDEX experiments_run_uq ON experiments (run_id);
    `,
  },
  {
    version: 11,
    sql: `
      -- The tenant's chats as their ChatThread objects last reported them (durable-objects/tenant-hub/chats.ts).
      CREATE TABLE chats (id TEXT PRIMARY KEY, data TEXT NOT NULL, updated_at TEXT NOT NULL, rev INTEGER NOT NULL);
      CREATE INDEX chats_updated_idx ON chats (updated_at, id);
    `,
  },
  {
    version: 12,
    sql: `
      -- When the alarm checks that a running experiment's driving run exists (ms epoch; null once checked or ended).
      ALTER TABLE experiments ADD COLUMN start_check_at INTEGER;
      CREATE INDEX experiments_start_check_idx ON experiments (start_check_at) WHERE start_check_at IS NOT NULL;
    `,
  },
  {
    version: 13,
    sql: `
      -- When the alarm next checks a child run's place against its run (run-admission.ts, repairChildPlaces).
      ALTER TABLE child_runs ADD COLUMN check_at INTEGER NOT NULL DEFAULT 0;
      UPDATE child_runs SET check_at = admitted_at + 300000;
      CREATE INDEX child_runs_check_idx ON child_runs (check_at);
    `,
  },
  {
    version: 14,
    sql: `
      -- A task's labels by task (the primary key leads with the label): a task write replaces them without a scan.
      CREATE INDEX task_labels_task_idx ON task_labels (task_id);
    `,
  },
  {
    version: 15,
    sql: `
      -- The tenant's runs' D1 rows not written yet (run-index.ts): the index row until it lands, the newest summary.
      CREATE TABLE run_index (
        run_id TEXT PRIMARY KEY,
        index_row TEXT,
        summary TEXT,
        rev INTEGER NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        next_at INTEGER NOT NULL,
        last_error TEXT
      );
      CREATE INDEX run_index_next_idx ON run_index (next_at);
      CREATE INDEX run_index_retry_idx ON run_index (next_at) WHERE attempts > 0;
    `,
  },
  {
    version: 16,
    sql: `
      -- A row whose batch D1 refused while D1 took another batch: it is written alone from then on (run-index.ts).
      ALTER TABLE run_index ADD COLUMN alone INTEGER NOT NULL DEFAULT 0;
      CREATE INDEX run_index_fresh_idx ON run_index (next_at) WHERE attempts = 0;
    `,
  },
  {
    version: 17,
    sql: `
      -- A key's feedback newest first without sorting all of it (listFeedback in feedback.ts).
      CREATE INDEX feedback_key_id_idx ON feedback (key, id);
    `,
  },
  {
    version: 18,
    sql: `
      -- One assignee's tasks in id order (GET /v1/tasks?assigneeId=…) without walking every task; only
      -- assigned tasks are in it.
      CREATE INDEX tasks_assignee_idx ON tasks (assignee_id, id) WHERE assignee_id IS NOT NULL;
    `,
  },
  {
    version: 19,
    sql: `
      -- The last run admission's seq, so none is given twice (nextSeq in run-admission.ts): from the slots held.
      INSERT OR IGNORE INTO hub_meta (key, value)
        SELECT 'run_seq', CAST(s AS TEXT) FROM (SELECT MAX(seq) AS s FROM run_slots) WHERE s IS NOT NULL;
    `,
  },
];
