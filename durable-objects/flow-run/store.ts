/** Typed access to the FlowRun's SQLite rows. */
import type { FlowDefinition } from '../../src/flows/definition';
import type { NodeState, NodeStatus } from '../../src/flows/plan';
import type { NodeView, RunEvent, RunInit, RunInitiator, RunParent, RunStatus, RunSummary, RunView } from '../../src/flows/run-model';

type Sql = SqlStorage;

/** The run row as `loadRun` reads it: every column but the parsed-once JSON ones. */
export interface RunRow {
  run_id: string;
  tenant_id: string;
  flow_id: string;
  flow_version: number;
  status: RunStatus;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
  deadline_at: number | null;
  error: string | null;
  output: string | null;
  input_tokens: number;
  output_tokens: number;
  cost_usd: number;
  [k: string]: SqlStorageValue;
}

export interface NodeRow {
  id: string;
  type: string;
  status: NodeStatus;
  attempt: number;
  output: string | null;
  error: string | null;
  branch: string | null;
  reused: number;
  started_at: string | null;
  finished_at: string | null;
  not_before: number | null;
  wait: string | null;
  children: string | null;
  successes: number;
  attempt_base: number;
  input_tokens: number;
  output_tokens: number;
  cost_usd: number;
  [k: string]: SqlStorageValue;
}

export interface Loaded {
  row: RunRow;
  def: FlowDefinition;
  input: unknown;
  settings: RunInit['settings'];
  parent: RunParent | null;
  initiator: RunInitiator | null;
}

/** The run row's columns that change after insert (the others are parsed once, below). */
const MUTABLE_COLUMNS =
  'run_id, tenant_id, flow_id, flow_version, status, created_at, started_at, finished_at, deadline_at, error, output, input_tokens, output_tokens, cost_usd';

type Immutable = Pick<Loaded, 'def' | 'input' | 'settings' | 'parent' | 'initiator'>;

/**
 * The definition, input, settings, parent and initiator never change after insert: parsed once per object
 * in memory (the engine reads the run many times per step) and shared by every read, so callers treat
 * them as read-only. (Not frozen: the JSON Schema validator, @cfworker/json-schema, annotates the schema
 * objects it is given with non-enumerable properties, which a frozen definition refuses.) `insertRun`,
 * their only writer, forgets them, so an expired object that is created again reads its new run.
 */
const parsed = new WeakMap<Sql, Immutable>();

function immutable(sql: Sql): Immutable {
  const hit = parsed.get(sql);
  if (hit) return hit;
  const r = sql
    .exec<{ definition: string; input: string; settings: string; parent: string | null; initiator: string | null }>(
      `SELECT definition, input, settings, parent, initiator FROM run WHERE id = 1`,
    )
    .one();
  const value: Immutable = {
    def: JSON.parse(r.definition),
    input: JSON.parse(r.input),
    settings: JSON.parse(r.settings),
    parent: r.parent ? JSON.parse(r.parent) : null,
    initiator: r.initiator ? JSON.parse(r.initiator) : null,
  };
  parsed.set(sql, value);
  return value;
}

/**
 * The run as last read, per object (null: no run). The engine reads it about a dozen times per run and
 * it changes a few times (status, usage, issue 20), so reads after the first come from memory. Every
 * write to the `run` table goes through this file (insertRun, setRunStatus, addRunUsage) and forgets it
 * before writing; so do a transaction that throws (Transitions.#tx: a read inside it may have cached a
 * write it rolled back) and the retention's deleteAll (FlowRun.#expire). Callers treat it as read-only.
 */
const loaded = new WeakMap<Sql, Loaded | null>();

/** Forgets the cached run (and its parsed columns): call before writing `run` other than through this file. */
export function forgetRun(sql: Sql): void {
  loaded.delete(sql);
  parsed.delete(sql);
}

export function loadRun(sql: Sql): Loaded | null {
  const hit = loaded.get(sql);
  if (hit !== undefined) return hit;
  const row = sql.exec<RunRow>(`SELECT ${MUTABLE_COLUMNS} FROM run WHERE id = 1`).toArray()[0];
  const l = row ? { row, ...immutable(sql) } : null;
  loaded.set(sql, l);
  return l;
}

