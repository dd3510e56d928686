/**
 * Per-isolate caches for starting runs (issue 20): a run start should not read D1.
 *
 * - Flow versions are immutable (a PUT writes a new one), so a version's definition is kept until
 *   evicted (bounded by count).
 * - A flow's head (its latest version, whether it is deleted) and its tenant's settings and plan change,
 *   so they are kept at most HEAD_TTL_MS. A PUT or DELETE of the flow, or a PATCH of the tenant, through
 *   this isolate forgets them at once; through another isolate it applies here within HEAD_TTL_MS
 *   (docs/flows.md, "Starting runs"). A start naming its `version` pins it whatever the head says.
 */

import type { TenantSettings } from '../db/schema';
import { TtlCache } from '../identity/credential-cache';
import type { FlowDefinition } from './definition';

export const HEAD_TTL_MS = 5_000;
const MAX_VERSIONS = 500;
const MAX_HEADS = 5_000;

export interface FlowHead {
  latestVersion: number;
  deleted: boolean;
  settings: TenantSettings;
  plan: string;
}

const versions = new TtlCache<FlowDefinition>(Number.POSITIVE_INFINITY, MAX_VERSIONS);
const heads = new TtlCache<FlowHead>(HEAD_TTL_MS, MAX_HEADS);

const headKey = (tenantId: string, flowId: string) => `${tenantId}:${flowId}`;
/** Loads in flight: a burst of starts that all miss waits for one query, not one each. */
const inflight = new Map<string, Promise<unknown>>();
/** Bumped by every forget: a head loaded before a change is not remembered after it. */
let epoch = 0;

/** `load()` once per key at a time; callers arriving meanwhile share its answer. */
export function singleFlight<T>(key: string, load: () => Promise<T>): Promise<T> {
  const running = inflight.get(key) as Promise<T> | undefined;
  if (running) return running;
  const p = load().finally(() => inflight.delete(key));
  inflight.set(key, p);
  return p;
}

/** The current epoch, to pass to rememberHead from before the load. */
export function headEpoch(): number {
  return epoch;
}

export function cachedVersion(tenantId: string, flowId: string, version: number): FlowDefinition | undefined {
  return versions.get(`${tenantId}:${flowId}:${version}`);
}

export function rememberVersion(tenantId: string, flowId: string, version: number, definition: FlowDefinition): void {
  versions.set(`${tenantId}:${flowId}:${version}`, definition);
}

/** The flow's head, if cached (an unknown flow is not remembered: it may be created the next moment). */
export function cachedHead(tenantId: string, flowId: string): FlowHead | undefined {
  return heads.get(headKey(tenantId, flowId));
}

export function rememberHead(tenantId: string, flowId: string, head: FlowHead, loadedAt: number): void {
  if (loadedAt === epoch) heads.set(headKey(tenantId, flowId), head);
}

/** Call after a flow's head changes (new version, deletion). */
export function forgetFlowHead(tenantId: string, flowId: string): void {
  epoch++;
  heads.delete(headKey(tenantId, flowId));
}

/** Call after a tenant's settings or plan change. */
export function forgetTenantHeads(tenantId: string): void {
  epoch++;
  heads.deleteWhere((k) => k.startsWith(`${tenantId}:`));
}
