/**
 * TenantHub: one per tenant (addressed by tenant id), the single writer of the
 * tenant's data plane in its own SQLite: tasks, their change log (sync
 * versions), reminders, notifications and the event outbox; hibernatable sync
 * sockets. A write's events go to its webhooks right after it and to the queue
 * with its follow-up, spaced PUBLISH_INTERVAL_MS apart; one alarm serves
 * reminders, background checks, retention and, as the backstop, publication.
 * The Worker authenticates and validates; the hub's RPC methods do the work.
 */
import { DurableObject } from 'cloudflare:workers';
import type { ChatReport, ChatSummary } from '../../src/chat/model';
import type { Dataset, Example, ExampleDraft, ExampleResult, Experiment, ExperimentWithResults } from '../../src/evals/model';
import type {
  Feedback,
  FeedbackFilter,
  FeedbackKey,
  FeedbackKeyCreate,
  FeedbackKeyPatch,
  FeedbackPatch,
  FeedbackWrite,
  ProviderScore,
  StatsQuery,
} from '../../src/feedback/model';
import { type RunReport, type RunSummary, reportTenant, TERMINAL } from '../../src/flows/run-model';
import type { Result } from '../../src/lib/result';
import { flowRunStub } from '../../src/lib/stubs';
import type { Actor, HistoryEntry, Notification, Task, TaskCreate, TaskFilter, TaskPatch } from '../../src/tasks/model';
import { migrateDoStorage } from '../shared/migrations';
import { listChats, recordChatReport } from './chats';
import * as ds from './datasets';
import { DirectWebhooks } from './direct-webhooks';
import * as ex from './experiments';
import * as fb from './feedback';
import { readFeedback, readKey } from './feedback-store';
import { FollowUp } from './follow-up';
import { type HistorySeed, seedHistory } from './history-seed';
import { type BeginResult, beginKey, completeKey, releaseKey, type StoredResponse } from './idempotency';
import {
  createSystemNotification,
  listNotificationsFor,
  markReadFor,
  type Reader,
  readNotificationFor,
  type SystemNotificationInput,
} from './notifications';
import { Outbox } from './outbox';
import { appendForwarded, type ForwardedEvent } from './outbox-forwarded';
import { deliverDueReminders } from './reminders';
import { RETENTION_INTERVAL_MS, RETENTION_RETRY_MS, retentionDueAt, runRetention } from './retention';
import {
  admit,
  admitChildren,
  type ChildAdmission,
  childChecked,
  dueChildChecks,
  listSlots,
  liveChildCount,
  type RunSlot,
  recordRunChange,
  release,
  releaseChildren,
} from './run-admission';
import { stageRunIndex, writeRunIndex } from './run-index';
import { earliest, readSchedule } from './schedule';
import { HUB_MIGRATIONS } from './schema';
import { socketServiceCtx } from './socket-caller';
import { issueTicket, redeemTicket, type TicketCaller } from './stream-tickets';
import {
  type ChangePage,
  changesAfter,
  changesSince,
  latestVersion,
  type OutboxEvent,
  type ResyncSignal,
  type SnapshotPage,
  type SnapshotPosition,
  snapshotPage,
} from './sync-log';
import { handleSocketMessage } from './sync-mutations';
import { attach, attachmentOf, broadcast, closeQuietly, type SocketAttachment, sendCatchUp } from './sync-sockets';
import * as ops from './tasks';
import { listHistory, listTasks, listTasksJson, readTask } from './tasks-store';

/** An alarm this soon after a publish that failed; also the backstop of a write's direct publish. */
const OUTBOX_RETRY_MS = 2_000;
/**
 * A write's follow-up (the queue send, the schedule) starts at least this long after the one before:
 * the first write after a quiet spell publishes at once, and writes within the interval share the next
 * send (issue 20: under load almost every task create paid a send of its own). The queue's own batch
 * window is 1 s, and the write's webhooks do not wait for the send (`Outbox.handOver`). The alarm's
 * publication is not spaced.
 */
const PUBLISH_INTERVAL_MS = 100;
/** Experiment start checks per alarm (each is one call to a FlowRun); the rest wait for the next alarm. */
const EXPERIMENT_CHECKS_PER_ALARM = 20;
/** Child-run place checks per alarm (each is one call to a FlowRun); the rest wait for the next alarm. */
const CHILD_CHECKS_PER_ALARM = 20;

/** An HTTP sync or snapshot page stops at about this much data, whatever its `limit`. */
const PAGE_MAX_BYTES = 1 << 20;

