/**
 * Ceilings a tenant cannot raise by itself (docs/operations.md, "Ceilings"). Per plan where a paying
 * tenant gets more; platform-wide where the bound protects the object that runs the work (a FlowRun,
 * the tool runner) rather than the tenant's share of the platform.
 */

export type Plan = 'free' | 'pro';

export interface PlanCeilings {
  /** Highest `settings.maxActiveRuns` the tenant may set (PATCH /v1/tenant answers 422 above it). */
  maxActiveRuns: number;
  /** Child runs (map, subflow) alive at once across the tenant; a node that would exceed it fails with kind `limit`. */
  liveChildRuns: number;
}

export const PLAN_CEILINGS: Record<Plan, PlanCeilings> = {
  free: { maxActiveRuns: 10, liveChildRuns: 50 },
  pro: { maxActiveRuns: 200, liveChildRuns: 1000 },
};

/** Active runs when the tenant set nothing (never above its plan's ceiling). */
export const DEFAULT_MAX_ACTIVE_RUNS = 10;

/** The plan's ceilings (an unknown plan gets the free one). */
export function planCeilings(plan: string | null | undefined): PlanCeilings {
  return PLAN_CEILINGS[plan as Plan] ?? PLAN_CEILINGS.free;
}

/**
 * The active-run limit admission applies: the tenant's setting, else the default, never above the plan's
 * ceiling (a setting stored before a downgrade, or written straight into D1, is clamped here).
 */
export function effectiveRunLimit(plan: string | null | undefined, setting: number | undefined): number {
  return Math.min(setting ?? DEFAULT_MAX_ACTIVE_RUNS, planCeilings(plan).maxActiveRuns);
}

/**
 * Nesting of child runs: a run started by the API is at depth 0, a child of a run at depth d is at d + 1.
 * A subflow/map node of a run at this depth fails with kind `limit` instead of starting children (so a
 * flow that calls itself ends after this many levels).
 */
export const MAX_RUN_DEPTH = 5;

/** The http node reads at most this many bytes of a response body; a longer one fails the node (kind `limit`). */
export const HTTP_RESPONSE_MAX_BYTES = 1024 * 1024;

/**
 * One expression evaluation (JSONata) may take at most this many evaluation steps (one per node of the
 * expression evaluated, so a loop counts each pass) and nest at most this deep; past either the
 * expression fails (kind `expression`, not retried). A step count rather than a clock: a Worker's clock
 * does not advance while it computes, so a time limit would never fire inside a loop.
 */
export const EXPRESSION_MAX_STEPS = 500_000;
export const EXPRESSION_MAX_DEPTH = 500;
/** All evaluations of one node attempt together (a map's `input` runs once per item). */
export const EXPRESSION_MAX_STEPS_PER_SCOPE = 2_000_000;
