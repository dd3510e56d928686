/** Shapes used by scripts/bench (JSDoc only; the runner is plain ESM). */

export interface BenchRequest {
  method?: string;
  path: string;
  headers?: Record<string, string>;
  body?: string;
  /** autocannon's setupRequest: rewrites each request (rotate credentials, vary cf-connecting-ip). */
  perRequest?: (req: { method: string; path: string; headers: Record<string, string>; body?: string }) => unknown;
}

export interface BenchTarget {
  /** Origin of the Worker's direct loopback socket, e.g. http://127.0.0.1:40587/ */
  url: string;
  /** fetch() relative to `url`. */
  fetch(path: string, init?: RequestInit): Promise<Response>;
  /** The Worker's D1 binding `DB` (Miniflare proxy), migrations applied. */
  db: {
    prepare(sql: string): { bind(...values: unknown[]): unknown; run(): Promise<unknown>; first<T = unknown>(): Promise<T | null> };
    batch(statements: unknown[]): Promise<unknown[]>;
  };
}

export interface SetupContext {
  ours: BenchTarget;
  base: BenchTarget;
  /** TOKEN_PEPPER our Worker runs with (to mint API-key hashes directly in D1). */
  pepper: string;
}

export interface SetupResult {
  /** Added to both requests. */
  headers?: Record<string, string>;
  [key: string]: unknown;
}

export type RequestSpec = string | BenchRequest | ((setup: SetupResult) => string | BenchRequest);

export interface Scenario {
  name: string;
  ours: RequestSpec;
  base: RequestSpec;
  setup?: (ctx: SetupContext) => Promise<SetupResult> | SetupResult;
  note?: string;
  /** Overrides BENCH_CONNECTIONS (1 = single flight). */
  connections?: number;
  /** The setup's time limit in seconds (default 30). */
  setupTimeoutS?: number;
  /** Overrides BENCH_ROUNDS (alternating slices per side). */
  rounds?: number;
  /** Pause before each warm-up and slice (default 250 ms), to let in-flight work drain. */
  settleMs?: number;
  /** After the load: 200 more requests per side, ours broken down by stage from its Server-Timing header. */
  breakdown?: boolean;
}
