/**
 * TenantHub: one per tenant (addressed by tenant id). Owns the tenant's data
 * plane in its own SQLite storage. Domain features add RPC methods here; the
 * Worker authenticates and validates, the hub does the work.
 */
import { DurableObject } from 'cloudflare:workers';
import { migrateDoStorage, type DoMigration } from './migrations';

const MIGRATIONS: readonly DoMigration[] = [
  {
    version: 1,
    sql: `CREATE TABLE IF NOT EXISTS hub_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)`,
  },
];

export class TenantHub extends DurableObject<Env> {
  #schemaVersion = 0;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    void ctx.blockConcurrencyWhile(async () => {
      this.#schemaVersion = migrateDoStorage(ctx.storage, MIGRATIONS);
    });
  }

  /** Readiness probe: proves the object is reachable and its SQLite answers. */
  async ping(): Promise<{ ok: true; schemaVersion: number; sqlite: number }> {
    const row = this.ctx.storage.sql.exec<{ one: number }>('SELECT 1 AS one').one();
    return { ok: true, schemaVersion: this.#schemaVersion, sqlite: row.one };
  }
}
