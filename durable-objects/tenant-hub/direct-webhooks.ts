/**
 * Direct first webhook attempts from the tenant's hub (issue 20): right after a write commits, the
 * hub runs the webhook fan-out for its events itself (`Outbox.handOver`, before their queue send), so
 * a delivery waits neither for the hub's next send nor for the queue's batch window (about 1 s).
 *
 * Nothing is delivered twice for it: a delivery row is unique per (endpoint, event) and only the
 * fan-out whose insert created it makes attempt 1, claimed by compare-and-set (src/events/fanout.ts).
 * So the queue consumer's fan-out of the same events finds the rows made and sends nothing; for
 * events this path did not reach (an endpoint query that failed, an evicted hub), the queue path makes
 * the attempts as before, and a row created here (claimed for attempt 1 under a lease) whose attempt
 * never started is sent by the sweeper once its lease has expired. Pages run one after another per hub, in sequence order; pages
 * handed over while one runs are merged into the next fan-out. When the tenant has an endpoint with
 * `ordering: 'sequence'`, the consumer hands its copy of the events to this hub first
 * (`fanOutAndWait`) and fans out only once the hub is done with them, so such an endpoint does not
 * get first attempts from the hub's lane and the consumer's at once.
 *
 * A tenant without enabled endpoints is remembered as such for NO_ENDPOINTS_TTL_MS, so its pages cost
 * no D1 query each (most tenants have no webhooks), and meanwhile its writes keep nothing to hand over
 * (`wants`: no timer turn per write). A tenant's enabled endpoints are kept for
 * ENDPOINTS_TTL_MS, so a busy tenant's pages do not each read them again (one D1 round trip per page,
 * issue 20); the lanes keep that copy current with what their own attempts change (failing, disabled).
 * Any change through the API (created, updated, enabled or disabled, deleted, secret rotated) forgets
 * both at once (`forgetEndpoints`, called by src/events/webhooks-service.ts); if that call is lost, the
 * queue path still delivers everything, and this one sees the change within the TTL.
 */
import { loadConfig } from '../../src/config';
import { DIRECT_INLINE_BUDGET_MS, type Endpoint, enabledEndpoints, fanOut } from '../../src/events/fanout';
import type { OutboxEvent } from './sync-log';

export const NO_ENDPOINTS_TTL_MS = 5_000;
/** How long a tenant's enabled endpoints, once read, serve its next pages (unless forgotten first). */
export const ENDPOINTS_TTL_MS = 2_000;

/** Events one fan-out takes at most (pages that piled up behind a running one are merged up to this). */
export const MAX_EVENTS_PER_FANOUT = 100;

/** Events whose fan-out this hub finished, remembered for the queue's copy of them (`fanOutAndWait`). */
const DONE_KEPT = 16_384;

export class DirectWebhooks {
  /** Committed events waiting for the running fan-out to finish, in sequence order. */
  #waiting: OutboxEvent[] = [];
  /** Ids of the events waiting or in the running fan-out (an event handed over twice is queued once). */
  #queued = new Set<string>();
  /** Ids of the last DONE_KEPT events this hub fanned out (not those whose fan-out failed). */
  #done = new Set<string>();
  /** `fanOutAndWait` calls: the ids each still waits for, and how to answer it. */
  #waiters = new Set<{ pending: Set<string>; resolve: () => void }>();
  #running: Promise<void> | null = null;
  /** Until when the tenant is known to have no enabled endpoint (0: not known). */
  #noneUntil = 0;
  /** The tenant's enabled endpoints as last read, and until when they serve (ENDPOINTS_TTL_MS). */
  #known: { endpoints: Endpoint[]; until: number } | null = null;
  /** Bumped by forgetEndpoints, so an answer read before the change cannot be remembered after it. */
  #generation = 0;

  constructor(
    private readonly env: Env,
    private readonly tenantId: () => string | null,
  ) {}

  /** Whether `deliver` would take events now: not while the tenant is known to have no enabled endpoint. */
  wants(): boolean {
    return this.#noneUntil <= Date.now();
  }

  /**
   * Queues `events` (one page handed over by the outbox, in sequence order) for their first attempts, after the pages
   * before it. Pages that arrive while a fan-out runs are merged into the next one (up to
   * MAX_EVENTS_PER_FANOUT events), so under load a fan-out's fixed cost (the endpoint query, the
   * insert batch, the claims) is shared by many events instead of paid per page.
   */
  deliver(events: OutboxEvent[]): void {
    const tenantId = this.tenantId();
    if (tenantId === null || events.length === 0 || !this.wants()) return;
    this.#enqueue(tenantId, events);
  }

