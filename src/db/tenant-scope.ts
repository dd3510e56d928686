/**
 * The tenant-scoped data-access layer: the only way services reach tenant-owned
 * tables. Every statement built here carries `tenant_id = <credential's tenant>`,
 * so a query cannot be written without the tenant, and another tenant's id
 * simply matches nothing (answered as 404 by the service).
 */
import { and, eq, type SQL } from 'drizzle-orm';
import type { SQLiteColumn, SQLiteTable } from 'drizzle-orm/sqlite-core';
import type { Db } from './client';

export type TenantTable = SQLiteTable & { tenantId: SQLiteColumn };

export class TenantScope {
  constructor(
    readonly db: Db,
    readonly tenantId: string,
  ) {}

  /** `tenant_id = ?` AND every given condition. */
  where(table: TenantTable, ...conditions: Array<SQL | undefined>): SQL {
    return and(eq(table.tenantId, this.tenantId), ...conditions) as SQL;
  }

  select<T extends TenantTable>(table: T, where?: SQL) {
    return this.db
      .select()
      .from(table as SQLiteTable)
      .where(this.where(table, where))
      .$dynamic();
  }

  insert<T extends TenantTable>(table: T, values: Omit<T['$inferInsert'], 'tenantId'>) {
    return this.db.insert(table).values({ ...values, tenantId: this.tenantId } as T['$inferInsert']);
  }

  update<T extends TenantTable>(table: T, set: Partial<Omit<T['$inferInsert'], 'tenantId'>>, where?: SQL) {
    return this.db
      .update(table)
      .set(set as Partial<T['$inferInsert']>)
      .where(this.where(table, where));
  }

  delete<T extends TenantTable>(table: T, where?: SQL) {
    return this.db.delete(table).where(this.where(table, where));
  }
}
