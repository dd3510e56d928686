/**
 * Durable Object schema migrations (durable-objects/shared/migrations.ts): a new object may run a
 * schema written out in one piece (`fresh`) instead of every step; it must end exactly where the
 * steps end, or objects created before and after it would differ.
 */
import { runInDurableObject } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { RUN_FRESH, RUN_MIGRATIONS } from '../../durable-objects/flow-run/schema';
import { type DoMigration, migrateDoStorage } from '../../durable-objects/shared/migrations';
import { flowRun } from '../support/workers/durable-objects';

/** Every table, index and trigger as SQLite stores it, whitespace normalised, plus each table's columns. */
function describeSchema(sql: SqlStorage) {
  const normal = (text: string | null) =>
    (text ?? '')
      .replace(/--[^\n]*/g, '')
      .replace(/\s+/g, ' ')
      .replace(/\s*([(),])\s*/g, '$1')
      .trim();
  const objects = sql
    .exec<{ type: string; name: string; sql: string | null }>(
      `SELECT type, name, sql FROM sqlite_master WHERE name NOT LIKE '_cf_%' AND name NOT LIKE 'sqlite_autoindex%' ORDER BY type, name`,
    )
    .toArray()
    .map((o) => ({ type: o.type, name: o.name, sql: normal(o.sql) }));
  const columns = Object.fromEntries(
    objects
      .filter((o) => o.type === 'table' && o.name !== 'sqlite_sequence')
      .map((t) => [t.name, sql.exec(`PRAGMA table_info("${t.name}")`).toArray()]),
  );
  const versions = sql.exec<{ v: number }>(`SELECT MAX(version) AS v FROM _schema`).one().v;
  return { objects, columns, versions };
}

const cases: { name: string; stub: () => DurableObjectStub; steps: readonly DoMigration[]; fresh: DoMigration }[] = [
  {
    name: 'FlowRun',
    stub: () => flowRun(`run_schema_${crypto.randomUUID()}`) as unknown as DurableObjectStub,
    steps: RUN_MIGRATIONS,
    fresh: RUN_FRESH,
  },
];

describe('a fresh schema equals its migration steps', () => {
  for (const c of cases) {
    it(`${c.name}: version ${c.fresh.version} in one piece = steps 1..${c.fresh.version}`, async () => {
      const [fresh, stepped] = await runInDurableObject(c.stub(), (_instance, state) => {
        const { storage } = state;
        storage.deleteAll();
        expect(migrateDoStorage(storage, c.steps, c.fresh)).toBe(Math.max(...c.steps.map((m) => m.version)));
        const a = describeSchema(storage.sql);
        storage.deleteAll();
        migrateDoStorage(storage, c.steps);
        return [a, describeSchema(storage.sql)];
      });
      expect(fresh.objects.map((o) => o.name)).toContain('_schema');
      expect(fresh).toEqual(stepped);
    });
  }

  it('an object with steps applied takes only the later ones (the fresh schema is for new objects)', async () => {
    const applied = await runInDurableObject(flowRun(`run_schema_${crypto.randomUUID()}`) as unknown as DurableObjectStub, (_i, state) => {
      const { storage } = state;
      storage.deleteAll();
      migrateDoStorage(
        storage,
        RUN_MIGRATIONS.filter((m) => m.version <= 5),
      );
      // Version 6 alone, as an object created before it would: the fresh schema must not run again.
      const version = migrateDoStorage(storage, RUN_MIGRATIONS, RUN_FRESH);
      return {
        version,
        rows: storage.sql
          .exec<{ version: number }>(`SELECT version FROM _schema ORDER BY version`)
          .toArray()
          .map((r) => r.version),
      };
    });
    expect(applied).toEqual({ version: 6, rows: [1, 2, 3, 4, 5, 6] });
  });
});