export function insertRun(sql: Sql, init: RunInit, status: RunStatus): void {
  forgetRun(sql);
  sql.exec(
    `INSERT INTO run (id, run_id, tenant_id, flow_id, flow_version, definition, input, settings, parent, status, created_at, deadline_at, initiator)
     VALUES (1, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, ?)`,
    init.runId,
    init.tenantId,
    init.flowId,
    init.flowVersion,
    JSON.stringify(init.definition),
    JSON.stringify(init.input ?? null),
    JSON.stringify(init.settings),
    init.parent ? JSON.stringify(init.parent) : null,
    status,
    init.createdAt,
    init.initiator ? JSON.stringify(init.initiator) : null,
  );
  for (const n of init.definition.nodes) {
    const reused = init.reuse?.[n.id];
    if (reused) {
      sql.exec(
        `INSERT INTO nodes (id, type, status, output, branch, reused, successes) VALUES (?, ?, 'succeeded', ?, ?, 1, 1)`,
        n.id,
        n.type,
        JSON.stringify(reused.output ?? null),
        reused.branch,
      );
    } else {
      sql.exec(`INSERT INTO nodes (id, type, status) VALUES (?, ?, 'pending')`, n.id, n.type);
    }
  }
}

export function nodes(sql: Sql): NodeRow[] {
  return sql.exec<NodeRow>(`SELECT * FROM nodes`).toArray();
}

/** What the engine schedules from, per node: the columns `nextStep` reads (not outputs or errors, which can be large). */
export type NodeSchedule = Pick<NodeRow, 'id' | 'status' | 'branch' | 'not_before' | 'wait'>;

export function nodeSchedules(sql: Sql): NodeSchedule[] {
  return sql.exec<NodeSchedule>(`SELECT id, status, branch, not_before, wait FROM nodes`).toArray();
}

/** What an expression scope holds of each node: its status and stored output (./outputs.ts). */
export function nodeOutputRows(sql: Sql): Pick<NodeRow, 'id' | 'status' | 'output'>[] {
  return sql.exec<Pick<NodeRow, 'id' | 'status' | 'output'>>(`SELECT id, status, output FROM nodes`).toArray();
}

export function node(sql: Sql, id: string): NodeRow | undefined {
  return sql.exec<NodeRow>(`SELECT * FROM nodes WHERE id = ?`, id).toArray()[0];
}

export function states(rows: NodeRow[]): Map<string, NodeState> {
  return new Map(rows.map((r) => [r.id, { status: r.status, branch: r.branch, notBefore: r.not_before }]));
}

export function setRunStatus(
  sql: Sql,
  status: RunStatus,
  fields: { started_at?: string; finished_at?: string | null; error?: string | null; output?: unknown; deadline_at?: number } = {},
): void {
  const sets = ['status = ?'];
  const args: SqlStorageValue[] = [status];
  for (const [k, v] of Object.entries(fields)) {
    sets.push(`${k} = ?`);
    args.push(k === 'output' ? JSON.stringify(v ?? null) : (v as SqlStorageValue));
  }
  loaded.delete(sql);
  sql.exec(`UPDATE run SET ${sets.join(', ')} WHERE id = 1`, ...args);
}

/** Adds a node's token usage and cost to the run's totals. */
export function addRunUsage(sql: Sql, u: { inputTokens: number; outputTokens: number; costUsd: number }): void {
  loaded.delete(sql);
  sql.exec(
    `UPDATE run SET input_tokens = input_tokens + ?, output_tokens = output_tokens + ?, cost_usd = cost_usd + ? WHERE id = 1`,
    u.inputTokens,
    u.outputTokens,
    u.costUsd,
  );
}

export function appendEvent(sql: Sql, type: string, nodeId: string | null, data: unknown): void {
  sql.exec(
    `INSERT INTO events (type, node_id, data, at) VALUES (?, ?, ?, ?)`,
    type,
    nodeId,
    data === undefined ? null : JSON.stringify(data),
    new Date().toISOString(),
  );
}

export function eventsAfter(sql: Sql, seq: number, limit = 10_000): RunEvent[] {
  return sql
    .exec<{ seq: number; type: string; node_id: string | null; data: string | null; at: string }>(
      `SELECT * FROM events WHERE seq > ? ORDER BY seq LIMIT ?`,
      seq,
      limit,
    )
    .toArray()
    .map((e) => ({ seq: e.seq, type: e.type, nodeId: e.node_id, data: e.data === null ? null : JSON.parse(e.data), at: e.at }));
}

/** An event as a stream sends it: its sequence, its type and its JSON (the text of its `RunEvent`). */
export interface EventFrame {
  seq: number;
  type: string;
  json: string;
}

/**
 * The events after `seq` as the streams send them, the JSON put together from the stored columns: the
 * same text as JSON.stringify of `eventsAfter`'s event (its `data` column is JSON.stringify's output,
 * which parsing and serializing again reproduces), without parsing `data` and serializing it again
 * per event and per subscriber (issue 20).
 */
