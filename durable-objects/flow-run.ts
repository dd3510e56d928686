/**
 * FlowRun: one per run (addressed by run id). Owns the run's state machine,
 * event log and alarms in its own SQLite storage.
 */
import { DurableObject } from 'cloudflare:workers';
import { migrateDoStorage, type DoMigration } from './migrations';

const MIGRATIONS: readonly DoMigration[] = [
  {
    version: 1,
    sql: `CREATE TABLE IF NOT EXISTS run_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)`,
  },
];

export class FlowRun extends DurableObject<Env> {
  #schemaVersion = 0;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    void ctx.blockConcurrencyWhile(async () => {
      this.#schemaVersion = migrateDoStorage(ctx.storage, MIGRATIONS);
    });
  }

  /** Readiness probe: proves the object is reachable and its SQLite answers. */
  async ping(): Promise<{ ok: true; schemaVersion: number }> {
    this.ctx.storage.sql.exec('SELECT 1');
    return { ok: true, schemaVersion: this.#schemaVersion };
  }
}
