/**
 * Datasets inside the hub: a dataset row (its JSON, with the current version and count) and
 * append-only examples tagged with the version that added them. Each POST of examples is one
 * transaction and one new version, so an experiment that pinned version N reads exactly the
 * examples it ran on, whatever is added later.
 */
import type { Dataset, Example, ExampleDraft } from '../../src/evals/model';
import { newId } from '../../src/lib/ids';
import { fail, ok, type Result } from '../../src/lib/result';

type Sql = SqlStorage;

/** Examples one version may hold (an experiment runs each as a child run; map's limit). */
export const MAX_EXAMPLES = 1000;

const iso = (ms: number) => new Date(ms).toISOString();
const notFound = (id: string) => fail('not_found', `Dataset ${id} not found.`);

export function readDataset(sql: Sql, id: string): Dataset | null {
  const row = sql.exec<{ data: string }>(`SELECT data FROM datasets WHERE id = ?`, id).toArray()[0];
  return row ? (JSON.parse(row.data) as Dataset) : null;
}

function writeDataset(sql: Sql, d: Dataset): void {
  sql.exec(`INSERT OR REPLACE INTO datasets (id, data) VALUES (?, ?)`, d.id, JSON.stringify(d));
}

export function createDataset(
  sql: Sql,
  input: { name: string; description: string | null; createdBy: string },
  now: number,
): Result<Dataset> {
  const at = iso(now);
  const d: Dataset = { id: newId('dst', now), ...input, version: 0, exampleCount: 0, createdAt: at, updatedAt: at };
  writeDataset(sql, d);
  return ok(d);
}

export function listDatasets(sql: Sql, limit: number, after?: string): { data: Dataset[]; nextCursor: string | null } {
  const rows = sql
    .exec<{ data: string }>(`SELECT data FROM datasets WHERE id < ? ORDER BY id DESC LIMIT ?`, after ?? '~', limit + 1)
    .toArray();
  const data = rows.slice(0, limit).map((r) => JSON.parse(r.data) as Dataset);
  return { data, nextCursor: rows.length > limit ? data[data.length - 1]!.id : null };
}

export function deleteDataset(sql: Sql, id: string): Result<{ id: string }> {
  if (!readDataset(sql, id)) return notFound(id);
  sql.exec(`DELETE FROM dataset_examples WHERE dataset_id = ?`, id);
  sql.exec(`DELETE FROM datasets WHERE id = ?`, id);
  return ok({ id });
}

/** Appends examples as the dataset's next version. */
export function addExamples(sql: Sql, id: string, drafts: ExampleDraft[], now: number): Result<{ dataset: Dataset; examples: Example[] }> {
  const d = readDataset(sql, id);
  if (!d) return notFound(id);
  if (d.exampleCount + drafts.length > MAX_EXAMPLES)
    return fail('validation_failed', `A dataset holds at most ${MAX_EXAMPLES} examples (it has ${d.exampleCount}).`, [
      { path: 'examples', message: `At most ${MAX_EXAMPLES - d.exampleCount} more`, code: 'too_many' },
    ]);
  const version = d.version + 1;
  const at = iso(now);
  const examples = drafts.map((e): Example => ({ id: newId('exm', now), ...e, version, createdAt: at }));
  for (const [i, e] of examples.entries()) {
    sql.exec(
      `INSERT INTO dataset_examples (id, dataset_id, position, version, data) VALUES (?, ?, ?, ?, ?)`,
      e.id,
      id,
      d.exampleCount + i + 1,
      version,
      JSON.stringify(e),
    );
  }
  const next: Dataset = { ...d, version, exampleCount: d.exampleCount + examples.length, updatedAt: at };
  writeDataset(sql, next);
  return ok({ dataset: next, examples });
}

/** A page of the examples of `version` (default the current one) in the order they were added; `after` is a position. */
export function listExamples(
  sql: Sql,
  id: string,
  opts: { version?: number | undefined; limit: number; after?: string | undefined },
): Result<{ version: number; data: Example[]; nextCursor: string | null }> {
  const d = readDataset(sql, id);
  if (!d) return notFound(id);
  const version = opts.version ?? d.version;
  if (version > d.version) return fail('not_found', `Dataset ${id} has no version ${version} (latest: ${d.version}).`);
  const rows = sql
    .exec<{ position: number; data: string }>(
      `SELECT position, data FROM dataset_examples WHERE dataset_id = ? AND position > ? AND version <= ? ORDER BY position LIMIT ?`,
      id,
      Number(opts.after ?? 0) || 0,
      version,
      opts.limit + 1,
    )
    .toArray();
  const page = rows.slice(0, opts.limit);
  const data = page.map((r) => JSON.parse(r.data) as Example);
  return ok({ version, data, nextCursor: rows.length > opts.limit ? String(page[page.length - 1]!.position) : null });
}