export function eventFramesAfter(sql: Sql, seq: number, limit = 10_000): EventFrame[] {
  const rows = sql
    .exec<{ seq: number; type: string; node_id: string | null; data: string | null; at: string }>(
      `SELECT seq, type, node_id, data, at FROM events WHERE seq > ? ORDER BY seq LIMIT ?`,
      seq,
      limit,
    )
    .toArray();
  return rows.map((e) => ({
    seq: e.seq,
    type: e.type,
    json: `{"seq":${e.seq},"type":${JSON.stringify(e.type)},"nodeId":${e.node_id === null ? 'null' : JSON.stringify(e.node_id)},"data":${e.data ?? 'null'},"at":${JSON.stringify(e.at)}}`,
  }));
}

/** The run's status alone (undefined: no run, or its storage is gone). */
export function runStatus(sql: Sql): RunStatus | undefined {
  const hit = loaded.get(sql);
  if (hit !== undefined) return hit?.row.status;
  return sql.exec<{ status: RunStatus }>(`SELECT status FROM run WHERE id = 1`).toArray()[0]?.status;
}

export function lastEventSeq(sql: Sql): number {
  return sql.exec<{ s: number | null }>(`SELECT MAX(seq) AS s FROM events`).one().s ?? 0;
}

function ms(a: string | null, b: string | null): number | null {
  return a && b ? Date.parse(b) - Date.parse(a) : null;
}

export function nodeView(r: NodeRow): NodeView {
  return {
    id: r.id,
    type: r.type,
    status: r.status,
    attempts: r.attempt,
    output: r.output === null ? null : JSON.parse(r.output),
    error: r.error === null ? null : JSON.parse(r.error),
    branch: r.branch,
    reused: r.reused === 1,
    startedAt: r.started_at,
    finishedAt: r.finished_at,
    durationMs: ms(r.started_at, r.finished_at),
    usage: { inputTokens: r.input_tokens, outputTokens: r.output_tokens, costUsd: r.cost_usd },
  };
}

/** The node rows in the definition's order (one query). */
function inDefinitionOrder(def: FlowDefinition, rows: NodeRow[]): NodeRow[] {
  const byId = new Map(rows.map((r) => [r.id, r]));
  return def.nodes.map((n) => byId.get(n.id)!);
}

export function runView(sql: Sql): RunView | null {
  const l = loadRun(sql);
  if (!l) return null;
  const r = l.row;
  return {
    id: r.run_id,
    tenantId: r.tenant_id,
    flowId: r.flow_id,
    flowVersion: r.flow_version,
    status: r.status,
    input: l.input,
    output: r.output === null ? null : JSON.parse(r.output),
    error: r.error,
    parent: l.parent,
    createdAt: r.created_at,
    startedAt: r.started_at,
    finishedAt: r.finished_at,
    durationMs: ms(r.started_at, r.finished_at),
    usage: { inputTokens: r.input_tokens, outputTokens: r.output_tokens, costUsd: r.cost_usd },
    nodes: inDefinitionOrder(l.def, nodes(sql)).map(nodeView),
  };
}

export function summary(sql: Sql): RunSummary | null {
  const l = loadRun(sql);
  return l ? summaryOf(l) : null;
}

/** The summary of a run already read. */
export function summaryOf(l: Loaded): RunSummary {
  const r = l.row;
  return {
    id: r.run_id,
    tenantId: r.tenant_id,
    flowId: r.flow_id,
    flowVersion: r.flow_version,
    status: r.status,
    startedAt: r.started_at,
    finishedAt: r.finished_at,
    durationMs: ms(r.started_at, r.finished_at),
    inputTokens: r.input_tokens,
    outputTokens: r.output_tokens,
    costUsd: r.cost_usd,
    error: r.error,
  };
}

/** A node's durable step (./schema.ts version 6). */
export interface StepRow {
  node_id: string;
  key: string;
  status: 'started' | 'done';
  result: string | null;
  [k: string]: SqlStorageValue;
}

export function stepRow(sql: Sql, nodeId: string, key: string): StepRow | undefined {
  return sql.exec<StepRow>(`SELECT * FROM steps WHERE node_id = ? AND key = ?`, nodeId, key).toArray()[0];
}

/** A done step's value (undefined when it is not done). */
export function stepValue<T>(sql: Sql, nodeId: string, key: string): T | undefined {
  const r = stepRow(sql, nodeId, key);
  return r?.status === 'done' ? (JSON.parse(r.result ?? 'null') as T) : undefined;
}
