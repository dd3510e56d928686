/**
 * Helpers for the flow engine suites (on top of ./_support): the API as JSON, the run's FlowRun
 * object (events, successCounts), tenant settings, the scripted HTTP endpoint
 * (test/support/node/flow-http.ts) and an incremental Server-Sent Events reader.
 */
import { runInDurableObject } from 'cloudflare:test';
import { expect, inject } from 'vitest';
import type { FlowRun } from '../../../durable-objects/flow-run/flow-run';
import { eventsAfter, nodes } from '../../../durable-objects/flow-run/store';
import { type SseFrame, SseReader } from '../../support/shared/sse';
import { eventually, sleep } from '../../support/shared/time';
import { flowRun, hub } from '../../support/workers/durable-objects';
import { call } from '../../support/workers/http';
import type { TestTenant } from '../../support/workers/tenants';
import { createFlow, getRun, node, startRun, waitFor } from './_support';

export { createFlow, getRun, node, startRun, waitFor };

export type Json = Record<string, any>;

export async function api(
  t: TestTenant | string,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; body: Json; headers: Headers }> {
  const token = typeof t === 'string' ? t : t.accessToken;
  const res = await call(path, { method, token, body });
  const text = await res.text();
  let parsed: Json = {};
  try {
    parsed = text ? (JSON.parse(text) as Json) : {};
  } catch {
    parsed = { text };
  }
  return { status: res.status, body: parsed, headers: res.headers };
}

export async function ok(t: TestTenant, method: string, path: string, body?: unknown, status = 200): Promise<Json> {
  const res = await api(t, method, path, body);
  expect({ call: `${method} ${path}`, status: res.status, body: res.status === status ? undefined : res.body }).toEqual({
    call: `${method} ${path}`,
    status,
    body: undefined,
  });
  return res.body;
}

/** Merges `settings` into the tenant's settings through PATCH /v1/tenant. */
export async function setSettings(t: TestTenant, settings: { httpAllowlist?: string[]; maxActiveRuns?: number }): Promise<void> {
  await ok(t, 'PATCH', '/v1/tenant', { settings });
}

/** Lets the tenant's http nodes call the local scripted endpoint. */
export async function allowLocalHttp(t: TestTenant): Promise<void> {
  await setSettings(t, { httpAllowlist: [new URL(inject('flowHttpUrl')).hostname] });
}

// ------------------------------------------------------------------------------------------------
// The run's Durable Object
// ------------------------------------------------------------------------------------------------

/** The run's FlowRun object (the shared kit's stub). */
export const runStub = flowRun;

export interface RunEvent {
  seq: number;
  type: string;
  nodeId: string | null;
  data: any;
  at: string;
}

/**
 * Runs the run's alarm handler and returns once the engine has nothing left to do now (the run is
 * over, or parked on a wait, a retry or child runs), then reads the run through the API. Calling the
 * handler, rather than runDurableObjectAlarm, also joins a drive the platform's own alarm already began
 * (drive() coalesces), where runDurableObjectAlarm would answer false and not wait.
 */
export async function settled(t: TestTenant, runId: string): Promise<Json> {
  await runInDurableObject(runStub(runId), (run: FlowRun) => run.alarm());
  return getRun(t, runId);
}

/** The run's whole event log, read from its storage. */
export async function events(runId: string): Promise<RunEvent[]> {
  return runInDurableObject(runStub(runId), (_i, state) => eventsAfter(state.storage.sql, 0)) as Promise<RunEvent[]>;
}

/** Successes recorded per node (exactly-once evidence), read from the run's storage. */
export async function successCounts(runId: string): Promise<Record<string, number>> {
  return runInDurableObject(runStub(runId), (_i, state) => Object.fromEntries(nodes(state.storage.sql).map((r) => [r.id, r.successes])));
}

export function ofType(list: RunEvent[], type: string, nodeId?: string): RunEvent[] {
  return list.filter((e) => e.type === type && (nodeId === undefined || e.nodeId === nodeId));
}

// ------------------------------------------------------------------------------------------------
// Definitions
// ------------------------------------------------------------------------------------------------

