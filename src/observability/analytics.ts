/**
 * Analytics Engine data points. The blob/double layout is a contract with the
 * dashboards in docs/operations.md: append new fields, never reorder.
 */

export interface RequestMetric {
  route: string;
  method: string;
  status: number;
  latencyMs: number;
  tenantId?: string | undefined;
  environment: string;
  colo?: string | undefined;
  /** The request's stages in ms (src/observability/timing.ts `STAGES` order), -1 for a stage not on its path. */
  stages: readonly number[];
}

/**
 * blob1=kind 'request', blob2=route, blob3=method, blob4=status class, blob5=tenant, blob6=env, blob7=colo;
 * double1=latency ms, double2=status, double3… the stages in `STAGES` order (ms; -1: not on this request's path).
 */
export function writeRequestMetric(dataset: AnalyticsEngineDataset | undefined, m: RequestMetric): void {
  if (!dataset) return;
  try {
    dataset.writeDataPoint({
      indexes: [m.tenantId ?? 'anonymous'],
      blobs: ['request', m.route, m.method, `${Math.floor(m.status / 100)}xx`, m.tenantId ?? '', m.environment, m.colo ?? ''],
      doubles: [m.latencyMs, m.status, ...m.stages],
    });
  } catch {
    // Metrics must never fail a request (writeDataPoint throws only on malformed points).
  }
}

/** A generic counter point: blob1=kind, blob2..=labels; double1=value. */
export function writeCounter(
  dataset: AnalyticsEngineDataset | undefined,
  kind: string,
  tenantId: string | undefined,
  labels: string[],
  value = 1,
): void {
  if (!dataset) return;
  try {
    dataset.writeDataPoint({ indexes: [tenantId ?? 'platform'], blobs: [kind, ...labels], doubles: [value] });
  } catch {
    // see above
  }
}
