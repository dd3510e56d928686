/**
 * Feedback keys and ratings inside the hub. Each write runs in one SQLite transaction holding the
 * row, its change-log version (sync entity `feedback`) and its outbox event (`feedback.*`), so they
 * commit together. The Worker has validated shapes and resolved the target; the rules that need
 * the key (does this score fit?) run here, against the key as it is at write time.
 */
import type {
  Bucket,
  DriftConfig,
  Feedback,
  FeedbackFilter,
  FeedbackKey,
  FeedbackKeyCreate,
  FeedbackKeyPatch,
  FeedbackPatch,
  FeedbackWrite,
  ProviderScore,
  StatsQuery,
  StatsResult,
} from '../../src/feedback/model';
import { keyShapeErrors, measureFor, normalised, windowMs } from '../../src/feedback/rules';
import { bucketise, drifted, type RatingRow } from '../../src/feedback/stats';
import { newId } from '../../src/lib/ids';
import { fail, ok, type Result } from '../../src/lib/result';
import { type FeedbackRow, raterOf, readFeedback, readKey, toFeedback } from './feedback-store';
import { createSystemNotification } from './notifications';
import { appendChange, appendEvent, setChangeData } from './sync-log';

type Sql = SqlStorage;

export interface FeedbackOp {
  sql: Sql;
  tenantId: string;
  now: number;
}

/** Stats read at most this many ratings (newest first within the range); past it the answer says `truncated`. */
export const STATS_MAX_ROWS = 100_000;
/** A key's drift is checked at most this often. */
const DRIFT_CHECK_MS = 60_000;

const iso = (ms: number) => new Date(ms).toISOString();

// ---- keys ----------------------------------------------------------------------------------

function writeKey(sql: Sql, k: FeedbackKey): void {
  sql.exec(`INSERT OR REPLACE INTO feedback_keys (key, data) VALUES (?, ?)`, k.key, JSON.stringify(k));
}

const keyNotFound = (key: string) => fail('not_found', `Feedback key '${key}' not found.`);

export function createKey(op: FeedbackOp, input: FeedbackKeyCreate): Result<FeedbackKey> {
  if (readKey(op.sql, input.key)) return fail('conflict', `Feedback key '${input.key}' already exists.`);
  const errors = keyShapeErrors(input);
  if (errors.length) return fail('validation_failed', `Invalid feedback key: ${errors.map((e) => e.path).join(', ')}.`, errors);
  const at = iso(op.now);
  const k: FeedbackKey = { ...input, createdAt: at, updatedAt: at };
  writeKey(op.sql, k);
  return ok(k);
}

export function listKeys(sql: Sql, limit: number, after?: string): { data: FeedbackKey[]; nextCursor: string | null } {
  const rows = sql
    .exec<{ key: string; data: string }>(`SELECT key, data FROM feedback_keys WHERE key > ? ORDER BY key LIMIT ?`, after ?? '', limit + 1)
    .toArray();
  const data = rows.slice(0, limit).map((r) => JSON.parse(r.data) as FeedbackKey);
  return { data, nextCursor: rows.length > limit ? data[data.length - 1]!.key : null };
}

function ratingsOf(sql: Sql, key: string): number {
  return sql.exec<{ n: number }>(`SELECT COUNT(*) AS n FROM (SELECT 1 FROM feedback WHERE key = ? LIMIT 1)`, key).one().n;
}

/** Description, direction and drift may change at any time; the type and its fields only while no rating uses the key. */
export function updateKey(op: FeedbackOp, key: string, patch: FeedbackKeyPatch): Result<FeedbackKey> {
  const current = readKey(op.sql, key);
  if (!current) return keyNotFound(key);
  const next: FeedbackKey = { ...current, ...patch, updatedAt: iso(op.now) };
  if (patch.type !== undefined && patch.type !== current.type) {
    // A new type resets the fields of the old one unless the patch sets them.
    if (patch.min === undefined) next.min = null;
    if (patch.max === undefined) next.max = null;
    if (patch.categories === undefined) next.categories = null;
  }
  const shapeChanged = (['type', 'min', 'max', 'categories'] as const).some((f) => JSON.stringify(next[f]) !== JSON.stringify(current[f]));
  if (shapeChanged && ratingsOf(op.sql, key) > 0)
    return fail('conflict', `Feedback key '${key}' has ratings: its type, range and categories can no longer change (create a new key).`);
  const errors = keyShapeErrors(next);
  if (errors.length) return fail('validation_failed', `Invalid feedback key: ${errors.map((e) => e.path).join(', ')}.`, errors);
  writeKey(op.sql, next);
  return ok(next);
}

