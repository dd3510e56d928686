/**
 * Work the hub does after its writes (tenant-hub.ts: the sync push, the webhooks' hand-over, and the
 * queue send with the schedule), run right after the current call returns: one at a time, at most one
 * waiting, each starting at least `intervalMs` after the one before (0: no spacing). Requests that come
 * meanwhile share the next run; the first request after a quiet spell runs at once (issue 20: under
 * load almost every task create paid a queue send of its own).
 */
export class FollowUp {
  #scheduled = false;
  #running = false;
  /** A request came while a run was on: one more run follows it. */
  #again = false;
  #startedAt = Number.NEGATIVE_INFINITY;

  /** `run`'s promise settles when the follow-up is done; a rejection or throw is the caller's to have handled (it is dropped here). */
  constructor(
    private readonly run: () => Promise<unknown>,
    private readonly intervalMs: number,
  ) {}

  request(): void {
    if (this.#running) {
      this.#again = true;
      return;
    }
    if (this.#scheduled) return;
    this.#scheduled = true;
    setTimeout(() => this.#start(), Math.max(0, this.#startedAt + this.intervalMs - Date.now()));
  }

  #start(): void {
    this.#scheduled = false;
    this.#startedAt = Date.now();
    this.#running = true;
    // A run that throws before returning its promise counts as one that rejected.
    Promise.resolve()
      .then(() => this.run())
      .catch(() => undefined)
      .finally(() => {
        this.#running = false;
        if (this.#again) {
          this.#again = false;
          this.request();
        }
      });
  }
}
