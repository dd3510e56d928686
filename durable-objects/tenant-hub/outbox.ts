/**
 * Publishes the hub's outbox to the EVENTS queue in order; marks rows only after the queue accepted them.
 * `deliver` (the hub's direct first webhook attempts, ./direct-webhooks.ts) sees each event once, in
 * sequence order, mostly without waiting for its send: what `commit` appended once the hub calls
 * `handOver` (right after the write). While the outbox must read its table (after start-up, a refused
 * send, an event appended outside `commit`), each page it reads is handed over once the queue accepted
 * it, the committed events in it included. So the hub can send to the queue less often under load
 * (tenant-hub.ts `PUBLISH_INTERVAL_MS`) without holding up a webhook. An event handed over before a
 * refused send is handed over again with the table's page; the fan-out takes each id once.
 *
 * The events a write appends are known when it commits (`commit`), so while the hub knows every
 * pending event it publishes them without reading the table back (issue 20: that read was a sixth of a
 * task create's publish). It reads the table when it cannot know: after start-up, after a send the
 * queue refused, when more than a page waits, and after an event appended outside `commit` (the hub
 * runs every transaction through it; the table read keeps anything that bypasses it from being lost).
 *
 * A sent page is marked published by the next write's own transaction, or MARK_AFTER_MS later when no
 * write comes, instead of by a statement of its own per page (issue 20: another sixth). Should the
 * object die in between, its next publish sends those events again: consumers take each event id once
 * (src/events/sinks.ts), as after any at-least-once redelivery.
 */
import { markAttempt, markPublished, type OutboxEvent, pendingEvents, takeUntracked, trackEvents } from './sync-log';

const BATCH = 100; // Queues' sendBatch limit

/** Runs a write in one transaction (`Outbox.commit`), for code that writes on the hub's behalf. */
export type Commit = <T>(write: () => T) => T;
/** Sent pages wait at most this long for a write's transaction to mark them published. */
export const MARK_AFTER_MS = 200;

export class Outbox {
  /** Committed and not yet sent, in sequence order; the whole of the table's pending rows while `#known`. */
  #fresh: OutboxEvent[] = [];
  #known = false;

  /** Committed and not yet handed to `deliver`, in sequence order (empty without `deliver`, and while it wants none). */
  #toHandOver: OutboxEvent[] = [];

  /**
   * `wants` says whether `deliver` would take events committed now: while it says no (a tenant known to
   * have no webhook endpoint), commits keep none for it, and the hub schedules no hand-over for them.
   */
  constructor(
    private readonly storage: DurableObjectStorage,
    private readonly queue: Queue,
    private readonly deliver?: (events: OutboxEvent[]) => void,
    private readonly wants: () => boolean = () => true,
  ) {}

  /** Sent events not yet marked published: one range, as pages go out in sequence order. */
  #unmarked: { first: number; last: number } | null = null;
  #markTimer: ReturnType<typeof setTimeout> | undefined;

  /**
   * Runs `write` in one transaction, with the marks of pages sent since the last one, and keeps the
   * events it appended once it committed. A write that throws was rolled back, marks and events with it.
   */
  readonly commit: Commit = (write) => {
    const sql = this.storage.sql;
    const marks = this.#unmarked;
    const done = trackEvents(sql, () =>
      this.storage.transactionSync(() => {
        if (marks) markPublished(sql, marks.first, marks.last, new Date().toISOString());
        return write();
      }),
    );
    if (marks && this.#unmarked === marks) {
      this.#unmarked = null;
      if (this.#markTimer !== undefined) clearTimeout(this.#markTimer);
      this.#markTimer = undefined;
    }
    this.#fresh.push(...done.events);
    if (this.deliver && done.events.length > 0 && this.wants()) this.#toHandOver.push(...done.events);
    return done.result;
  };

  /** Whether committed events wait for `handOver` (none while `wants` said no when they committed). */
  handOverPending(): boolean {
    return this.#toHandOver.length > 0;
  }

  /** A page read from the table is being sent: it is handed over first, once sent. */
  #tablePage = false;

  /**
   * Hands the events committed since the last call to `deliver`, whether or not they were sent yet.
   * While the outbox must read its table (after start-up, a refused send or an event appended outside
   * `commit`), they wait for the next page read from it, so everything goes over in sequence order.
   */
  handOver(): void {
    if (this.#toHandOver.length === 0) return;
    if (takeUntracked(this.storage.sql)) this.#known = false;
    if (!this.#known || this.#tablePage) return;
    const events = this.#toHandOver;
    this.#toHandOver = [];
    this.deliver!(events);
  }

  /** The highest sequence sent to the queue and not yet marked (0: none); pending rows above it still wait. */
  sentThrough(): number {
    return this.#unmarked?.last ?? 0;
  }

  /** Marks the pages sent so far published, now. */
  flushMarks(): void {
    if (this.#markTimer !== undefined) clearTimeout(this.#markTimer);
    this.#markTimer = undefined;
    const marks = this.#unmarked;
    if (!marks) return;
    markPublished(this.storage.sql, marks.first, marks.last, new Date().toISOString());
    this.#unmarked = null;
  }

  #sent(first: number, last: number): void {
    this.#unmarked = { first: this.#unmarked?.first ?? first, last };
    this.#markTimer ??= setTimeout(() => {
      this.#markTimer = undefined;
      try {
        this.flushMarks();
      } catch {
        // Still unmarked: the next write, publish or timer marks them.
      }
    }, MARK_AFTER_MS);
  }

  /** Sends every pending event, a page at a time; returns how many the queue accepted. Call one at a time. */
  async publish(): Promise<number> {
    const sql = this.storage.sql;
    let published = 0;
    for (;;) {
      if (takeUntracked(sql)) this.#known = false;
      let events: OutboxEvent[];
      const fromMemory = this.#known;
      if (fromMemory) events = this.#fresh.splice(0, BATCH);
      else {
        // Sees every committed event, the remembered ones included (and, once marked, none already sent).
        this.flushMarks();
        events = pendingEvents(sql, BATCH);
        this.#fresh = [];
        this.#known = events.length < BATCH;
        this.#tablePage = events.length > 0;
      }
      if (events.length === 0) return published;
      const sequences = events.map((e) => e.sequence);
      try {
        await this.queue.sendBatch(events.map((e) => ({ body: e, contentType: 'json' as const })));
      } catch {
        // Left pending: the next alarm (or the sweeper) publishes them again. At-least-once by design.
        this.#known = false;
        this.#tablePage = false;
        this.flushMarks();
        this.storage.transactionSync(() => markAttempt(sql, sequences));
        return published;
      }
      // The page is a prefix of the pending rows, so the range sent so far holds no unsent pending event.
      this.#sent(sequences[0]!, sequences[sequences.length - 1]!);
      // Events from memory were (or will be) handed over by `handOver`; a page from the table goes now,
      // then what was committed after it (when no older page waits).
      if (!fromMemory) {
        this.#tablePage = false;
        if (this.deliver) {
          const handed = new Set(events.map((e) => e.id));
          this.#toHandOver = this.#toHandOver.filter((e) => !handed.has(e.id));
          this.deliver(events);
          this.handOver();
        }
      }
      published += events.length;
      // A full page (read from the table) may have more behind it; events committed during the send wait in #fresh.
      if (events.length < BATCH && this.#fresh.length === 0) return published;
    }
  }
}
