/**
 * Where a request's milliseconds go: named stages (credential, rate limit, each D1 and Durable
 * Object round trip of a hot path) reported in a `Server-Timing` header (W3C Server Timing) outside
 * staging and production, which `npm run bench` reads to print a per-stage breakdown
 * (scripts/bench/README.md), and in every environment in the request's Analytics Engine point, one
 * column per stage (docs/operations.md, "Logs, errors, metrics"). Stages that overlap
 * (parallel round trips) are each timed whole.
 * In production Workers the clock advances only on I/O, which is what every stage here waits on.
 */

/**
 * Every stage a request may time, in the order of their Analytics Engine columns (`double3` on): a
 * contract with the dashboards, so a new stage is appended, never inserted.
 */
export const STAGES = ['credential', 'ratelimit', 'hub', 'version', 'flowrun', 'assignee'] as const;
export type Stage = (typeof STAGES)[number];

export class StageTimer {
  readonly #stages: Array<{ name: Stage; ms: number }> = [];

  /**
   * Awaits `work` (already started), recording how long it took under `name` (also when it throws).
   * Never a function to call: a Durable Object RPC promise is itself callable.
   */
  async time<T>(name: Stage, work: PromiseLike<T>): Promise<T> {
    const t0 = performance.now();
    try {
      return await work;
    } finally {
      this.#stages.push({ name, ms: performance.now() - t0 });
    }
  }

  /** The recorded stages as a Server-Timing value (`name;dur=1.23, …`), or null when nothing was timed. */
  header(totalMs?: number): string | null {
    const parts = this.#stages.map((s) => `${s.name};dur=${s.ms.toFixed(2)}`);
    if (totalMs !== undefined) parts.push(`total;dur=${totalMs.toFixed(2)}`);
    return parts.length > 0 ? parts.join(', ') : null;
  }

  /** Each of `STAGES`' total ms in their order (a stage timed twice counts both), -1 for one not timed. */
  durations(): number[] {
    const out: number[] = STAGES.map(() => -1);
    for (const s of this.#stages) {
      const i = STAGES.indexOf(s.name);
      out[i] = Math.round((Math.max(out[i]!, 0) + s.ms) * 100) / 100;
    }
    return out;
  }
}

/** The Analytics Engine columns of a request that timed nothing (one that failed before its context). */
export const NO_STAGES: readonly number[] = STAGES.map(() => -1);

/** Environments whose responses carry Server-Timing (timings can tell cache hits from misses: not in staging or production). */
export function exposesTiming(environment: string): boolean {
  return environment === 'test' || environment === 'development';
}