export class TenantHub extends DurableObject<Env> {
  #schemaVersion = 0;
  #tenantId: string | null = null;
  /** First webhook attempts made right after a write, without the queue's batch window (./direct-webhooks.ts). */
  readonly #webhooks = new DirectWebhooks(this.env, () => this.#tenantId);
  /**
   * Every hub transaction runs through `#outbox.commit`, which carries the marks of sent events and keeps
   * the events the transaction appended, so publishing them needs no read of the table, and handing them
   * to the webhooks needs no send first (./outbox.ts).
   */
  readonly #outbox = new Outbox(
    this.ctx.storage,
    this.env.EVENTS,
    (events) => this.#webhooks.deliver(events),
    () => this.#webhooks.wants(),
  );
  /**
   * The last change version pushed to the sockets; null while none is open (pushes are skipped then,
   * issue 20: no query per write), set to the log's head when the next socket connects.
   */
  #pushed: number | null = null;
  /** The last retention pass filled a batch: the alarm comes back soon for the rest. */
  #retentionBacklog = false;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    void ctx.blockConcurrencyWhile(async () => {
      this.#schemaVersion = migrateDoStorage(ctx.storage, HUB_MIGRATIONS);
      const row = ctx.storage.sql.exec<{ value: string }>(`SELECT value FROM hub_meta WHERE key = 'tenant_id'`).toArray()[0];
      this.#tenantId = row?.value ?? null;
      this.#pushed = ctx.getWebSockets().length > 0 ? latestVersion(ctx.storage.sql) : null;
      this.#dueAlarm = await ctx.storage.getAlarm();
    });
    ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair('{"type":"ping"}', '{"type":"pong"}'));
  }

  // ---- platform ------------------------------------------------------------

  /** Readiness probe: proves the object is reachable and its SQLite answers. */
  async ping(): Promise<{ ok: true; schemaVersion: number; sqlite: number }> {
    const row = this.ctx.storage.sql.exec<{ one: number }>('SELECT 1 AS one').one();
    return { ok: true, schemaVersion: this.#schemaVersion, sqlite: row.one };
  }

  /** The hub learns its tenant on first use and refuses to serve another. */
  #bind(tenantId: string): void {
    if (this.#tenantId === tenantId) return;
    if (this.#tenantId !== null) throw new Error(`TenantHub of ${this.#tenantId} addressed as ${tenantId}`);
    this.ctx.storage.sql.exec(`INSERT OR REPLACE INTO hub_meta (key, value) VALUES ('tenant_id', ?)`, tenantId);
    this.#tenantId = tenantId;
  }

  #op(tenantId: string, actor: Actor): ops.OpContext {
    this.#bind(tenantId);
    return { sql: this.ctx.storage.sql, tenantId, actor, now: Date.now() };
  }

  /** Runs a mutation in one transaction, then pushes its changes and schedules publication. */
  async #mutate<T>(tenantId: string, actor: Actor, fn: (ctx: ops.OpContext) => Result<T>): Promise<Result<T>> {
    const ctx = this.#op(tenantId, actor);
    const result = this.#outbox.commit(() => fn(ctx));
    if (result.ok) await this.#afterWrite();
    return result;
  }

  /**
   * After a committed write: its changes go to the sockets and its events to the webhooks right after
   * this call returns (writes in the same turn share one push and one hand-over), and its events to the
   * queue with the next follow-up (#followUp), without waiting for an alarm (issue 20).
   * Before the call returns, an alarm no later than OUTBOX_RETRY_MS from now is durably set, so events
   * are still published if this instance dies first; the publish re-arms it to whatever else is due.
   */
  async #afterWrite(): Promise<void> {
    // null: no socket was open at the last push (a connect sets it again).
    if (this.#pushed !== null) this.#pushes.request();
    await this.#armBackstop();
    // A tenant known to have no webhook endpoint hands nothing over: no turn of its own per write (issue 20).
    if (this.#outbox.handOverPending()) this.#handOvers.request();
    this.#followUp.request();
  }

  /** An alarm no later than OUTBOX_RETRY_MS from now, durably set: the backstop of a write's follow-up work. */
  async #armBackstop(): Promise<void> {
    const by = Date.now() + OUTBOX_RETRY_MS;
    if (this.#dueAlarm === null || this.#dueAlarm > by) {
      this.#dueAlarm = by;
      try {
        await this.ctx.storage.setAlarm(by);
      } catch (err) {
        this.#dueAlarm = null;
        throw err;
      }
    }
  }

  /**
   * The runs' D1 rows (./run-index.ts): one write at a time (the alarm's too); a report waits for the
   * write after it, and the reports staged during one write share the next (group commit).
   */
  readonly #runIndex = new FollowUp(async () => {
    const { more, failed } = await writeRunIndex(this.ctx.storage, this.env.DB);
    // Due rows left past one write's bound: the next write follows it.
    if (more) void this.#runIndex.request();
    // A failed write: the alarm (and the sweeper's registry) take the retry time.
    if (failed > 0) this.#followUp.request();
  }, 0);

  /** When the alarm will fire (read at start-up, then kept as this instance sets it); null: none set. */
  #dueAlarm: number | null = null;

  /**
   * A write's follow-up (./follow-up.ts): one at a time, at most one waiting, each at least
   * PUBLISH_INTERVAL_MS after the one before, so writes that commit meanwhile share the next one (one
   * send, one schedule read for all their events) instead of one each (issue 20). A failure leaves the
   * events pending and the backstop alarm set: it publishes them.
   */
  readonly #followUp = new FollowUp(() => (this.#tenantId === null ? Promise.resolve() : this.#settle()), PUBLISH_INTERVAL_MS);
  /** Written events to the webhooks right after the current call returns; writes in one turn share one. */
  readonly #handOvers = new FollowUp(async () => this.#outbox.handOver(), 0);

  /** A write's follow-up, and the end of every alarm: webhooks, publish, a retention pass when one is due, re-arm. */
  async #settle(forceRegistry = false): Promise<number> {
    this.#outbox.handOver();
    const published = await this.#publish();
    this.#retain();
    await this.#arm(forceRegistry);
    return published;
  }

  /** Publications run one at a time (a write's and the alarm's), so no page is sent twice by this instance. */
  #publishing: Promise<unknown> = Promise.resolve();

  #publish(): Promise<number> {
    const run = this.#publishing.then(() => this.#outbox.publish());
    this.#publishing = run.catch(() => undefined);
    return run;
  }

  /**
   * Pushes new changes to the sync sockets right after the current call returns, so a write's own
   * response never waits for a broadcast to every socket (issue 20, 1,000 sockets); writes in the
   * same turn share one push. Versions are read at push time, so frames stay in order, and a push that
   * fails leaves `#pushed` where it was: the next one sends what it did not.
   */
  readonly #pushes = new FollowUp(async () => this.#push(), 0);

  #push(): void {
    if (this.#pushed === null) return;
    const sockets = this.ctx.getWebSockets();
    if (sockets.length === 0) {
      this.#pushed = null;
      return;
    }
    const fresh = changesAfter(this.ctx.storage.sql, this.#pushed);
    if (fresh.length > 0) {
      broadcast(sockets, fresh);
      this.#pushed = fresh[fresh.length - 1]!.version;
    }
  }

  // ---- tasks (RPC) ---------------------------------------------------------

  async createTask(tenantId: string, actor: Actor, input: TaskCreate): Promise<Result<Task>> {
    return this.#mutate(tenantId, actor, (ctx) => ops.createTask(ctx, input));
  }

  async getTask(tenantId: string, id: string): Promise<Result<Task>> {
    this.#bind(tenantId);
    const t = readTask(this.ctx.storage.sql, id);
    return t ? { ok: true, value: t } : { ok: false, code: 'not_found', detail: `Task ${id} not found.` };
  }

  async listTasks(tenantId: string, filter: TaskFilter): Promise<{ data: Task[]; nextCursor: string | null }> {
    this.#bind(tenantId);
    return listTasks(this.ctx.storage.sql, filter);
  }

  /** `listTasks`' page as JSON text (the HTTP list writes it into its answer as it is). */
  async listTasksJson(tenantId: string, filter: TaskFilter): Promise<{ json: string; nextCursor: string | null }> {
    this.#bind(tenantId);
    return listTasksJson(this.ctx.storage.sql, filter);
  }

  async updateTask(tenantId: string, actor: Actor, id: string, patch: TaskPatch, ifMatch?: number): Promise<Result<Task>> {
    return this.#mutate(tenantId, actor, (ctx) => ops.updateTask(ctx, id, patch, ifMatch));
  }

  async completeTask(tenantId: string, actor: Actor, id: string, ifMatch?: number): Promise<Result<Task>> {
    return this.#mutate(tenantId, actor, (ctx) => ops.completeTask(ctx, id, ifMatch));
  }

  async reopenTask(tenantId: string, actor: Actor, id: string, ifMatch?: number): Promise<Result<Task>> {
    return this.#mutate(tenantId, actor, (ctx) => ops.reopenTask(ctx, id, ifMatch));
  }

  async deleteTask(tenantId: string, actor: Actor, id: string, ifMatch?: number): Promise<Result<{ version: number }>> {
    return this.#mutate(tenantId, actor, (ctx) => ops.deleteTask(ctx, id, ifMatch));
  }

  async taskHistory(
    tenantId: string,
    id: string,
    limit: number,
    after?: string,
  ): Promise<Result<{ data: HistoryEntry[]; nextCursor: string | null }>> {
    this.#bind(tenantId);
    if (!readTask(this.ctx.storage.sql, id)) return { ok: false, code: 'not_found', detail: `Task ${id} not found.` };
    return { ok: true, value: listHistory(this.ctx.storage.sql, id, limit, after) };
  }

  // ---- notifications (RPC) -------------------------------------------------

  /** The caller's notifications (their audience, their read state), newest first. */
  async listNotifications(
    tenantId: string,
    reader: Reader,
    opts: { unread?: boolean | undefined; limit: number; after?: string | undefined },
  ) {
    this.#bind(tenantId);
    return listNotificationsFor(this.ctx.storage.sql, reader, opts);
  }

  /** One notification as `reader` sees it; not_found when it is not theirs to see. */
  async getNotification(tenantId: string, reader: Reader, id: string): Promise<Result<Notification>> {
    this.#bind(tenantId);
    const n = readNotificationFor(this.ctx.storage.sql, id, reader);
    return n ? { ok: true, value: n } : { ok: false, code: 'not_found', detail: `Notification ${id} not found.` };
  }

  /** Marks a notification read for the caller only; not_found when it is not theirs to see. */
  async markNotificationRead(tenantId: string, reader: Reader, id: string): Promise<Result<Notification>> {
    this.#bind(tenantId);
    const sql = this.ctx.storage.sql;
    const n = this.#outbox.commit(() => markReadFor(sql, id, reader, Date.now()));
    return n ? { ok: true, value: n } : { ok: false, code: 'not_found', detail: `Notification ${id} not found.` };
  }

  // ---- feedback (RPC; logic in hub/feedback) ---------------------------------

  /** A feedback, dataset or experiment write in one transaction (rows, changes, events); pushes and publishes after commit. */
  async #write<T>(tenantId: string, fn: (op: fb.FeedbackOp) => Result<T>): Promise<Result<T>> {
    this.#bind(tenantId);
    const op = { sql: this.ctx.storage.sql, tenantId, now: Date.now() };
    const result = this.#outbox.commit(() => fn(op));
    if (result.ok) await this.#afterWrite();
    return result;
  }

  async createFeedbackKey(tenantId: string, input: FeedbackKeyCreate): Promise<Result<FeedbackKey>> {
    return this.#write(tenantId, (op) => fb.createKey(op, input));
  }

  async getFeedbackKey(tenantId: string, key: string): Promise<Result<FeedbackKey>> {
    this.#bind(tenantId);
    const k = readKey(this.ctx.storage.sql, key);
    return k ? { ok: true, value: k } : { ok: false, code: 'not_found', detail: `Feedback key '${key}' not found.` };
  }

  async listFeedbackKeys(tenantId: string, limit: number, after?: string) {
    this.#bind(tenantId);
    return fb.listKeys(this.ctx.storage.sql, limit, after);
  }

  async updateFeedbackKey(tenantId: string, key: string, patch: FeedbackKeyPatch): Promise<Result<FeedbackKey>> {
    return this.#write(tenantId, (op) => fb.updateKey(op, key, patch));
  }

  async deleteFeedbackKey(tenantId: string, key: string): Promise<Result<{ key: string }>> {
    return this.#write(tenantId, (op) => fb.deleteKey(op, key));
  }

  async upsertFeedback(tenantId: string, write: FeedbackWrite): Promise<Result<{ feedback: Feedback; created: boolean }>> {
    return this.#write(tenantId, (op) => fb.upsertFeedback(op, write));
  }

  async getFeedback(tenantId: string, id: string): Promise<Result<Feedback>> {
    this.#bind(tenantId);
    const f = readFeedback(this.ctx.storage.sql, id);
    return f ? { ok: true, value: f } : { ok: false, code: 'not_found', detail: `Feedback ${id} not found.` };
  }

  async listFeedback(tenantId: string, filter: FeedbackFilter) {
    this.#bind(tenantId);
    return fb.listFeedback(this.ctx.storage.sql, filter);
  }

  async updateFeedback(tenantId: string, id: string, patch: FeedbackPatch): Promise<Result<Feedback>> {
    return this.#write(tenantId, (op) => fb.updateFeedback(op, id, patch));
  }

  async deleteFeedback(tenantId: string, id: string): Promise<Result<{ id: string }>> {
    return this.#write(tenantId, (op) => fb.deleteFeedback(op, id));
  }

  async feedbackStats(tenantId: string, query: StatsQuery) {
    this.#bind(tenantId);
    return fb.stats(this.ctx.storage.sql, query);
  }

  /** Rolling per-provider scores of `key` since `since` (routing by feedback). */
  async providerScores(tenantId: string, key: string, since: string): Promise<ProviderScore[]> {
    this.#bind(tenantId);
    return fb.providerScores(this.ctx.storage.sql, key, since);
  }

  // ---- datasets and experiments (RPC; logic in hub/datasets, hub/experiments) --

  async createDataset(tenantId: string, input: { name: string; description: string | null; createdBy: string }): Promise<Result<Dataset>> {
    return this.#write(tenantId, (op) => ds.createDataset(op.sql, input, op.now));
  }

  async getDataset(tenantId: string, id: string): Promise<Result<Dataset>> {
    this.#bind(tenantId);
    const d = ds.readDataset(this.ctx.storage.sql, id);
    return d ? { ok: true, value: d } : { ok: false, code: 'not_found', detail: `Dataset ${id} not found.` };
  }

  async listDatasets(tenantId: string, limit: number, after?: string) {
    this.#bind(tenantId);
    return ds.listDatasets(this.ctx.storage.sql, limit, after);
  }

  async deleteDataset(tenantId: string, id: string): Promise<Result<{ id: string }>> {
    return this.#write(tenantId, (op) => ds.deleteDataset(op.sql, id));
  }

  async addExamples(tenantId: string, id: string, drafts: ExampleDraft[]): Promise<Result<{ dataset: Dataset; examples: Example[] }>> {
    return this.#write(tenantId, (op) => ds.addExamples(op.sql, id, drafts, op.now));
  }

  async listExamples(tenantId: string, id: string, opts: { version?: number | undefined; limit: number; after?: string | undefined }) {
    this.#bind(tenantId);
    return ds.listExamples(this.ctx.storage.sql, id, opts);
  }

  async createExperiment(tenantId: string, experiment: Experiment): Promise<Result<Experiment>> {
    return this.#write(tenantId, (op) => ex.createExperiment(op, experiment));
  }

  async getExperiment(tenantId: string, id: string): Promise<Result<ExperimentWithResults>> {
    this.#bind(tenantId);
    const e = ex.readExperiment(this.ctx.storage.sql, id);
    return e ? { ok: true, value: e } : { ok: false, code: 'not_found', detail: `Experiment ${id} not found.` };
  }

  async listExperiments(tenantId: string, limit: number, after?: string) {
    this.#bind(tenantId);
    return ex.listExperiments(this.ctx.storage.sql, limit, after);
  }

  /** The evaluation's outcome (scores as feedback, results, experiment.completed), once. */
  async completeExperiment(tenantId: string, id: string, results: ExampleResult[], ratings: FeedbackWrite[]): Promise<Result<Experiment>> {
    return this.#write(tenantId, (op) => ex.completeExperiment(op, id, results, ratings));
  }

  // ---- events, idempotency keys, system notifications (RPC; logic in hub/inbox, hub/idempotency, hub/system-notifications) ----

  /** Appends control-plane events from D1's outbox with the next sequences and publishes them. Idempotent by event id. */
  async appendEvents(tenantId: string, events: ForwardedEvent[]): Promise<{ appended: number }> {
    this.#bind(tenantId);
    const appended = this.#outbox.commit(() => appendForwarded(this.ctx.storage.sql, tenantId, events, Date.now()));
    if (appended > 0) await this.#afterWrite();
    return { appended };
  }

  async createSystemNotification(
    tenantId: string,
    input: SystemNotificationInput,
  ): Promise<{ notification: Notification; created: boolean }> {
    this.#bind(tenantId);
    const result = this.#outbox.commit(() => createSystemNotification(this.ctx.storage.sql, tenantId, input, Date.now()));
    if (result.created) await this.#afterWrite();
    return result;
  }

  async idempotencyBegin(
    tenantId: string,
    key: string,
    fingerprint: string,
    times: { leaseMs: number; ttlMs: number },
  ): Promise<BeginResult> {
    this.#bind(tenantId);
    return this.#outbox.commit(() => beginKey(this.ctx.storage.sql, key, fingerprint, { ...times, now: Date.now() }));
  }

  async idempotencyComplete(tenantId: string, key: string, fingerprint: string, response: StoredResponse): Promise<void> {
    this.#bind(tenantId);
    completeKey(this.ctx.storage.sql, key, fingerprint, response);
  }

  async issueStreamTicket(tenantId: string, hash: string, path: string, caller: TicketCaller, expiresAt: number): Promise<void> {
    this.#bind(tenantId);
    issueTicket(this.ctx.storage.sql, hash, path, caller, expiresAt, Date.now());
  }

  async redeemStreamTicket(tenantId: string, hash: string, path: string): Promise<TicketCaller | null> {
    this.#bind(tenantId);
    return redeemTicket(this.ctx.storage.sql, hash, path, Date.now());
  }

  async idempotencyRelease(tenantId: string, key: string, fingerprint: string): Promise<void> {
    this.#bind(tenantId);
    releaseKey(this.ctx.storage.sql, key, fingerprint);
  }

  // ---- flow runs: admission and status (RPC) -------------------------------

  /** Takes a run slot if one is free ('start'), else queues the run ('queued'). */
  async admitRun(tenantId: string, runId: string, limit: number): Promise<'start' | 'queued'> {
    this.#bind(tenantId);
    return this.#outbox.commit(() => admit(this.ctx.storage.sql, runId, limit));
  }

  /** Frees a finished run's slot (only admission `ifSeq`, when given); returns queued runs that may start now. */
  async releaseRun(tenantId: string, runId: string, limit: number, ifSeq?: number): Promise<string[]> {
    this.#bind(tenantId);
    return this.#outbox.commit(() => release(this.ctx.storage.sql, runId, limit, ifSeq));
  }

  /**
   * Child runs of a parent take places in the tenant's live child-run budget, as many as fit (idempotent per
   * run id); `release` (children of the parent that ended) are freed first.
   */
  async admitChildRuns(
    tenantId: string,
    parentRunId: string,
    runIds: string[],
    budget: number,
    release: string[] = [],
  ): Promise<ChildAdmission> {
    this.#bind(tenantId);
    return this.#outbox.commit(() => admitChildren(this.ctx.storage.sql, parentRunId, runIds, budget, Date.now(), release));
  }

  /** Child runs ended: their places are free (idempotent). */
  async releaseChildRuns(tenantId: string, runIds: string[]): Promise<void> {
    this.#bind(tenantId);
    this.#outbox.commit(() => releaseChildren(this.ctx.storage.sql, runIds));
  }

  /** How many child runs hold a place in the budget now. */
  async liveChildRuns(tenantId: string): Promise<number> {
    this.#bind(tenantId);
    return liveChildCount(this.ctx.storage.sql);
  }

  /**
   * A run's reports since its last call, in order, in one transaction: each status change goes on the
   * tenant's sync stream and event outbox once per `eventId`; its index row and newest summary are kept
   * here and go in the next D1 write of the tenant's runs (./run-index.ts), which the call waits for.
   */
  async runReported(tenantId: string, reports: RunReport[]): Promise<void> {
    this.#bind(tenantId);
    const sql = this.ctx.storage.sql;
    const now = Date.now();
    const fresh = this.#outbox.commit(() => {
      let fresh = false;
      for (const r of reports) {
        const owner = reportTenant(r);
        if (owner !== tenantId) throw new Error(`run report of ${owner} sent to the hub of ${tenantId}`);
        if (r.kind === 'change') {
          fresh = recordRunChange(sql, tenantId, r.summary, r.eventId, now) || fresh;
          stageRunIndex(sql, { kind: 'summary', summary: r.summary }, now);
        } else stageRunIndex(sql, r, now);
      }
      return fresh;
    });
    const written = this.#runIndex.request();
    if (fresh) await this.#afterWrite();
    else await this.#armBackstop();
    // Acknowledged once D1 has the rows (or the write failed and the alarm retries them): D1 is never
    // behind what the run has been told, as when each run wrote its own row.
    await written;
  }

  /**
   * The previous version's `runChanged`, kept for one release: a FlowRun of that version still sends its
   * changes here while a deploy rolls out (its D1 summaries it still writes itself; staging them too is
   * harmless). Remove once no run of that version can be pending.
   */
  async runChanged(tenantId: string, changes: { summary: RunSummary; eventId: string }[]): Promise<void> {
    return this.runReported(
      tenantId,
      changes.map((c) => ({ kind: 'change', ...c })),
    );
  }

  /** A ChatThread reports its chat's state (sync) and a turn's end (event); idempotent, newest state wins. */
  async chatChanged(tenantId: string, report: ChatReport & { rev: number }): Promise<void> {
    this.#bind(tenantId);
    const fresh = this.#outbox.commit(() => recordChatReport(this.ctx.storage.sql, tenantId, report, Date.now()));
    if (fresh) await this.#afterWrite();
  }

  /** GET /v1/chats: newest first, after the previous page's last chat. */
  async listChats(tenantId: string, limit: number, after: { updatedAt: string; id: string } | null): Promise<ChatSummary[]> {
    this.#bind(tenantId);
    return listChats(this.ctx.storage.sql, limit, after);
  }

  /** The tenant's run slots, in admission order (for the sweeper's reconciler). */
  async runSlots(tenantId: string, limit: number): Promise<RunSlot[]> {
    this.#bind(tenantId);
    return listSlots(this.ctx.storage.sql, limit);
  }

  // ---- sync ----------------------------------------------------------------

  /** A page of changes after `since`, or the resync signal when `since` is older than the tombstone horizon. */
  async changesSince(tenantId: string, since: number, limit: number): Promise<ChangePage | ResyncSignal> {
    this.#bind(tenantId);
    return changesSince(this.ctx.storage.sql, since, limit, PAGE_MAX_BYTES);
  }

  /** A page of the current tasks and notifications, for a client told to resync. */
  async syncSnapshot(tenantId: string, from: SnapshotPosition | null, limit: number): Promise<SnapshotPage | ResyncSignal> {
    this.#bind(tenantId);
    return snapshotPage(this.ctx.storage.sql, from, limit, PAGE_MAX_BYTES);
  }

  /** `npm run bench:sync` writes a long history (history-seed.ts); refused outside ENVIRONMENT=test. */
  async seedHistoryForBench(tenantId: string, seed: HistorySeed): Promise<number> {
    if ((this.env.ENVIRONMENT as string) !== 'test') throw new Error('seedHistoryForBench is for ENVIRONMENT=test only');
    this.#bind(tenantId);
    seedHistory(this.ctx.storage, seed);
    this.#pushed = latestVersion(this.ctx.storage.sql);
    return this.#pushed;
  }

  /**
   * WebSocket upgrade for GET /v1/sync/ws (the Worker has authenticated the
   * caller and passes who it is in internal headers). Catch-up (bounded: past
   * its cap one `resync` frame) and registration happen with no await in
   * between, so no change can fall in a gap.
   */
  override async fetch(request: Request): Promise<Response> {
    if (request.headers.get('upgrade')?.toLowerCase() !== 'websocket') return new Response('expected a WebSocket upgrade', { status: 426 });
    const tenantId = request.headers.get('x-edgecrew-tenant');
    const actorId = request.headers.get('x-edgecrew-actor');
    const role = request.headers.get('x-edgecrew-role') as SocketAttachment['role'] | null;
    const expires = Number(request.headers.get('x-edgecrew-expires') ?? '');
    if (!tenantId || !actorId || !role) return new Response('missing caller', { status: 400 });
    this.#bind(tenantId);
    const since = Number(new URL(request.url).searchParams.get('since') ?? '0');
    // Changes not yet pushed go to the sockets already open now: the new one gets them in its catch-up, once.
    // With none open, pushes were skipped: the log's head is where pushing resumes.
    this.#push();
    this.#pushed ??= latestVersion(this.ctx.storage.sql);
    const pair = new WebSocketPair();
    const server = pair[1];
    // Tagged with the actor, so revoking a credential or removing a member closes exactly their sockets.
    this.ctx.acceptWebSocket(server, [`actor:${actorId}`]);
    attach(server, {
      actorId,
      role,
      connectedAt: new Date().toISOString(),
      expiresAt: Number.isFinite(expires) && expires > 0 ? expires : null,
      actorType: request.headers.get('x-edgecrew-actor-type') === 'api_key' ? 'api_key' : 'user',
      credentialId: request.headers.get('x-edgecrew-credential') ?? actorId,
      plan: request.headers.get('x-edgecrew-plan') === 'pro' ? 'pro' : 'free',
    });
    sendCatchUp(server, this.ctx.storage.sql, Number.isFinite(since) && since > 0 ? since : 0);
    return new Response(null, { status: 101, webSocket: pair[0] });
  }

  /** Closes an actor's sockets (credential revoked, member removed). */
  async closeSessions(tenantId: string, actorId: string): Promise<number> {
    this.#bind(tenantId);
    const sockets = this.ctx.getWebSockets(`actor:${actorId}`);
    for (const ws of sockets) closeQuietly(ws, 1008, 'credential revoked');
    return sockets.length;
  }

  /** Applies a role change to an actor's open sockets (a demoted member stops mutating at once). */
  async setSessionRole(tenantId: string, actorId: string, role: SocketAttachment['role']): Promise<number> {
    this.#bind(tenantId);
    const sockets = this.ctx.getWebSockets(`actor:${actorId}`);
    for (const ws of sockets) {
      const who = attachmentOf(ws);
      if (who) attach(ws, { ...who, role });
    }
    return sockets.length;
  }

  override async webSocketMessage(ws: WebSocket, message: string | ArrayBuffer): Promise<void> {
    const who = attachmentOf(ws);
    if (!who || this.#tenantId === null) return ws.close(1011, 'unknown session');
    if (who.expiresAt !== null && Date.now() >= who.expiresAt) return closeQuietly(ws, 4001, 'credential expired');
    const tenantId = this.#tenantId;
    const caller = socketServiceCtx(this.env, this.ctx, tenantId, who);
    const reply = await handleSocketMessage(message, caller, this.ctx.storage, {
      run: (actor, fn) => this.#mutate(tenantId, actor, fn),
    });
    // Over a socket the sender sees its own change before the ack (docs/sync.md): push now, not after.
    this.#push();
    if (reply) ws.send(JSON.stringify(reply));
  }

  override async webSocketClose(ws: WebSocket, code: number): Promise<void> {
    try {
      ws.close(code === 1005 ? 1000 : code, 'bye');
    } catch {
      // already closed
    }
  }

  // ---- alarm: reminders and outbox ----------------------------------------

  override async alarm(): Promise<void> {
    this.#dueAlarm = null;
    await this.#process();
  }

  /** A webhook endpoint was created, changed or deleted: the next published page reads the endpoints again (direct-webhooks.ts). */
  async webhooksChanged(tenantId: string): Promise<void> {
    this.#bind(tenantId);
    this.#webhooks.forgetEndpoints();
  }

  /**
   * The EVENTS consumer's copy of `events` (src/events/sinks.ts): first webhook attempts for those this
   * hub has not fanned out, in its one lane per endpoint; resolves once all are done
   * (direct-webhooks.ts `fanOutAndWait`).
   */
  async fanOutWebhooks(tenantId: string, events: OutboxEvent[]): Promise<void> {
    this.#bind(tenantId);
    return this.#webhooks.fanOutAndWait(events);
  }

  /** Same work as the alarm, on demand: the cron sweeper calls it for hubs whose alarm seems lost. */
  async wake(tenantId: string): Promise<{ delivered: number; published: number }> {
    this.#bind(tenantId);
    // The sweeper found this hub overdue in D1: whatever the hub believes it wrote, rewrite the row.
    return this.#process(true);
  }

  async #process(forceRegistry = false): Promise<{ delivered: number; published: number }> {
    if (this.#tenantId === null) return { delivered: 0, published: 0 };
    // One read says which jobs have something due; the rest are not queried (issue 20).
    const { reminder, startCheck, childCheck, runIndex } = readSchedule(this.ctx.storage.sql);
    const now = Date.now();
    const due = (at: number | null) => at !== null && at <= now;
    const delivered = due(reminder) ? deliverDueReminders(this.ctx.storage.sql, this.#outbox.commit, this.#tenantId, now) : 0;
    if (due(startCheck)) await this.#checkExperimentStarts(this.#tenantId);
    if (due(childCheck)) await this.#repairChildPlaces();
    if (due(runIndex)) await this.#runIndex.request();
    this.#push();
    const published = await this.#settle(forceRegistry);
    // An alarm leaves every sent event marked (a write's follow-up leaves that to the next write, ./outbox.ts).
    this.#outbox.flushMarks();
    return { delivered, published };
  }

  /** Experiments whose driving run should exist by now: a missing run fails its experiment (experiments.ts). */
  async #checkExperimentStarts(tenantId: string): Promise<void> {
    const sql = this.ctx.storage.sql;
    for (const due of ex.dueStartChecks(sql, Date.now(), EXPERIMENT_CHECKS_PER_ALARM)) {
      let run: 'exists' | 'missing' | 'unreachable';
      try {
        run = (await flowRunStub(this.env, due.runId).getState()) === null ? 'missing' : 'exists';
      } catch {
        run = 'unreachable';
      }
      const op = { sql, tenantId, now: Date.now() };
      this.#outbox.commit(() => ex.startChecked(op, due.id, run));
    }
  }

  /**
   * Places in the live child-run budget checked against their runs (run-admission.ts): a run that is
   * over, or that does not exist past the grace period, frees its leaked place.
   */
  async #repairChildPlaces(): Promise<number> {
    const sql = this.ctx.storage.sql;
    let freed = 0;
    for (const due of dueChildChecks(sql, Date.now(), CHILD_CHECKS_PER_ALARM)) {
      let verdict: 'over' | 'live' | 'unreachable';
      try {
        const truth = await flowRunStub(this.env, due.runId).reconcile(null);
        verdict = truth === null || TERMINAL.has(truth.status) ? 'over' : 'live';
      } catch {
        verdict = 'unreachable';
      }
      if (verdict === 'over') freed++;
      this.#outbox.commit(() => childChecked(sql, due.runId, verdict, Date.now()));
    }
    return freed;
  }

  /** When the next retention pass is due (read once, then kept); null: not read yet. */
  #retentionDueAt: number | null = null;

  /** A bounded retention pass (retention.ts) when one is due or the last one left work behind. */
  #retain(): void {
    const now = Date.now();
    this.#retentionDueAt ??= retentionDueAt(this.ctx.storage.sql);
    if (!this.#retentionBacklog && this.#retentionDueAt > now) return;
    this.#retentionBacklog = runRetention(this.ctx.storage, now).more;
    this.#retentionDueAt = now + RETENTION_INTERVAL_MS;
  }

  /**
   * One alarm at the earliest of: the next pending reminder, (when events wait for publication) now
   * after a write or OUTBOX_RETRY_MS after an alarm that could not publish, and (while retention has a
   * backlog) a second from now. Mirrors the reminder time into D1's hub_schedules so the sweeper can
   * wake this hub if the alarm is ever lost.
   */
  async #arm(forceRegistry = false): Promise<void> {
    const {
      reminder: r,
      startCheck,
      childCheck,
      runIndex,
      runIndexRetry,
      pending,
    } = readSchedule(this.ctx.storage.sql, this.#outbox.sentThrough());
    const reminder = earliest(r, startCheck, childCheck, runIndexRetry);
    const now = Date.now();
    // Events still pending after a publish: it failed (retry), or a write since has its own publish coming.
    // Runs' D1 rows due now are being written by the follow-up: the alarm is only their backstop.
    const next = earliest(
      reminder,
      pending ? now + OUTBOX_RETRY_MS : null,
      runIndex === null ? null : Math.max(runIndex, now + OUTBOX_RETRY_MS),
      this.#retentionBacklog ? now + RETENTION_RETRY_MS : null,
    );
    // A write's backstop due within OUTBOX_RETRY_MS is left to fire early (it finds nothing due and
    // re-arms): deleting it here and setting it again on the next write would be two storage calls per
    // write under load (issue 20).
    // A due time already OUTBOX_RETRY_MS past whose alarm has not run (it clears #dueAlarm) is not trusted.
    const backstop =
      !forceRegistry && this.#dueAlarm !== null && this.#dueAlarm <= now + OUTBOX_RETRY_MS && this.#dueAlarm > now - OUTBOX_RETRY_MS;
    if (next === null) {
      if (!backstop) {
        this.#dueAlarm = null;
        await this.ctx.storage.deleteAlarm();
      }
    } else if (backstop && this.#dueAlarm! <= next) {
      // Fires no later than needed.
    } else if (forceRegistry || this.#dueAlarm !== Math.max(next, now)) {
      // A time already past fires at once (and 0, a row never given its time, must not throw).
      this.#dueAlarm = Math.max(next, now);
      try {
        await this.ctx.storage.setAlarm(this.#dueAlarm);
      } catch (err) {
        // Not set: the next write's backstop must not trust it.
        this.#dueAlarm = null;
        throw err;
      }
    }
    // After a publish that failed, the registry also carries "now" so the sweeper retries it.
    const registry = reminder ?? (pending ? now : null);
    // Serialized: the alarm is primary, the registry a backstop.
    this.#registry = this.#registry.then(() => this.#syncRegistry(registry, forceRegistry)).catch(() => undefined);
    await this.#registry;
  }

  #registry: Promise<void> = Promise.resolve();

  /** The registry's value as this hub last wrote it (hub_meta `registry_due`; read once, then kept). */
  #registryDue: string | undefined | null = null;

  async #syncRegistry(at: number | null, force = false): Promise<void> {
    const sql = this.ctx.storage.sql;
    const value = at === null ? '' : new Date(at).toISOString();
    if (this.#registryDue === null)
      this.#registryDue = sql.exec<{ value: string }>(`SELECT value FROM hub_meta WHERE key = 'registry_due'`).toArray()[0]?.value;
    if ((this.#registryDue === value && !force) || this.#tenantId === null) return;
    if (at === null) await this.env.DB.prepare(`DELETE FROM hub_schedules WHERE tenant_id = ?`).bind(this.#tenantId).run();
    else
      await this.env.DB.prepare(
        `INSERT INTO hub_schedules (tenant_id, next_due_at, updated_at) VALUES (?, ?, ?)
         ON CONFLICT(tenant_id) DO UPDATE SET next_due_at = excluded.next_due_at, updated_at = excluded.updated_at`,
      )
        .bind(this.#tenantId, value, new Date().toISOString())
        .run();
    sql.exec(`INSERT OR REPLACE INTO hub_meta (key, value) VALUES ('registry_due', ?)`, value);
    this.#registryDue = value;
  }
}
