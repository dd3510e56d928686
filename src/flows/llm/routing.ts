/**
 * Routing by feedback: the order a model node (llm now, agent later) tries its providers in.
 * `providers` is either a static list or `{ policy: "feedback", names, key, window, minSamples }`:
 * providers with at least `minSamples` scored ratings of `key` in the last `window` are ranked by
 * their rolling score (the mean rating of the outputs they produced, normalised so 1 is best);
 * the others keep their static place. With fewer than two rated providers the static order stands.
 * The ordering is a pure function; `resolveRouting` reads the scores from the tenant's hub.
 */
import { z } from 'zod';
import type { ProviderScore } from '../../feedback/model';
import { windowMs } from '../../feedback/rules';
import { tenantHubStub } from '../../lib/stubs';

const Names = z.array(z.string().min(1).max(64)).min(1).max(8);

export const FeedbackPolicySchema = z.strictObject({
  policy: z.literal('feedback'),
  names: Names.describe('Provider names: the static order, used until ratings say otherwise'),
  key: z.string().min(1).max(64).describe('The feedback key (boolean or numeric) whose rolling score ranks providers'),
  window: z
    .string()
    .refine((w) => windowMs(w) !== null, 'A window like 12h or 7d, from 1h to 90d')
    .default('7d'),
  minSamples: z.number().int().min(1).max(100_000).default(20),
});

export const ProvidersSchema = z
  .union([Names.describe('Provider names, in failover order'), FeedbackPolicySchema])
  .describe('Provider names in failover order, or { policy: "feedback", names, key, window, minSamples }');

export type ProvidersConfig = z.infer<typeof ProvidersSchema>;
export type FeedbackPolicy = z.infer<typeof FeedbackPolicySchema>;

/** What the node's `started` event records about the order it chose. */
export interface Routing {
  policy: 'feedback';
  key: string;
  window: string;
  minSamples: number;
  /** The order the providers are tried in. */
  order: string[];
  /** Ratings per provider in the window: count and rolling score (0..1, 1 = best); absent = none. */
  scores: Record<string, { count: number; score: number }>;
  /** True when ratings changed the static order. */
  reordered: boolean;
  /** Set when the scores could not be read (the static order applies). */
  error?: string;
}

export function staticOrder(p: ProvidersConfig): string[] {
  return Array.isArray(p) ? p : p.names;
}

/** Rated providers (≥ minSamples) refill the slots they hold, best first (ties keep static order); the rest stay put. */
export function orderByScores(names: readonly string[], scores: readonly ProviderScore[], minSamples: number): string[] {
  const byName = new Map(scores.map((s) => [s.provider, s]));
  const rated = names.filter((n) => (byName.get(n)?.count ?? 0) >= minSamples);
  if (rated.length < 2) return [...names];
  const ranked = [...rated].sort((a, b) => byName.get(b)!.score - byName.get(a)!.score || names.indexOf(a) - names.indexOf(b));
  let next = 0;
  return names.map((n) => (rated.includes(n) ? ranked[next++]! : n));
}

/** The order for a feedback policy now, from the tenant's ratings; a failure to read them keeps the static order. */
export async function resolveRouting(env: Env, tenantId: string, policy: FeedbackPolicy, now: number): Promise<Routing> {
  const base = { policy: 'feedback' as const, key: policy.key, window: policy.window, minSamples: policy.minSamples };
  try {
    const since = new Date(now - (windowMs(policy.window) ?? 0)).toISOString();
    const all = await tenantHubStub(env, tenantId).providerScores(tenantId, policy.key, since);
    const scores = all.filter((s) => policy.names.includes(s.provider));
    const order = orderByScores(policy.names, scores, policy.minSamples);
    return {
      ...base,
      order,
      scores: Object.fromEntries(scores.map((s) => [s.provider, { count: s.count, score: s.score }])),
      reordered: order.some((n, i) => n !== policy.names[i]),
    };
  } catch (err) {
    return { ...base, order: [...policy.names], scores: {}, reordered: false, error: err instanceof Error ? err.message : String(err) };
  }
}
