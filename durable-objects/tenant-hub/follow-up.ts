/**
 * Work the hub does after its writes (tenant-hub.ts: the sync push, the webhooks' hand-over, and the
 * queue send with the schedule), run right after the current call returns: one at a time, at most one
 * waiting, each starting at least `intervalMs` after the one before (0: no spacing). Requests that come
 * meanwhile share the next run; the first request after a quiet spell runs at once (issue 20: under
 * load almost every task create paid a queue send of its own). `request()` answers once a run that
 * started after it has finished, whatever its outcome (the runs' D1 writes wait on it: group commit).
 */
export class FollowUp {
  #scheduled = false;
  #running = false;
  /** A request came while a run was on: one more run follows it. */
  #again = false;
  #startedAt = Number.NEGATIVE_INFINITY;
  /** Settles when the next run to start (the one that covers the requests made until then) has finished. */
  #next: { promise: Promise<void>; resolve: () => void } | null = null;

  /** `run`'s promise settles when the follow-up is done; a rejection or throw is the caller's to have handled (it is dropped here). */
  constructor(
    private readonly run: () => Promise<unknown>,
    private readonly intervalMs: number,
  ) {}

  request(): Promise<void> {
    if (!this.#next) {
      let resolve!: () => void;
      const promise = new Promise<void>((r) => (resolve = r));
      this.#next = { promise, resolve };
    }
    const done = this.#next.promise;
    if (this.#running) {
      this.#again = true;
      return done;
    }
    if (this.#scheduled) return done;
    this.#scheduled = true;
    setTimeout(() => this.#start(), Math.max(0, this.#startedAt + this.intervalMs - Date.now()));
    return done;
  }

  #start(): void {
    this.#scheduled = false;
    this.#startedAt = Date.now();
    this.#running = true;
    const covered = this.#next;
    this.#next = null;
    // A run that throws before returning its promise counts as one that rejected.
    Promise.resolve()
      .then(() => this.run())
      .catch(() => undefined)
      .finally(() => {
        this.#running = false;
        covered?.resolve();
        if (this.#again) {
          this.#again = false;
          this.request();
        }
      });
  }
}