export function deleteKey(op: FeedbackOp, key: string): Result<{ key: string }> {
  if (!readKey(op.sql, key)) return keyNotFound(key);
  if (ratingsOf(op.sql, key) > 0) return fail('conflict', `Feedback key '${key}' has ratings; delete them first.`);
  op.sql.exec(`DELETE FROM feedback_keys WHERE key = ?`, key);
  return ok({ key });
}

// ---- ratings -------------------------------------------------------------------------------

const feedbackNotFound = (id: string) => fail('not_found', `Feedback ${id} not found.`);

function invalidMeasure(errors: { path: string; message: string; code: string }[]) {
  return fail('validation_failed', `The rating does not fit its key: ${errors.map((e) => e.message).join('; ')}.`, errors);
}

/** Puts the rating on the change log and the outbox. */
function publish(op: FeedbackOp, f: Feedback, type: 'feedback.created' | 'feedback.updated'): void {
  const version = appendChange(op.sql, 'feedback', f.id, 'upsert', f.updatedAt);
  setChangeData(op.sql, version, { ...f });
  appendEvent(op.sql, op.tenantId, type, f.updatedAt, { feedback: f });
}

/** One rating per (target, key, rater): the first creates it, the next ones update it. */
export function upsertFeedback(op: FeedbackOp, w: FeedbackWrite): Result<{ feedback: Feedback; created: boolean }> {
  const key = readKey(op.sql, w.key);
  if (!key)
    return fail('validation_failed', `Unknown feedback key '${w.key}': create it with POST /v1/feedback-keys.`, [
      { path: 'key', message: `No feedback key '${w.key}'`, code: 'unknown_key' },
    ]);
  const m = measureFor(key, w);
  if (!m.ok) return invalidMeasure(m.errors);
  const at = iso(op.now);
  // The target's qualifier: a node target's node, a chat message's chat (one column, by type).
  const node = w.target.nodeId ?? w.target.chatId ?? '';
  const rater = raterOf(w.actor);
  const existing = op.sql
    .exec<{ id: string }>(
      `SELECT id FROM feedback WHERE target_type = ? AND target_id = ? AND target_node = ? AND key = ? AND rater = ?`,
      w.target.type,
      w.target.id,
      node,
      w.key,
      rater,
    )
    .toArray()[0];
  const a = w.attributes;
  const correction = w.correction === undefined ? null : JSON.stringify(w.correction);
  if (existing) {
    op.sql.exec(
      `UPDATE feedback SET score = ?, value = ?, comment = COALESCE(?, comment), correction = COALESCE(?, correction), source = ?,
         run_id = ?, flow_id = ?, flow_version = ?, node_id = ?, provider = ?, model = ?, agent_id = ?, tool_id = ?, updated_at = ?
       WHERE id = ?`,
      m.measure.score,
      m.measure.value,
      w.comment ?? null,
      correction,
      w.source,
      a.runId,
      a.flowId,
      a.flowVersion,
      a.nodeId,
      a.provider,
      a.model,
      a.agentId,
      a.toolId,
      at,
      existing.id,
    );
    const f = readFeedback(op.sql, existing.id)!;
    publish(op, f, 'feedback.updated');
    checkDrift(op, key);
    return ok({ feedback: f, created: false });
  }
  const id = newId('fbk', op.now);
  op.sql.exec(
    `INSERT INTO feedback (id, target_type, target_id, target_node, key, rater, source, score, value, comment, correction,
       run_id, flow_id, flow_version, node_id, provider, model, agent_id, tool_id, created_at, updated_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    id,
    w.target.type,
    w.target.id,
    node,
    w.key,
    rater,
    w.source,
    m.measure.score,
    m.measure.value,
    w.comment ?? null,
    correction,
    a.runId,
    a.flowId,
    a.flowVersion,
    a.nodeId,
    a.provider,
    a.model,
    a.agentId,
    a.toolId,
    at,
    at,
  );
  const f = readFeedback(op.sql, id)!;
  publish(op, f, 'feedback.created');
  checkDrift(op, key);
  return ok({ feedback: f, created: true });
}

export function updateFeedback(op: FeedbackOp, id: string, patch: FeedbackPatch): Result<Feedback> {
  const current = readFeedback(op.sql, id);
  if (!current) return feedbackNotFound(id);
  const key = readKey(op.sql, current.key);
  let measure = { score: current.score, value: current.value };
  if (patch.score !== undefined || patch.value !== undefined) {
    if (!key) return fail('conflict', `Feedback key '${current.key}' no longer exists.`);
    const m = measureFor(key, patch);
    if (!m.ok) return invalidMeasure(m.errors);
    measure = m.measure;
  }
  op.sql.exec(
    `UPDATE feedback SET score = ?, value = ?, comment = ?, correction = ?, updated_at = ? WHERE id = ?`,
    measure.score,
    measure.value,
    patch.comment === undefined ? current.comment : patch.comment,
    patch.correction === undefined
      ? current.correction === null
        ? null
        : JSON.stringify(current.correction)
      : patch.correction === null
        ? null
        : JSON.stringify(patch.correction),
    iso(op.now),
    id,
  );
  const f = readFeedback(op.sql, id)!;
  publish(op, f, 'feedback.updated');
  if (key) checkDrift(op, key);
  return ok(f);
}

export function deleteFeedback(op: FeedbackOp, id: string): Result<{ id: string }> {
  const current = readFeedback(op.sql, id);
  if (!current) return feedbackNotFound(id);
  op.sql.exec(`DELETE FROM feedback WHERE id = ?`, id);
  const at = iso(op.now);
  appendChange(op.sql, 'feedback', id, 'delete', at);
  appendEvent(op.sql, op.tenantId, 'feedback.deleted', at, { feedbackId: id, target: current.target, key: current.key });
  return ok({ id });
}

/**
 * The index a page reads, chosen by its filters rather than left to SQLite's planner, which has no
 * statistics here and chooses badly both ways (100,000 ratings, 90,000 of one key, in workerd): a key
 * alone read the key's (key, updated_at) range and sorted all of it by id, 58 ms a page, where (key, id)
 * reads the page's rows (0.19 ms); once (key, id) exists, the planner takes it for a key with a time
 * window too, and walks an old, narrow window's key from the newest rating down (24 ms) instead of
 * reading the window (0.67 ms). Neither index bounds every window: a window holding most of a large key
 * (or `to` alone) still sorts what it holds, as a key alone did. A target's ratings are read through
 * its own index and sorted: few, unless many raters (feedback tokens) rate one target.
 */
function listIndex(f: FeedbackFilter): string {
  if (f.targetType !== undefined && f.targetId !== undefined) return 'INDEXED BY feedback_rater_uq';
  if (f.key === undefined) return '';
  return f.from === undefined && f.to === undefined ? 'INDEXED BY feedback_key_id_idx' : 'INDEXED BY feedback_key_time_idx';
}

/** Newest first; `after` is the last id of the previous page. */
export function listFeedback(sql: Sql, f: FeedbackFilter): { data: Feedback[]; nextCursor: string | null } {
  const where: string[] = ['id < ?'];
  const args: SqlStorageValue[] = [f.after ?? '~'];
  const eq = (column: string, v: SqlStorageValue | undefined) => {
    if (v === undefined) return;
    where.push(`${column} = ?`);
    args.push(v);
  };
  eq('target_type', f.targetType);
  eq('target_id', f.targetId);
  eq('target_node', f.nodeId);
  eq('key', f.key);
  eq('source', f.source);
  if (f.from !== undefined) {
    where.push('updated_at >= ?');
    args.push(f.from);
  }
  if (f.to !== undefined) {
    where.push('updated_at < ?');
    args.push(f.to);
  }
  const rows = sql
    .exec<FeedbackRow>(`SELECT * FROM feedback ${listIndex(f)} WHERE ${where.join(' AND ')} ORDER BY id DESC LIMIT ?`, ...args, f.limit + 1)
    .toArray();
  const data = rows.slice(0, f.limit).map(toFeedback);
  return { data, nextCursor: rows.length > f.limit ? data[data.length - 1]!.id : null };
}

// ---- stats, drift, routing -----------------------------------------------------------------

interface StatsRow {
  score: number | null;
  value: string | null;
  updated_at: string;
  run_id: string | null;
  flow_id: string | null;
  flow_version: number | null;
  node_id: string | null;
  provider: string | null;
  model: string | null;
  agent_id: string | null;
  [k: string]: SqlStorageValue;
}

export function stats(sql: Sql, q: StatsQuery): Result<StatsResult & { truncated: boolean }> {
  const key = readKey(sql, q.key);
  if (!key) return keyNotFound(q.key);
  const rows = sql
    .exec<StatsRow>(
      `SELECT score, value, updated_at, run_id, flow_id, flow_version, node_id, provider, model, agent_id FROM feedback
       WHERE key = ? AND updated_at >= ? AND updated_at < ? ORDER BY updated_at DESC LIMIT ?`,
      q.key,
      q.from ?? '',
      q.to ?? '~',
      STATS_MAX_ROWS + 1,
    )
    .toArray();
  const truncated = rows.length > STATS_MAX_ROWS;
  const ratings: RatingRow[] = rows.slice(0, STATS_MAX_ROWS).map((r) => ({
    score: r.score,
    value: r.value,
    updatedAt: r.updated_at,
    runId: r.run_id,
    flowId: r.flow_id,
    flowVersion: r.flow_version,
    nodeId: r.node_id,
    provider: r.provider,
    model: r.model,
    agentId: r.agent_id,
  }));
  const buckets: Bucket[] = bucketise(key, ratings, q.groupBy ?? null, q.margin ?? key.drift?.margin);
  return ok({
    key: key.key,
    groupBy: q.groupBy ?? null,
    from: q.from ?? null,
    to: q.to ?? null,
    total: ratings.length,
    buckets,
    truncated,
  });
}

function windowMean(sql: Sql, key: string, from: string, to: string): { count: number; mean: number | null } {
  const r = sql
    .exec<{ n: number; mean: number | null }>(
      `SELECT COUNT(score) AS n, AVG(score) AS mean FROM feedback WHERE key = ? AND updated_at >= ? AND updated_at < ?`,
      key,
      from,
      to,
    )
    .one();
  return { count: r.n, mean: r.mean };
}

function meta(sql: Sql, k: string): string | undefined {
  return sql.exec<{ value: string }>(`SELECT value FROM hub_meta WHERE key = ?`, k).toArray()[0]?.value;
}

/**
 * After a scored write: when the key watches drift, compares the last window with the one before
 * and, on a fall past the margin, raises `feedback.drift` and an admins' system notification, once
 * per key and window period (the notification id is derived from both).
 */
export function checkDrift(op: FeedbackOp, key: FeedbackKey): void {
  const d: DriftConfig | null = key.drift;
  if (!d || (key.type !== 'boolean' && key.type !== 'numeric')) return;
  const stamp = `drift_checked:${key.key}`;
  const last = Number(meta(op.sql, stamp) ?? Number.NEGATIVE_INFINITY);
  if (Math.abs(op.now - last) < DRIFT_CHECK_MS) return;
  op.sql.exec(`INSERT OR REPLACE INTO hub_meta (key, value) VALUES (?, ?)`, stamp, String(op.now));
  const w = windowMs(d.window);
  if (w === null) return;
  const current = windowMean(op.sql, key.key, iso(op.now - w), iso(op.now + 1));
  const previous = windowMean(op.sql, key.key, iso(op.now - 2 * w), iso(op.now - w));
  if (current.count < d.minSamples || previous.count < d.minSamples || current.mean === null || previous.mean === null) return;
  if (!drifted(key, current.mean, previous.mean, d.margin)) return;
  const period = Math.floor(op.now / w);
  const id = `ntf_drift_${key.key}_${d.window}_${period}`;
  const data = {
    key: key.key,
    window: d.window,
    margin: d.margin,
    current: { from: iso(op.now - w), to: iso(op.now), count: current.count, mean: current.mean },
    previous: { from: iso(op.now - 2 * w), to: iso(op.now - w), count: previous.count, mean: previous.mean },
    notificationId: id,
  };
  const fmt = (n: number) => String(Math.round(n * 1000) / 1000);
  const { created } = createSystemNotification(
    op.sql,
    op.tenantId,
    {
      id,
      title: `Feedback '${key.key}' drifted`,
      body: `The mean of the last ${d.window} is ${fmt(current.mean)} (${current.count} ratings), against ${fmt(previous.mean)} (${previous.count}) in the ${d.window} before: past the margin of ${d.margin}.`,
    },
    op.now,
  );
  if (created) appendEvent(op.sql, op.tenantId, 'feedback.drift', iso(op.now), data);
}

/** Rolling score per provider for `key` since `since`: the mean normalised score (1 = best) and how many ratings. */
export function providerScores(sql: Sql, key: string, since: string): ProviderScore[] {
  const k = readKey(sql, key);
  if (!k || (k.type !== 'boolean' && k.type !== 'numeric')) return [];
  const rows = sql
    .exec<{ provider: string; n: number; mean: number }>(
      `SELECT provider, COUNT(score) AS n, AVG(score) AS mean FROM feedback
       WHERE key = ? AND provider IS NOT NULL AND score IS NOT NULL AND updated_at >= ? GROUP BY provider`,
      key,
      since,
    )
    .toArray();
  // The mean of normalised scores is the normalised mean: normalisation is affine.
  return rows.map((r) => ({ provider: r.provider, count: r.n, score: normalised(k, r.mean)! }));
}
