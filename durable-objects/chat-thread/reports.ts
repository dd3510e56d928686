/**
 * The chat's report outbox to its tenant's hub: the chat summary (the hub's chat index, the sync
 * change) and, when a turn ends, its `chat.turn.*` event. Queued inside the change's transaction,
 * delivered in order one at a time right after it (the report's row id is its revision: the hub
 * never lets an older summary overwrite a newer one), retried from the alarm with backoff.
 */
import type { ChatReport, TurnStatus } from '../../src/chat/model';
import type { MapperState, TurnEnd } from '../../src/chat/run-chunks';
import { newId } from '../../src/lib/ids';
import { tenantHubStub } from '../../src/lib/stubs';
import * as store from './store';

const RETRY_MS = [2_000, 10_000, 60_000, 300_000];

export class ChatReports {
  #delivery: Promise<void> = Promise.resolve();

  constructor(
    private readonly sql: SqlStorage,
    private readonly env: Env,
    /** Arms the object's alarm for a retry at this time. */
    private readonly retryAt: (at: number) => Promise<void>,
  ) {}

  /** Queues the chat's current summary (and an event); call inside the change's transaction. */
  queue(event: ChatReport['event'] | null, at: string): void {
    const summary = store.summaryOf(this.sql);
    if (!summary) return;
    store.enqueueReport(this.sql, { id: newId('crp'), chatId: summary.id, summary, ...(event ? { event } : {}), at }, Date.now());
  }

  /** Delivers what is due, after any delivery in progress. */
  deliver(): Promise<void> {
    this.#delivery = this.#delivery.then(() => this.#deliverDue()).catch(() => undefined);
    return this.#delivery;
  }

  nextAt(): number | null {
    return store.nextReportAt(this.sql);
  }

  async #deliverDue(): Promise<void> {
    const c = store.chatRow(this.sql);
    if (!c) return;
    for (const r of store.dueReports(this.sql, Date.now())) {
      try {
        await tenantHubStub(this.env, c.tenant_id).chatChanged(c.tenant_id, { ...r.report, rev: r.id });
        store.reportDelivered(this.sql, r.id);
      } catch {
        const next = Date.now() + RETRY_MS[Math.min(r.attempts, RETRY_MS.length - 1)]!;
        store.reportFailed(this.sql, r.id, next);
        await this.retryAt(next);
        return;
      }
    }
  }
}

/** The event a turn's end is (a wait for an answer is none). */
export function turnEvent(t: store.TurnRow, status: TurnStatus, mapper: MapperState, end: TurnEnd): NonNullable<ChatReport['event']> {
  const base = { turnId: t.id, messageId: t.message_id, runId: t.run_id, usage: mapper.usage };
  if (end.kind === 'failed') return { type: 'chat.turn.failed', data: { ...base, error: end.error } };
  return { type: 'chat.turn.completed', data: { ...base, outcome: status === 'stopped' ? 'stopped' : 'completed' } };
}
