/** Run shapes shared by the Worker and the FlowRun object (plain data: they cross RPC). */

import type { Role } from '../identity/roles';
import type { FlowDefinition } from './definition';
import type { NodeStatus } from './plan';

export type RunStatus = 'queued' | 'running' | 'waiting' | 'succeeded' | 'failed' | 'cancelled';

export const TERMINAL: ReadonlySet<RunStatus> = new Set(['succeeded', 'failed', 'cancelled']);

export interface RunParent {
  runId: string;
  nodeId: string;
  index: number;
  /** This (child) run's nesting depth: 1 for a child of a run started by the API (absent on older runs: 1). */
  depth?: number;
}

/** Who started a run, as the credential said: agent tools that act on tenant data act as this caller. */
export interface RunInitiator {
  actorType: 'user' | 'api_key';
  actorId: string;
  role: Role;
  /** The credential it came from (rate budgets, audit). */
  credentialId?: string | undefined;
}

export interface RunInit {
  runId: string;
  tenantId: string;
  flowId: string;
  flowVersion: number;
  definition: FlowDefinition;
  input: unknown;
  /**
   * Copied from the tenant at start; `retentionDays` and `liveChildRuns` from its plan
   * (src/flows/retention.ts, src/flows/ceilings.ts).
   */
  settings: { httpAllowlist?: string[]; retentionDays?: number; liveChildRuns?: number };
  parent?: RunParent | undefined;
  /** Outputs reused from an earlier run (rerun from a node): node id → output. */
  reuse?: Record<string, { output: unknown; branch: string | null }> | undefined;
  createdAt: string;
  /** Absent for runs started before initiators were recorded. Child runs inherit their parent's. */
  initiator?: RunInitiator | undefined;
  /**
   * The D1 `runs` index row's fields the run keeps nowhere else. With it, the run writes its own index row
   * through its report outbox, in the transaction that creates it (durable, off the caller's path).
   */
  index?: { createdBy: string; rerunOf: string | null } | undefined;
}

/** The D1 `runs` row a run indexes itself with (durable-objects/flow-run/reports.ts, receiver 'index'). */
export interface RunIndexRow {
  id: string;
  tenantId: string;
  flowId: string;
  flowVersion: number;
  parentRunId: string | null;
  rerunOf: string | null;
  createdBy: string;
  createdAt: string;
}

export interface NodeView {
  id: string;
  type: string;
  status: NodeStatus;
  attempts: number;
  output: unknown;
  error: { kind: string; message: string } | null;
  branch: string | null;
  reused: boolean;
  startedAt: string | null;
  finishedAt: string | null;
  durationMs: number | null;
  usage: { inputTokens: number; outputTokens: number; costUsd: number };
}

export interface RunView {
  id: string;
  tenantId: string;
  flowId: string;
  flowVersion: number;
  status: RunStatus;
  input: unknown;
  output: unknown;
  error: string | null;
  parent: RunParent | null;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  durationMs: number | null;
  usage: { inputTokens: number; outputTokens: number; costUsd: number };
  nodes: NodeView[];
}

export interface RunEvent {
  seq: number;
  type: string;
  nodeId: string | null;
  data: unknown;
  at: string;
}

export interface RunSummary {
  id: string;
  tenantId: string;
  flowId: string;
  flowVersion: number;
  status: RunStatus;
  startedAt: string | null;
  finishedAt: string | null;
  durationMs: number | null;
  inputTokens: number;
  outputTokens: number;
  costUsd: number;
  error: string | null;
}

/**
 * What a run reports to its tenant's hub (durable-objects/flow-run/reports.ts → TenantHub.runReported):
 * its D1 index row (once, when it is created), a summary for D1 alone (a resumed run back in 'queued', a
 * repair), or a status change (sync change, `run.*` event and D1 summary; `eventId` makes a repeat harmless).
 */
export type RunReport =
  | { kind: 'index'; row: RunIndexRow }
  | { kind: 'summary'; summary: RunSummary }
  | { kind: 'change'; summary: RunSummary; eventId: string };

/** The tenant a report belongs to: the run's sender addresses that tenant's hub, and the hub refuses any other. */
export function reportTenant(r: RunReport): string {
  return r.kind === 'index' ? r.row.tenantId : r.summary.tenantId;
}

/** The header a run stream request carries its caller's tenant in; the run's object answers 404 to any other (streamRun). */
export const TENANT_HEADER = 'x-edgecrew-tenant';

/** The response headers of a run's SSE stream, whether the stream came from a start or from GET …/events. */
export const RUN_SSE_HEADERS: Readonly<Record<string, string>> = {
  'content-type': 'text/event-stream; charset=utf-8',
  'cache-control': 'no-store',
  connection: 'keep-alive',
  'x-accel-buffering': 'no',
};
