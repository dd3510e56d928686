/**
 * The feedback model shared by the Worker (validation, target resolution, routes) and the
 * TenantHub (storage, the single writer). Plain data only: it crosses the RPC boundary.
 */

export type KeyType = 'boolean' | 'numeric' | 'categorical' | 'text';

/** A tenant's feedback key: what a rating measures and how a value must look. */
export interface FeedbackKey {
  key: string;
  type: KeyType;
  /** numeric only: the closed range a score must fall in. */
  min: number | null;
  max: number | null;
  /** categorical only: the allowed values. */
  categories: string[] | null;
  higherIsBetter: boolean;
  description: string | null;
  /** When set, a window whose mean falls `margin` below the previous window raises `feedback.drift`. */
  drift: DriftConfig | null;
  createdAt: string;
  updatedAt: string;
}

export interface DriftConfig {
  /** Window length: `<n>h` or `<n>d` (e.g. `1d`, `7d`). */
  window: string;
  /** In the key's score units (a rate for boolean keys). */
  margin: number;
  /** Both windows need at least this many scored ratings. */
  minSamples: number;
}

export type FeedbackKeyCreate = Omit<FeedbackKey, 'createdAt' | 'updatedAt'>;
export type FeedbackKeyPatch = Partial<
  Pick<FeedbackKey, 'type' | 'min' | 'max' | 'categories' | 'higherIsBetter' | 'description' | 'drift'>
>;

/**
 * What can be rated. Each type has a resolver (src/feedback/targets.ts) that proves the id is the
 * caller's tenant's and reads its attributes; `chat_message` joins when the assistant lands.
 */
export type TargetType = 'run' | 'node' | 'tool_invocation' | 'chat_message';

export interface FeedbackTarget {
  type: TargetType;
  id: string;
  /** `node` targets: the node of run `id`. */
  nodeId?: string | undefined;
  /** `chat_message` targets: the chat the assistant message `id` belongs to. */
  chatId?: string | undefined;
}

/** Where a rated output came from, copied onto the rating so stats group and routing reads without a join. */
export interface TargetAttributes {
  runId: string | null;
  flowId: string | null;
  flowVersion: number | null;
  nodeId: string | null;
  provider: string | null;
  model: string | null;
  agentId: string | null;
  toolId: string | null;
}

export const NO_ATTRIBUTES: TargetAttributes = {
  runId: null,
  flowId: null,
  flowVersion: null,
  nodeId: null,
  provider: null,
  model: null,
  agentId: null,
  toolId: null,
};

export type FeedbackSource = 'user' | 'api' | 'model' | 'eval';

/** Who rated: a member, an API key, an end user through a feedback token, or an experiment. */
export interface Rater {
  type: 'user' | 'api_key' | 'token' | 'experiment';
  id: string;
}

export interface Feedback {
  id: string;
  target: FeedbackTarget;
  key: string;
  /** boolean (1 / 0) and numeric keys. */
  score: number | null;
  /** categorical and text keys. */
  value: string | null;
  comment: string | null;
  /** What the output should have been (datasets turn it into an expected output). */
  correction: unknown;
  source: FeedbackSource;
  actor: Rater;
  attributes: TargetAttributes;
  createdAt: string;
  updatedAt: string;
}

/** A rating as the hub receives it: validated shape, resolved target, the caller as rater. */
export interface FeedbackWrite {
  target: FeedbackTarget;
  attributes: TargetAttributes;
  key: string;
  score?: number | boolean | undefined;
  value?: string | undefined;
  comment?: string | null | undefined;
  correction?: unknown;
  source: FeedbackSource;
  actor: Rater;
}

export interface FeedbackPatch {
  score?: number | boolean | undefined;
  value?: string | undefined;
  comment?: string | null | undefined;
  correction?: unknown;
}

export interface FeedbackFilter {
  targetType?: TargetType | undefined;
  targetId?: string | undefined;
  nodeId?: string | undefined;
  key?: string | undefined;
  source?: FeedbackSource | undefined;
  /** ISO instants, on `updatedAt` (when the current score was given). */
  from?: string | undefined;
  to?: string | undefined;
  limit: number;
  /** The last id of the previous page (newest first). */
  after?: string | undefined;
}

export const GROUP_BY = ['day', 'week', 'flowId', 'flowVersion', 'agentId', 'provider', 'model', 'nodeId'] as const;
export type GroupBy = (typeof GROUP_BY)[number];

export interface StatsQuery {
  key: string;
  groupBy?: GroupBy | undefined;
  from?: string | undefined;
  to?: string | undefined;
  /** Drift margin for time buckets; defaults to the key's drift margin. */
  margin?: number | undefined;
}

export interface Bucket {
  /** The group's value: an ISO day / Monday of the week, a flow id, a provider…; null when the rating has none. */
  group: string | number | null;
  count: number;
  mean: number | null;
  positiveRate: number | null;
  p50: number | null;
  /** Counts per score (boolean, numeric) or per value (categorical); null for text keys. */
  distribution: Record<string, number> | null;
  /** Time buckets: mean minus the previous bucket's mean. */
  delta?: number | null;
  /** Time buckets: the mean fell by more than the margin against the previous bucket. */
  drift?: boolean;
}

export interface StatsResult {
  key: string;
  groupBy: GroupBy | null;
  from: string | null;
  to: string | null;
  /** Ratings that matched (every bucket's count summed). */
  total: number;
  buckets: Bucket[];
}

/** Rolling score of one provider for one key (routing by feedback). */
export interface ProviderScore {
  provider: string;
  count: number;
  /** Mean of scores normalised to 0..1, higher is better whatever the key's direction. */
  score: number;
}
