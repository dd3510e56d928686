/**
 * Direct first webhook attempts from the tenant's hub (issue 20): the moment the hub has
 * handed a page of events to the EVENTS queue, it also runs the webhook fan-out for that page itself,
 * so a delivery does not wait for the queue's batch window (about 1 s) before its first attempt.
 *
 * Nothing is delivered twice for it: a delivery row is unique per (endpoint, event) and only the
 * fan-out whose insert created it makes attempt 1, claimed by compare-and-set (src/events/fanout.ts).
 * So the queue consumer's fan-out of the same events finds the rows made and sends nothing; for
 * events this path did not reach (an endpoint query that failed, an evicted hub), the queue path makes
 * the attempts as before, and a row created here whose attempt never started is pending and unclaimed,
 * which the sweeper re-enqueues. Pages run one after another per hub, in sequence order; pages
 * published while one runs are merged into the next fan-out.
 *
 * A tenant without enabled endpoints is remembered as such for NO_ENDPOINTS_TTL_MS, so its pages cost
 * no D1 query each (most tenants have no webhooks). A tenant's enabled endpoints are kept for
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
const DONE_KEPT = 4_096;

/** A `fanOutAndWait` call: its events not yet fanned out, and the endpoints every one of them reached so far. */
interface Waiter {
  pending: Set<string>;
  /** Endpoints every fan-out of its events covered; null until the first one. */
  covered: Set<string> | null;
  resolve: (endpointIds: string[]) => void;
}

export class DirectWebhooks {
  /** Published events waiting for the running fan-out to finish, in sequence order. */
  #waiting: OutboxEvent[] = [];
  /** Ids of the events waiting or in the running fan-out (an event handed over twice is queued once). */
  #queued = new Set<string>();
  /** Event id → the endpoints its finished fan-out covered ([] when it covered none or failed); the last DONE_KEPT. */
  #done = new Map<string, readonly string[]>();
  #waiters = new Set<Waiter>();
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

  /**
   * Queues `events` (one published page, in sequence order) for their first attempts, after the pages
   * before it. Pages that arrive while a fan-out runs are merged into the next one (up to
   * MAX_EVENTS_PER_FANOUT events), so under load a fan-out's fixed cost (the endpoint query, the
   * insert batch, the claims) is shared by many events instead of paid per page.
   */
  deliver(events: OutboxEvent[]): void {
    const tenantId = this.tenantId();
    if (tenantId === null || events.length === 0 || this.#noneUntil > Date.now()) return;
    this.#enqueue(tenantId, events);
  }

  /**
   * The queue consumer's copy of `events` (src/events/sinks.ts): fans out those this hub has not, in
   * its one lane per endpoint, and answers, once every one of them is done, the endpoints all of their
   * fan-outs covered. The consumer sends itself only to the others, so an endpoint that wants
   * `ordering: 'sequence'` gets its first attempts from one sender, in order, instead of from this
   * hub and the consumer at once. [] (the consumer covers everything) when this hub cannot tell.
   */
  fanOutAndWait(events: OutboxEvent[]): Promise<string[]> {
    const tenantId = this.tenantId();
    if (tenantId === null || this.#noneUntil > Date.now()) return Promise.resolve([]);
    return new Promise((resolve) => {
      const waiter: Waiter = { pending: new Set(), covered: null, resolve };
      const fresh: OutboxEvent[] = [];
      for (const event of events) {
        const done = this.#done.get(event.id);
        if (done !== undefined) absorb(waiter, done);
        else {
          waiter.pending.add(event.id);
          if (!this.#queued.has(event.id)) fresh.push(event);
        }
      }
      if (waiter.pending.size === 0) return settle(waiter);
      this.#waiters.add(waiter);
      if (fresh.length > 0) this.#enqueue(tenantId, fresh);
    });
  }

  #enqueue(tenantId: string, events: OutboxEvent[]): void {
    let sorted = true;
    for (const event of events) {
      if (this.#queued.has(event.id)) continue;
      this.#queued.add(event.id);
      const last = this.#waiting.at(-1);
      if (last !== undefined && last.sequence > event.sequence) sorted = false;
      this.#waiting.push(event);
    }
    // The consumer's copy can arrive after a later page: the lanes still send in sequence order.
    if (!sorted) this.#waiting.sort((a, b) => a.sequence - b.sequence);
    this.#running ??= this.#drain(tenantId);
  }

  async #drain(tenantId: string): Promise<void> {
    try {
      while (this.#waiting.length > 0) {
        const batch = this.#waiting.splice(0, MAX_EVENTS_PER_FANOUT);
        // The queue path covers whatever this attempt did not do (see above).
        const covered = await this.#fanOut(tenantId, batch).catch(() => []);
        this.#finished(batch, covered);
      }
    } finally {
      this.#running = null;
    }
  }

  /** `batch` was fanned out to `covered` (all of them, or none on failure): remember it and answer the waiters. */
  #finished(batch: readonly OutboxEvent[], covered: readonly string[]): void {
    for (const event of batch) {
      this.#queued.delete(event.id);
      this.#done.set(event.id, covered);
      if (this.#done.size > DONE_KEPT) this.#done.delete(this.#done.keys().next().value!);
    }
    for (const waiter of this.#waiters) {
      for (const event of batch) if (waiter.pending.delete(event.id)) absorb(waiter, covered);
      if (waiter.pending.size === 0) {
        this.#waiters.delete(waiter);
        settle(waiter);
      }
    }
  }

  /** Fans `events` out; answers the endpoints it covered (every enabled one it knew of), [] when it did nothing. */
  async #fanOut(tenantId: string, events: OutboxEvent[]): Promise<string[]> {
    if (this.#noneUntil > Date.now()) return [];
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
      if (endpoints.length === 0) return [];
    }
    // A lane that disabled its endpoint (src/events/attempt.ts) updated this copy: skip it from now on.
    const enabled = endpoints.filter((ep) => ep.enabled);
    if (enabled.length === 0) return [];
    await fanOut(this.env, loadConfig(this.env), tenantId, events, { endpoints: enabled, inlineBudgetMs: DIRECT_INLINE_BUDGET_MS });
    return enabled.map((ep) => ep.id);
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

/** Narrows what `waiter`'s events reached to what this fan-out of some of them reached too. */
function absorb(waiter: Waiter, covered: readonly string[]): void {
  waiter.covered = waiter.covered === null ? new Set(covered) : new Set(covered.filter((id) => waiter.covered!.has(id)));
}

function settle(waiter: Waiter): void {
  waiter.resolve([...(waiter.covered ?? [])]);
}
