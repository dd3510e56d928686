/**
 * Direct first webhook attempts from the tenant's hub (issue 20): the moment the hub's alarm has
 * handed a page of events to the EVENTS queue, it also runs the webhook fan-out for that page itself,
 * so a delivery does not wait for the queue's batch window (about 1 s) before its first attempt.
 *
 * Nothing is delivered twice for it: a delivery row is unique per (endpoint, event) and only the
 * fan-out whose insert created it makes attempt 1, claimed by compare-and-set (src/events/fanout.ts).
 * So the queue consumer's fan-out of the same events finds the rows made and sends nothing; for
 * events this path did not reach (an endpoint query that failed, an evicted hub), the queue path makes
 * the attempts as before, and a row created here whose attempt never started is pending and unclaimed,
 * which the sweeper re-enqueues. Pages run one after another per hub, in sequence order.
 */
import { loadConfig } from '../../src/config';
import { fanOut } from '../../src/events/fanout';
import type { OutboxEvent } from './sync-log';

export class DirectWebhooks {
  #chain: Promise<void> = Promise.resolve();

  constructor(
    private readonly env: Env,
    private readonly tenantId: () => string | null,
  ) {}

  /** Queues `events` (one published page, in sequence order) for their first attempts, after the pages before it. */
  deliver(events: OutboxEvent[]): void {
    const tenantId = this.tenantId();
    if (tenantId === null || events.length === 0) return;
    this.#chain = this.#chain.then(() =>
      fanOut(this.env, loadConfig(this.env), tenantId, events).then(
        () => undefined,
        // The queue path covers whatever this attempt did not do (see above).
        () => undefined,
      ),
    );
  }

  /** Resolves when every page handed over so far is done (tests, shutdown). */
  idle(): Promise<void> {
    return this.#chain;
  }
}
