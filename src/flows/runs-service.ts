/**
 * Starting runs: used by the API (POST /v1/flows/{id}/runs, rerun) and by a
 * FlowRun starting child runs (subflow, map). Writes the D1 summary row,
 * initializes the run's FlowRun object, then asks the tenant's hub for a slot.
 */

import { and, eq } from 'drizzle-orm';
import { getDb } from '../db/client';
import { flows, flowVersions, runs, type TenantSettings, tenants } from '../db/schema';
import { newId } from '../lib/ids';
import { flowRunStub, tenantHubStub } from '../lib/stubs';
import { checkInput, type FlowDefinition } from './definition';
import { runRetentionDays } from './retention';
import type { RunInit, RunInitiator, RunParent } from './run-model';

export const DEFAULT_MAX_ACTIVE_RUNS = 10;

/** The tenant's active-run limit (tenant settings, else the default). */
export async function tenantRunLimit(env: Env, tenantId: string): Promise<number> {
  const row = await getDb(env.DB).select({ settings: tenants.settings }).from(tenants).where(eq(tenants.id, tenantId)).get();
  return row?.settings?.maxActiveRuns ?? DEFAULT_MAX_ACTIVE_RUNS;
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

export async function loadVersion(env: Env, tenantId: string, flowId: string, version?: number): Promise<LoadedVersion | null> {
  const db = getDb(env.DB);
  const found = await db
    .select({ latestVersion: flows.latestVersion, deletedAt: flows.deletedAt, settings: tenants.settings, plan: tenants.plan })
    .from(flows)
    .innerJoin(tenants, eq(tenants.id, flows.tenantId))
    .where(and(eq(flows.id, flowId), eq(flows.tenantId, tenantId)))
    .get();
  if (!found || found.deletedAt) return null;
  const v = version ?? found.latestVersion;
  const row = await db
    .select()
    .from(flowVersions)
    .where(and(eq(flowVersions.flowId, flowId), eq(flowVersions.tenantId, tenantId), eq(flowVersions.version, v)))
    .get();
  return row
    ? { flowId, version: v, definition: row.definition as unknown as FlowDefinition, settings: found.settings ?? {}, plan: found.plan }
    : null;
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
}

/** Creates and (when a slot is free, or for child runs) starts a run. Idempotent per runId. */
export async function startRun(env: Env, o: StartOptions): Promise<{ runId: string; status: 'queued' | 'running' } | StartProblem> {
  const problems = checkInput(o.version.definition.input, o.input);
  if (problems.length) return { code: 'validation_failed', errors: problems };
  const db = getDb(env.DB);
  const runId = o.runId ?? newId('run');
  const now = new Date().toISOString();
  const settings =
    o.version.settings ??
    (await db.select({ settings: tenants.settings }).from(tenants).where(eq(tenants.id, o.tenantId)).get())?.settings ??
    {};
  await db
    .insert(runs)
    .values({
      id: runId,
      tenantId: o.tenantId,
      flowId: o.version.flowId,
      flowVersion: o.version.version,
      status: 'queued',
      parentRunId: o.parent?.runId ?? null,
      rerunOf: o.rerunOf ?? null,
      createdBy: o.createdBy,
      createdAt: now,
      updatedAt: now,
    })
    .onConflictDoNothing()
    .run();
  const stub = flowRunStub(env, runId);
  await stub.init({
    runId,
    tenantId: o.tenantId,
    flowId: o.version.flowId,
    flowVersion: o.version.version,
    definition: o.version.definition,
    input: o.input ?? null,
    settings: { httpAllowlist: settings.httpAllowlist ?? [], retentionDays: runRetentionDays(o.version.plan) },
    parent: o.parent,
    reuse: o.reuse,
    createdAt: now,
    initiator: o.initiator,
  });
  // Child runs belong to a parent that already holds a slot: they never queue (no deadlock).
  if (o.parent) {
    await stub.start();
    return { runId, status: 'running' };
  }
  const admitted = await tenantHubStub(env, o.tenantId).admitRun(o.tenantId, runId, settings.maxActiveRuns ?? DEFAULT_MAX_ACTIVE_RUNS);
  if (admitted === 'start') {
    await stub.start();
    return { runId, status: 'running' };
  }
  return { runId, status: 'queued' };
}

/** The caller as a run records it (src/flows/run-model.ts RunInitiator). */
export function initiatorOf(ctx: {
  actor: { type: 'user' | 'api_key'; id: string };
  role: RunInitiator['role'];
  credential: { id: string };
}): RunInitiator {
  return { actorType: ctx.actor.type, actorId: ctx.actor.id, role: ctx.role, credentialId: ctx.credential.id };
}
