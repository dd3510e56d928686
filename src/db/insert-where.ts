/**
 * `INSERT … SELECT <values> WHERE <condition>`: a row that commits only if a
 * compare-and-set earlier in the same `db.batch` stuck (D1 has no interactive
 * transactions, so a losing request must leave nothing behind by construction).
 */
import { getTableColumns, is, SQL, sql } from 'drizzle-orm';
import type { SQLiteTable } from 'drizzle-orm/sqlite-core';
import type { Db } from './client';

export function insertWhere<T extends SQLiteTable>(db: Db, table: T, row: T['$inferInsert'], condition: SQL) {
  // drizzle's insert-from-select lists every column in table order, so every value is given: the row's, else the default, else NULL.
  const values = Object.entries(getTableColumns(table)).map(([key, col]) => {
    const v = (row as Record<string, unknown>)[key];
    if (v !== undefined) return sql`${col.mapToDriverValue(v)}`;
    if (is(col.default, SQL)) return col.default;
    return col.default === undefined ? sql`NULL` : sql`${col.mapToDriverValue(col.default)}`;
  });
  return db.insert(table).select(sql`SELECT ${sql.join(values, sql`, `)} WHERE ${condition}`);
}