export const transform = (id: string, expression: string, extra: Json = {}) => ({
  id,
  type: 'transform',
  config: { expression },
  ...extra,
});
export const approval = (id: string, config: Json = {}) => ({ id, type: 'approval', config });
export const http = (id: string, url: string, extra: Json = {}, config: Json = {}) => ({
  id,
  type: 'http',
  config: { url, ...config },
  ...extra,
});
export const edge = (from: string, to: string, when?: string) => ({ from, to, ...(when === undefined ? {} : { when }) });

// ------------------------------------------------------------------------------------------------
// The scripted HTTP endpoint
// ------------------------------------------------------------------------------------------------

export function newKey(tag = 'k'): string {
  return `${tag}-${crypto.randomUUID().slice(0, 8)}`;
}

/** URL of the scripted endpoint for `key` (see test/support/node/flow-http.ts for the query). */
export function endpoint(key: string, query: Record<string, string | number> = {}): string {
  const qs = new URLSearchParams(Object.entries(query).map(([k, v]) => [k, String(v)])).toString();
  return `${inject('flowHttpUrl')}/k/${key}${qs ? `?${qs}` : ''}`;
}

export async function script(
  key: string,
  s: { fail?: number; status?: number; retryAfter?: number; delayMs?: number; hold?: boolean },
): Promise<void> {
  const res = await fetch(`${inject('flowHttpUrl')}/__script/${key}`, { method: 'POST', body: JSON.stringify(s) });
  expect(res.status).toBe(200);
  await res.body?.cancel();
}

export async function release(key: string): Promise<void> {
  const res = await fetch(`${inject('flowHttpUrl')}/__release/${key}`, { method: 'POST' });
  expect(res.status).toBe(200);
  await res.body?.cancel();
}

export interface Hit {
  n: number;
  method: string;
  idempotencyKey: string | null;
  body: string;
  answered: number | null;
  closedEarly: boolean;
  /** For `bytes=B`: bytes written before the body ended or the client left. */
  sentBytes?: number;
}

export async function hits(key: string): Promise<Hit[]> {
  return (await (await fetch(`${inject('flowHttpUrl')}/__hits/${key}`)).json()) as Hit[];
}

export { sleep };

/** Polls `probe` until it returns something other than undefined (bounded); the shared kit's `eventually`. */
export function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 10_000): Promise<T> {
  return eventually(probe, { what, timeoutMs, intervalMs: 25 });
}

// ------------------------------------------------------------------------------------------------
// Server-Sent Events
// ------------------------------------------------------------------------------------------------

export { type SseFrame, SseReader };

/** A row of the hub's `run_index`: a run's D1 row the hub has not written yet (durable-objects/tenant-hub/run-index.ts). */
export interface RunIndexRow {
  run_id: string;
  index_row: string | null;
  summary: string | null;
  rev: number;
  attempts: number;
  alone: number;
  next_at: number;
  last_error: string | null;
  [k: string]: SqlStorageValue;
}

/** Runs `fn` on the tenant hub's SQLite, inside the object. */
export function inHub<T>(tenantId: string, fn: (sql: SqlStorage) => T): Promise<T> {
  return runInDurableObject(hub(tenantId), (_i, s) => fn(s.storage.sql));
}

/** The tenant hub's runs whose D1 rows it has not written yet. */
export function pendingRunIndex(tenantId: string): Promise<RunIndexRow[]> {
  return inHub(tenantId, (sql) => sql.exec<RunIndexRow>(`SELECT * FROM run_index ORDER BY run_id`).toArray());
}

export async function openEvents(t: TestTenant, runId: string, lastEventId?: number | string): Promise<{ res: Response; sse: SseReader }> {
  const res = await call(`/v1/runs/${runId}/events`, {
    token: t.accessToken,
    headers: { accept: 'text/event-stream', ...(lastEventId !== undefined ? { 'last-event-id': String(lastEventId) } : {}) },
  });
  if (res.status !== 200 || !res.body) throw new Error(`GET events: ${res.status} ${await res.text()}`);
  return { res, sse: new SseReader(res.body) };
}
