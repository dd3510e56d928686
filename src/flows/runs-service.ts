/**
 * Starting runs: used by the API (POST /v1/flows/{id}/runs, rerun) and by a
 * FlowRun starting child runs (subflow, map). The run's FlowRun stores it, asks the
 * tenant's hub for a slot and writes the D1 index row through its report outbox.
 */

import { and, eq } from 'drizzle-orm';
import { getDb } from '../db/client';
import { flows, flowVersions, type TenantSettings, tenants } from '../db/schema';
import { newId } from '../lib/ids';
import { flowRunStub } from '../lib/stubs';
import type { StageTimer } from '../observability/timing';
import { DEFAULT_MAX_ACTIVE_RUNS, effectiveRunLimit, planCeilings } from './ceilings';
import { checkInput, type FlowDefinition } from './definition';
import { runRetentionDays } from './retention';
import type { RunInit, RunInitiator, RunParent, RunView } from './run-model';
import { cachedHead, cachedVersion, headEpoch, rememberHead, rememberVersion, singleFlight } from './version-cache';

export { DEFAULT_MAX_ACTIVE_RUNS };

/** The tenant's active-run limit (tenant settings, else the default; never above its plan's ceiling). */
export async function tenantRunLimit(env: Env, tenantId: string): Promise<number> {
  const row = await getDb(env.DB)
    .select({ settings: tenants.settings, plan: tenants.plan })
    .from(tenants)
    .where(eq(tenants.id, tenantId))
    .get();
  return effectiveRunLimit(row?.plan, row?.settings?.maxActiveRuns);
}

export interface LoadedVersion {
  flowId: string;
  version: number;
  definition: FlowDefinition;
  /** The tenant's settings, read with the flow (one query fewer per run start). */
  settings?: TenantSettings;
  /** The tenant's plan (run storage retention). */
  plan?: string;
}

/**
 * A flow version and what a run start needs of its tenant, from the isolate's caches (./version-cache.ts):
 * versions are immutable and kept; the flow's head (latest version, deleted) and the tenant's settings and
 * plan for at most HEAD_TTL_MS. A miss is one D1 query (the head with the tenant, plus the version row).
 */
export async function loadVersion(env: Env, tenantId: string, flowId: string, version?: number): Promise<LoadedVersion | null> {
  const db = getDb(env.DB);
  let head = cachedHead(tenantId, flowId);
  if (head === undefined) {
    const loadedAt = headEpoch();
    const found = await singleFlight(`head:${tenantId}:${flowId}`, () =>
      db
        .select({ latestVersion: flows.latestVersion, deletedAt: flows.deletedAt, settings: tenants.settings, plan: tenants.plan })
        .from(flows)
        .innerJoin(tenants, eq(tenants.id, flows.tenantId))
        .where(and(eq(flows.id, flowId), eq(flows.tenantId, tenantId)))
        .get(),
    );
    if (!found) return null;
    head = { latestVersion: found.latestVersion, deleted: found.deletedAt !== null, settings: found.settings ?? {}, plan: found.plan };
    rememberHead(tenantId, flowId, head, loadedAt);
  }
  if (head.deleted) return null;
  const v = version ?? head.latestVersion;
  let definition = cachedVersion(tenantId, flowId, v);
  if (definition === undefined) {
    const row = await singleFlight(`version:${tenantId}:${flowId}:${v}`, () =>
      db
        .select({ definition: flowVersions.definition })
        .from(flowVersions)
        .where(and(eq(flowVersions.flowId, flowId), eq(flowVersions.tenantId, tenantId), eq(flowVersions.version, v)))
        .get(),
    );
    if (!row) return null;
    definition = row.definition as unknown as FlowDefinition;
    rememberVersion(tenantId, flowId, v, definition);
  }
  return { flowId, version: v, definition, settings: head.settings, plan: head.plan };
}

export type StartProblem = { code: 'validation_failed'; errors: Array<{ path: string; message: string; code: string }> };

export interface StartOptions {
  tenantId: string;
  createdBy: string;
  version: LoadedVersion;
  input: unknown;
  parent?: RunParent;
  runId?: string;
  rerunOf?: string;
  reuse?: RunInit['reuse'];
  /** Who started it (child runs pass their parent's). */
  initiator?: RunInit['initiator'];
  /** The request's stage timer (Server-Timing), when a request starts it. */
  timing?: StageTimer;
  /** Also return the run's SSE stream from its first event, in the same round trip (POST …/runs streaming). */
  stream?: boolean;
}

/**
 * Creates and (when a slot is free, or for child runs) starts a run. Idempotent per runId.
 * One round trip on the caller's path: the run's FlowRun stores it, asks the tenant's hub for a slot and
 * starts it (`FlowRun.create`); the run writes its own D1 index row through its report outbox. With the
 * version cached (./version-cache.ts) a start reads nothing from D1.
 */
export async function startRun(
  env: Env,
  o: StartOptions,
): Promise<{ runId: string; status: 'queued' | 'running'; view: RunView; events?: ReadableStream<Uint8Array> } | StartProblem> {
  const problems = checkInput(o.version.definition.input, o.input);
  if (problems.length) return { code: 'validation_failed', errors: problems };
  const runId = o.runId ?? newId('run');
  const now = new Date().toISOString();
  const tenant =
    o.version.settings !== undefined
      ? { settings: o.version.settings, plan: o.version.plan }
      : await getDb(env.DB)
          .select({ settings: tenants.settings, plan: tenants.plan })
          .from(tenants)
          .where(eq(tenants.id, o.tenantId))
          .get();
  const settings = tenant?.settings ?? {};
  // Child runs belong to a parent that already holds a slot: they never queue (no deadlock).
  const limit = o.parent ? null : effectiveRunLimit(tenant?.plan, settings.maxActiveRuns);
  const work = flowRunStub(env, runId).create(
    {
      runId,
      tenantId: o.tenantId,
      flowId: o.version.flowId,
      flowVersion: o.version.version,
      definition: o.version.definition,
      input: o.input ?? null,
      settings: {
        httpAllowlist: settings.httpAllowlist ?? [],
        retentionDays: runRetentionDays(tenant?.plan),
        liveChildRuns: planCeilings(tenant?.plan).liveChildRuns,
      },
      parent: o.parent,
      reuse: o.reuse,
      createdAt: now,
      initiator: o.initiator,
      index: { createdBy: o.createdBy, rerunOf: o.rerunOf ?? null },
    },
    limit,
    o.stream ? { stream: true } : undefined,
  );
  const created = (await (o.timing ? o.timing.time('flowrun', work) : work)) as unknown as {
    status: 'queued' | 'running';
    view: RunView;
    events?: ReadableStream<Uint8Array>;
  };
  return { runId, status: created.status, view: created.view, ...(created.events ? { events: created.events } : {}) };
}

/** The caller as a run records it (src/flows/run-model.ts RunInitiator). */
export function initiatorOf(ctx: {
  actor: { type: 'user' | 'api_key'; id: string };
  role: RunInitiator['role'];
  credential: { id: string };
}): RunInitiator {
  return { actorType: ctx.actor.type, actorId: ctx.actor.id, role: ctx.role, credentialId: ctx.credential.id };
}