  /**
   * The queue consumer's copy of `events` (src/events/sinks.ts): fans out those this hub has not, in
   * its one lane per endpoint, and resolves once every one of them is done (fanned out, or its
   * fan-out failed). The consumer's own fan-out after it then finds the rows made and sends nothing
   * to those endpoints, so an endpoint that wants `ordering: 'sequence'` gets its first attempts
   * from one sender, in order, instead of from this hub and the consumer at once.
   */
  fanOutAndWait(events: OutboxEvent[]): Promise<void> {
    const tenantId = this.tenantId();
    if (tenantId === null || this.#noneUntil > Date.now()) return Promise.resolve();
    const pending = new Set(events.filter((e) => !this.#done.has(e.id)).map((e) => e.id));
    if (pending.size === 0) return Promise.resolve();
    return new Promise((resolve) => {
      this.#waiters.add({ pending, resolve });
      this.#enqueue(tenantId, events);
    });
  }

  /** Queues the events not done, waiting or running already, keeping the queue in sequence order. */
  #enqueue(tenantId: string, events: OutboxEvent[]): void {
    let sorted = true;
    for (const event of events) {
      if (this.#queued.has(event.id) || this.#done.has(event.id)) continue;
      this.#queued.add(event.id);
      const last = this.#waiting.at(-1);
      if (last !== undefined && last.sequence > event.sequence) sorted = false;
      this.#waiting.push(event);
    }
    // The consumer's copy can arrive after a later page: the lanes still send in sequence order.
    if (!sorted) this.#waiting.sort((a, b) => a.sequence - b.sequence);
    if (this.#waiting.length > 0) this.#running ??= this.#drain(tenantId);
  }

  async #drain(tenantId: string): Promise<void> {
    try {
      while (this.#waiting.length > 0) {
        const batch = this.#waiting.splice(0, MAX_EVENTS_PER_FANOUT);
        // The queue path covers whatever this attempt did not do (see above).
        const ok = await this.#fanOut(tenantId, batch).then(
          () => true,
          () => false,
        );
        this.#finished(batch, ok);
      }
    } finally {
      this.#running = null;
    }
  }

  /** `batch` was fanned out (`ok`) or its fan-out failed: remember the former and answer the waiters. */
  #finished(batch: readonly OutboxEvent[], ok: boolean): void {
    for (const event of batch) {
      this.#queued.delete(event.id);
      if (!ok) continue;
      this.#done.add(event.id);
      if (this.#done.size > DONE_KEPT) this.#done.delete(this.#done.values().next().value!);
    }
    for (const waiter of this.#waiters) {
      for (const event of batch) waiter.pending.delete(event.id);
      if (waiter.pending.size === 0) {
        this.#waiters.delete(waiter);
        waiter.resolve();
      }
    }
  }

  async #fanOut(tenantId: string, events: OutboxEvent[]): Promise<void> {
    if (this.#noneUntil > Date.now()) return;
    const asked = Date.now();
    let endpoints = this.#known !== null && this.#known.until > asked ? this.#known.endpoints : null;
    if (endpoints === null) {
      const generation = this.#generation;
      endpoints = await enabledEndpoints(this.env, tenantId);
      // An answer read before a change is not remembered after it.
      if (generation === this.#generation) {
        if (endpoints.length === 0) this.#noneUntil = asked + NO_ENDPOINTS_TTL_MS;
        else this.#known = { endpoints, until: asked + ENDPOINTS_TTL_MS };
      }
      if (endpoints.length === 0) return;
    }
    // A lane that disabled its endpoint (src/events/attempt.ts) updated this copy: skip it from now on.
    const enabled = endpoints.filter((ep) => ep.enabled);
    if (enabled.length === 0) return;
    await fanOut(this.env, loadConfig(this.env), tenantId, events, { endpoints: enabled, inlineBudgetMs: DIRECT_INLINE_BUDGET_MS });
  }

  /** An endpoint was created, changed or deleted: look again on the next page. */
  forgetEndpoints(): void {
    this.#noneUntil = 0;
    this.#known = null;
    this.#generation++;
  }

  /** Resolves when every page handed over so far is done (tests, shutdown). */
  async idle(): Promise<void> {
    while (this.#running !== null) await this.#running;
  }
}
