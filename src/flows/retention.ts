/**
 * How long a finished run keeps its FlowRun storage (state, nodes, event log) before its own alarm
 * deletes it; the D1 summary row stays. Per plan (docs/operations.md, "Retention").
 */
export const RUN_RETENTION_DAYS = { free: 7, pro: 30 } as const;

export type Plan = keyof typeof RUN_RETENTION_DAYS;

/** The plan's run retention in days (unknown plans get the free one). */
export function runRetentionDays(plan: string | null | undefined): number {
  return RUN_RETENTION_DAYS[plan as Plan] ?? RUN_RETENTION_DAYS.free;
}
