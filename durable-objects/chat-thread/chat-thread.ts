/**
 * ChatThread: one per chat (addressed by tenant id + chat id). Holds the chat's
 * messages (UIMessages), its turns, the current turn's UI stream log (for
 * resume), the live views (followers and hibernatable WebSockets) and a report
 * outbox to the tenant's hub (sync, events). A turn is a FlowRun of the
 * assistant's agent node; this object follows the run's event log (its SSE
 * stream, from a persisted cursor) and maps each event to UI message stream
 * chunks in the same transaction that stores them. The alarm restarts that
 * pump after an eviction and redelivers reports. docs/assistant.md.
 */
import { DurableObject } from 'cloudflare:workers';
import { ASSISTANT_NODE_ID, turnInput, turnVersion } from '../../src/chat/assistant';
import { answerChunk, answersFrom, applyAnswers, settleUnanswered, toAgentMessages, userMessageFrom } from '../../src/chat/history';
import type { ChatView, SendInput, TurnPlan, TurnStatus, TurnView } from '../../src/chat/model';
import { closeStep, initialMapperState, type MapperState, mapRunEvent, type TurnEnd } from '../../src/chat/run-chunks';
import { MessageBuilder, type StreamVersion, type UIChunk, type UIMessage } from '../../src/chat/ui-message';
import { loadConfig } from '../../src/config';
import { tokenFor } from '../../src/feedback/feedback-service';
import type { RunEvent } from '../../src/flows/run-model';
import { startRun } from '../../src/flows/runs-service';
import { newId } from '../../src/lib/ids';
import { fail, ok, type Result } from '../../src/lib/result';
import { flowRunStub, tenantHubStub } from '../../src/lib/stubs';
import { migrateDoStorage } from '../shared/migrations';
import { closeQuietly } from '../tenant-hub/sync-sockets';
import { followRun } from './follow';
import { greet, push } from './live';
import { ChatReports, turnEvent } from './reports';
import { CHAT_MIGRATIONS } from './schema';
import * as store from './store';
import { fixedStream, TurnStreams } from './streams';

/** While a turn runs, the alarm checks on its pump this often (it restarts one lost to an eviction). */
const WATCH_MS = 30_000;
const STOPPED = 'stopped by the user';

export interface Started {
  turnId: string;
  messageId: string;
  status: TurnStatus;
  stream: ReadableStream<Uint8Array>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class ChatThread extends DurableObject<Env> {
  #streams: TurnStreams;
  #pumps = new Map<string, Promise<void>>();
  #reports: ChatReports;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.#reports = new ChatReports(ctx.storage.sql, env, (at) => this.#armAt(at));
    this.#streams = new TurnStreams({
      read: (turnId, after, limit) => store.chunksAfter(ctx.storage.sql, turnId, after, limit),
      live: (turnId) => {
        const t = store.turn(ctx.storage.sql, turnId);
        return t !== null && (t.row.status === 'running' || t.row.status === 'queued');
      },
    });
    void ctx.blockConcurrencyWhile(async () => {
      migrateDoStorage(ctx.storage, CHAT_MIGRATIONS);
    });
    ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair('{"type":"ping"}', '{"type":"pong"}'));
  }

  get #sql(): SqlStorage {
    return this.ctx.storage.sql;
  }

  /** The object serves one chat of one tenant; anything else is "not found" (no existence oracle). */
  #mine(tenantId: string, chatId: string): boolean {
    const c = store.chatRow(this.#sql);
    return c !== null && c.tenant_id === tenantId && c.chat_id === chatId;
  }

  // ---- sending -------------------------------------------------------------

  /** POST /v1/chat: a new user message (a turn, now or queued), answers to the waiting turn, or a regeneration. */
  async send(input: SendInput): Promise<Result<Started>> {
    const existing = store.chatRow(this.#sql);
    if (existing && (existing.tenant_id !== input.tenantId || existing.chat_id !== input.chatId))
      return fail('conflict', 'This chat id is taken; use another.');
    if (input.trigger === 'regenerate-message') return this.#regenerate(input);
    const m = input.message;
    if (!m)
      return fail('validation_failed', 'Send the new message (`messages` or `message`).', [
        { path: 'messages', message: 'Required', code: 'required' },
      ]);
    if (m.role === 'assistant') return this.#answer(input);

    const id = typeof m.id === 'string' && /^[A-Za-z0-9_-]{1,128}$/.test(m.id) ? m.id : newId('msg');
    if (store.hasMessage(this.#sql, id) || store.turnsIn(this.#sql, ['queued']).some((t) => t.userMessage?.id === id))
      return fail('conflict', `Message ${id} was already sent; follow its answer with GET /v1/chat/${input.chatId}/stream.`);
    const user = userMessageFrom(m, id, input.now);
    if (!user.ok) return user;

    const busy = store.turnsIn(this.#sql, ['running', 'queued']);
    if (busy.length > 0 && input.onBusy === 'reject')
      return fail('conflict', 'The assistant is still answering; stop it, or send with ?onBusy=queue or ?onBusy=interrupt.');
    if (busy.length > 0 && input.onBusy === 'interrupt') this.#stopAll('interrupted by a new message', ['running', 'queued']);
    // A new message while the assistant waits for an answer moves on: the open calls are settled.
    this.#stopAll('the user sent a new message', ['waiting']);

    if (!existing) this.#createChat(input, user.value);
    const queued = busy.length > 0 && input.onBusy === 'queue';
    const t = this.#insertTurn(user.value, input.plan, queued ? 'queued' : 'running', input.now);
    if (!queued) await this.#launch(t.id);
    return ok({
      turnId: t.id,
      messageId: t.messageId,
      status: queued ? 'queued' : 'running',
      stream: this.#streams.open({ turnId: t.id, after: 0, segment: 1, version: input.version }),
    });
  }

  #createChat(input: SendInput, first: UIMessage): void {
    const text = first.parts.flatMap((p) => (p.type === 'text' ? [p.text] : [])).join(' ');
    const title = text.replace(/\s+/g, ' ').trim().slice(0, 80) || 'Chat';
    store.createChat(this.#sql, {
      tenant_id: input.tenantId,
      chat_id: input.chatId,
      title,
      created_by: input.plan.initiator.actorId,
      created_at: input.now,
    });
  }

  #insertTurn(user: UIMessage | null, plan: TurnPlan, status: 'queued' | 'running', at: string): { id: string; messageId: string } {
    const id = newId('trn');
    const messageId = newId('msg');
    this.ctx.storage.transactionSync(() => {
      store.insertTurn(this.#sql, {
        id,
        status,
        userMessage: user,
        messageId,
        runId: newId('run'),
        plan,
        mapper: initialMapperState(messageId),
        at,
      });
      store.saveTurn(this.#sql, id, { segment: 1 });
    });
    return { id, messageId };
  }

  /** Starts a turn's run: its user message joins the conversation, the stream opens with `start`. */
  async #launch(turnId: string): Promise<void> {
    const sql = this.#sql;
    const now = new Date();
    const at = now.toISOString();
    const before = store.turn(sql, turnId);
    if (!before) return;
    const chat = store.chatRow(sql)!;
    // End users rate this answer (and only it) from the browser with this token (docs/feedback.md).
    const feedbackToken = await tokenFor(
      { config: loadConfig(this.env), tenantId: chat.tenant_id, now },
      { type: 'chat_message', id: before.row.message_id, chatId: chat.chat_id },
    );
    // Stopped (or deleted) while the token was signed: nothing to start.
    const t = store.turn(sql, turnId);
    if (t?.row.status !== before.row.status) return;
    const startChunk: UIChunk = {
      type: 'start',
      messageId: t.row.message_id,
      messageMetadata: { turnId, runId: t.row.run_id, createdAt: at, timezone: t.plan.timezone, status: 'running', feedbackToken },
    };
    this.ctx.storage.transactionSync(() => {
      if (t.userMessage) store.upsertMessage(sql, t.userMessage, null, at);
      store.saveTurn(sql, turnId, { status: 'running', startedAt: at });
      store.appendChunks(sql, turnId, 1, [startChunk]);
      store.dropChunksExcept(sql, [turnId, ...this.#streams.followed()]);
      store.touchChat(sql, at);
      this.#reports.queue(null, at);
    });
    this.#changed(turnId, t.userMessage, [startChunk]);
    void this.#reports.deliver();
    // The pump creates the run (idempotent per run id), so the stream opens at once and an eviction
    // before the run exists is repaired by the alarm restarting the pump.
    void this.#pump(turnId);
    await this.#armAt(Date.now() + WATCH_MS);
  }

  /** Creates and starts the turn's run, once (a retry after a failure or an eviction is harmless). */
  async #startRun(turnId: string): Promise<'started' | 'gone'> {
    const sql = this.#sql;
    const t = store.turn(sql, turnId);
    if (t?.row.status !== 'running') return 'gone';
    const history = toAgentMessages(store.messages(sql));
    const started = await startRun(this.env, {
      tenantId: this.#tenantId(),
      createdBy: t.plan.initiator.actorId,
      version: turnVersion(t.plan),
      input: turnInput(t.plan, new Date(t.row.started_at ?? t.row.created_at), history),
      runId: t.row.run_id,
      initiator: t.plan.initiator,
    });
    if ('code' in started) {
      this.#end(turnId, [], {
        kind: 'failed',
        error: `The assistant could not start: ${started.errors.map((e) => `${e.path}: ${e.message}`).join('; ')}`,
      });
      return 'gone';
    }
    // Stopped while the run was being created: the stop could not reach it yet.
    if (store.turn(sql, turnId)?.row.status !== 'running') {
      await this.#cancelRun(t.row.run_id, STOPPED);
      return 'gone';
    }
    store.saveTurn(sql, turnId, { runStarted: true });
    return 'started';
  }

  #tenantId(): string {
    return store.chatRow(this.#sql)!.tenant_id;
  }

  /** The client's copy of the waiting assistant message: only its answers to our pending calls count. */
  async #answer(input: SendInput): Promise<Result<Started>> {
    const sql = this.#sql;
    const m = input.message!;
    if (!store.chatRow(sql)) return fail('not_found', 'Chat not found.');
    const waiting = store.turnsIn(sql, ['waiting']).find((t) => t.row.message_id === m.id);
    if (!waiting) {
      const running = store.turnsIn(sql, ['running', 'queued']).some((t) => t.row.message_id === m.id);
      return fail(
        'conflict',
        running
          ? 'The assistant is still answering that message.'
          : 'That assistant message is not waiting for an answer; send a new user message.',
      );
    }
    const answers = answersFrom(m, waiting.pending);
    if (answers.length === 0)
      return fail('validation_failed', 'The message answers none of the calls the assistant waits on (approvals or askUser).', [
        { path: 'messages', message: 'No answer to a pending call', code: 'invalid' },
      ]);
    for (const a of answers) {
      const r = await flowRunStub(this.env, waiting.row.run_id).signal(ASSISTANT_NODE_ID, a.signal, {
        actorType: input.plan.initiator.actorType,
        actorId: input.plan.initiator.actorId,
        role: input.plan.initiator.role,
      });
      if (!r.ok && r.code !== 'conflict') return r;
    }
    // Another request may have answered, moved past or stopped the turn while the signals were sent.
    const now = store.turn(sql, waiting.row.id);
    if (now?.row.status !== 'waiting' || now.row.segment !== waiting.row.segment || now.pending.length !== waiting.pending.length)
      return fail('conflict', 'The turn changed while answering; reload the chat.');
    const answered = new Set(answers.map((a) => a.call.toolCallId));
    const remaining = waiting.pending.filter((c) => !answered.has(c.toolCallId));
    const segment = remaining.length === 0 ? waiting.row.segment + 1 : waiting.row.segment;
    const at = input.now;
    const appended: UIChunk[] = [
      ...(remaining.length === 0
        ? [{ type: 'start', messageId: waiting.row.message_id, messageMetadata: { status: 'running' } } as UIChunk]
        : []),
      ...answers.map(answerChunk),
    ];
    // The client continues its own copy of the message: its stream starts at this segment, not a replay.
    const before = lastSeq(sql, waiting.row.id);
    this.ctx.storage.transactionSync(() => {
      const fresh = store.turn(sql, waiting.row.id)!;
      store.appendChunks(sql, fresh.row.id, segment, appended);
      if (remaining.length === 0) store.saveTurn(sql, fresh.row.id, { status: 'running', segment, pending: [] });
      else store.saveTurn(sql, fresh.row.id, { pending: remaining });
      const stored = store.messages(sql).find((x) => x.id === fresh.row.message_id);
      if (stored) store.upsertMessage(sql, applyAnswers(stored, answers), fresh.row.id, at);
      store.touchChat(sql, at);
      this.#reports.queue(null, at);
    });
    this.#changed(waiting.row.id, null, appended);
    if (remaining.length > 0) {
      // Still waiting on other calls: this request's stream says so and ends.
      return ok({
        turnId: waiting.row.id,
        messageId: waiting.row.message_id,
        status: 'waiting',
        stream: fixedStream([
          { type: 'start', messageId: waiting.row.message_id },
          { type: 'finish', finishReason: 'tool-calls' },
        ]),
      });
    }
    this.#pump(waiting.row.id);
    await this.#armAt(Date.now() + WATCH_MS);
    return ok({
      turnId: waiting.row.id,
      messageId: waiting.row.message_id,
      status: 'running',
      stream: this.#streams.open({ turnId: waiting.row.id, after: before, segment, version: input.version }),
    });
  }

  /** regenerate-message: the last assistant message is answered again by a new turn. */
  async #regenerate(input: SendInput): Promise<Result<Started>> {
    const sql = this.#sql;
    if (!store.chatRow(sql)) return fail('not_found', 'Chat not found.');
    if (store.turnsIn(sql, ['running', 'queued']).length > 0) return fail('conflict', 'The assistant is still answering; stop it first.');
    const last = store.lastMessage(sql);
    if (last?.role !== 'assistant' || (input.messageId !== undefined && input.messageId !== last.id))
      return fail('conflict', 'Only the last assistant message can be regenerated.');
    this.#stopAll('regenerated', ['waiting']);
    store.deleteMessage(sql, last.id);
    const t = this.#insertTurn(null, input.plan, 'running', input.now);
    await this.#launch(t.id);
    return ok({
      turnId: t.id,
      messageId: t.messageId,
      status: 'running',
      stream: this.#streams.open({ turnId: t.id, after: 0, segment: 1, version: input.version }),
    });
  }

  // ---- following a run -----------------------------------------------------

  /** Follows the turn's run from its cursor (one pump per turn; restarts after errors and evictions). */
  #pump(turnId: string): Promise<void> {
    const running = this.#pumps.get(turnId);
    if (running) return running;
    const p = this.#follow(turnId).finally(() => this.#pumps.delete(turnId));
    this.#pumps.set(turnId, p);
    return p;
  }

  #follow(turnId: string): Promise<void> {
    return followRun({
      env: this.env,
      tenantId: this.#tenantId(),
      turn: () => store.turn(this.#sql, turnId),
      startRun: () => this.#startRun(turnId),
      apply: (e) => this.#apply(turnId, e),
      fail: (error) => this.#end(turnId, [], { kind: 'failed', error }),
    });
  }

  /** One run event: its chunks stored with the mapper state and cursor, in one transaction. */
  #apply(turnId: string, e: RunEvent): 'go' | 'stop' {
    const sql = this.#sql;
    const t = store.turn(sql, turnId);
    if (t?.row.status !== 'running') return 'stop';
    if (e.seq <= t.row.cursor) return 'go';
    const mapper = t.mapper;
    const { chunks, end } = mapRunEvent(mapper, e, ASSISTANT_NODE_ID);
    if (end) {
      this.#end(turnId, chunks, end, { mapper, cursor: e.seq });
      return 'stop';
    }
    this.ctx.storage.transactionSync(() => {
      if (chunks.length) store.appendChunks(sql, turnId, t.row.segment, chunks);
      store.saveTurn(sql, turnId, { mapper, cursor: e.seq });
    });
    if (chunks.length) this.#changed(turnId, null, chunks);
    return 'go';
  }

  /** The message as the turn's log builds it (every segment), with any unanswered calls settled. */
  #buildMessage(turnId: string, messageId: string): UIMessage {
    const b = new MessageBuilder({ id: messageId, role: 'assistant', parts: [] });
    for (let after = 0; ; ) {
      const rows = store.chunksAfter(this.#sql, turnId, after, 500);
      if (rows.length === 0) break;
      for (const r of rows) b.apply(r.chunk);
      after = rows[rows.length - 1]!.seq;
    }
    return b.message;
  }

  /**
   * A segment ends: the run waits for answers, finished, failed, or was stopped. The closing chunks,
   * the stored message, the turn's state and the report go in one transaction.
   */
  #end(turnId: string, chunks: UIChunk[], end: TurnEnd, progress?: { mapper: MapperState; cursor: number }): void {
    const sql = this.#sql;
    const at = new Date().toISOString();
    const t = store.turn(sql, turnId);
    if (!t) return;
    const status: TurnStatus =
      end.kind === 'waiting' ? 'waiting' : end.kind === 'completed' ? 'completed' : end.kind === 'failed' ? 'failed' : 'stopped';
    const mapper = progress?.mapper ?? t.mapper;
    const closing = [...chunks];
    this.ctx.storage.transactionSync(() => {
      if (end.kind !== 'waiting' && t.row.status === 'queued')
        closing.unshift({ type: 'start', messageId: t.row.message_id, messageMetadata: { turnId, status } });
      if (!progress && end.kind === 'failed') {
        closeStep(mapper, closing);
        closing.push(
          { type: 'error', errorText: end.error },
          { type: 'finish', finishReason: 'error', messageMetadata: { status: 'failed' } },
        );
      }
      if (!progress && end.kind === 'cancelled') {
        closeStep(mapper, closing);
        closing.push({ type: 'message-metadata', messageMetadata: { status: 'stopped' } }, { type: 'abort', reason: end.reason });
      }
      store.appendChunks(sql, turnId, t.row.segment, closing);
      store.saveTurn(sql, turnId, {
        status,
        mapper,
        ...(progress ? { cursor: progress.cursor } : {}),
        pending: end.kind === 'waiting' ? end.toolCalls : [],
        ...(end.kind === 'failed' ? { error: end.error } : {}),
        ...(end.kind !== 'waiting' ? { finishedAt: at } : {}),
      });
      if (t.row.status !== 'queued') {
        let message = this.#buildMessage(turnId, t.row.message_id);
        if (end.kind !== 'waiting' && t.pending.length) message = settleUnanswered(message, t.pending);
        store.upsertMessage(sql, message, turnId, at);
      }
      store.touchChat(sql, at);
      this.#reports.queue(end.kind === 'waiting' || t.row.status === 'queued' ? null : turnEvent(t.row, status, mapper, end), at);
    });
    this.#changed(turnId, null, closing);
    void this.#reports.deliver();
    if (end.kind !== 'cancelled') void this.#next();
  }

  /** The next queued turn starts once nothing runs (a waiting turn is moved past: the queued message is newer). */
  async #next(): Promise<void> {
    if (store.turnsIn(this.#sql, ['running']).length > 0) return;
    const [next] = store.turnsIn(this.#sql, ['queued']);
    if (!next) return;
    this.#stopAll('the user sent a new message', ['waiting']);
    await this.#launch(next.row.id);
  }

  // ---- stopping --------------------------------------------------------------

  /** POST /v1/chat/{id}/stop: the running turn ends now, keeping what it said; queued messages are dropped. */
  async stop(tenantId: string, chatId: string): Promise<Result<{ stopped: TurnView[] }>> {
    if (!this.#mine(tenantId, chatId)) return fail('not_found', 'Chat not found.');
    const { stopped, cancelled } = this.#stopAll(STOPPED, ['running', 'queued', 'waiting']);
    await cancelled;
    return ok({ stopped });
  }

  /** Ends the turns in `statuses` (closing chunks, settled calls), then cancels their runs. */
  /**
   * Ends the turns in `statuses` now (closing chunks, settled calls, stored answers), then cancels
   * their runs. The ending is synchronous, so a caller that goes on to start a turn has no await
   * between its busy check and the start; `cancelled` resolves when the runs were told.
   */
  #stopAll(reason: string, statuses: TurnStatus[]): { stopped: TurnView[]; cancelled: Promise<unknown> } {
    const turns = store.turnsIn(this.#sql, statuses);
    for (const t of turns) this.#end(t.row.id, [], { kind: 'cancelled', reason });
    const cancelled = Promise.all(turns.filter((t) => t.row.status !== 'queued').map((t) => this.#cancelRun(t.row.run_id, reason)));
    return { stopped: turns.map((t) => store.turnView(store.turn(this.#sql, t.row.id)!.row)), cancelled };
  }

  async #cancelRun(runId: string, reason: string): Promise<void> {
    try {
      await flowRunStub(this.env, runId).cancel(reason);
    } catch {
      // Not started yet, or already over: nothing runs.
    }
  }

  // ---- reading ---------------------------------------------------------------

  /** GET /v1/chat/{id}/stream: the active turn's stream (null = nothing active: 204). */
  async resume(
    tenantId: string,
    chatId: string,
    o: { after: number | null; version: StreamVersion },
  ): Promise<Result<ReadableStream<Uint8Array> | null>> {
    if (!this.#mine(tenantId, chatId)) return fail('not_found', 'Chat not found.');
    const [active] = store.turnsIn(this.#sql, ['running', 'queued']);
    if (!active) return ok(null);
    if (active.row.status === 'running') void this.#pump(active.row.id);
    return ok(this.#streams.open({ turnId: active.row.id, after: o.after ?? 0, segment: active.row.segment, version: o.version }));
  }

  /** GET /v1/chats/{id}: the chat and its messages (a streaming answer as far as it got). */
  async view(tenantId: string, chatId: string): Promise<Result<ChatView>> {
    if (!this.#mine(tenantId, chatId)) return fail('not_found', 'Chat not found.');
    const sql = this.#sql;
    const messages = store.messages(sql);
    const [running] = store.turnsIn(sql, ['running']);
    if (running) {
      const partial = this.#buildMessage(running.row.id, running.row.message_id);
      const i = messages.findIndex((m) => m.id === partial.id);
      if (i >= 0) messages[i] = partial;
      else messages.push(partial);
    }
    return ok({ ...store.summaryOf(sql)!, messages });
  }

  /** Feedback on an assistant message (src/feedback/targets.ts): the run of its turn and the agent that answered. */
  async ratedMessage(tenantId: string, chatId: string, messageId: string): Promise<Result<{ runId: string; agentId: string | null }>> {
    if (!this.#mine(tenantId, chatId)) return fail('not_found', 'Chat not found.');
    const t = store.assistantTurnOf(this.#sql, messageId);
    if (!t) return fail('not_found', 'Message not found.');
    return ok({ runId: t.runId, agentId: 'agentId' in t.plan.agent ? t.plan.agent.agentId : null });
  }

  /** DELETE /v1/chats/{id}: stops what runs, tells the hub, then forgets everything. */
  async remove(tenantId: string, chatId: string): Promise<Result<null>> {
    if (!this.#mine(tenantId, chatId)) return fail('not_found', 'Chat not found.');
    await this.#stopAll('chat deleted', ['running', 'queued', 'waiting']).cancelled;
    const at = new Date().toISOString();
    // Told first: if this fails the chat still exists and the client retries.
    await tenantHubStub(this.env, tenantId).chatChanged(tenantId, { id: newId('crp'), chatId, summary: null, at, rev: 0 });
    for (const ws of this.ctx.getWebSockets()) closeQuietly(ws, 1000, 'chat deleted');
    await this.ctx.storage.deleteAlarm();
    await this.ctx.storage.deleteAll();
    migrateDoStorage(this.ctx.storage, CHAT_MIGRATIONS);
    return ok(null);
  }

  // ---- live view over WebSocket ------------------------------------------------

  /** GET /v1/chat/{id}/ws (the Worker checked the caller): the chat now, then every change live. */
  override async fetch(request: Request): Promise<Response> {
    const url = new URL(request.url);
    const tenantId = url.searchParams.get('tenant') ?? '';
    const chatId = url.searchParams.get('chat') ?? '';
    if (!this.#mine(tenantId, chatId)) return new Response('chat not found', { status: 404 });
    const version: StreamVersion = url.searchParams.get('v') === '7' ? 7 : 6;
    const view = await this.view(tenantId, chatId);
    if (!view.ok) return new Response('chat not found', { status: 404 });
    const pair = new WebSocketPair();
    this.ctx.acceptWebSocket(pair[1]);
    // The chat and the active turn's chunks so far; live changes follow from #changed (no await in between).
    const [active] = store.turnsIn(this.#sql, ['running', 'queued']);
    greet(
      pair[1],
      version,
      view.value,
      active
        ? { turnId: active.row.id, messageId: active.row.message_id, rows: store.chunksAfter(this.#sql, active.row.id, 0, 10_000) }
        : null,
    );
    return new Response(null, { status: 101, webSocket: pair[0] });
  }

  override async webSocketMessage(ws: WebSocket, message: string | ArrayBuffer): Promise<void> {
    if (message === 'ping') ws.send('{"type":"pong"}');
  }

  override async webSocketClose(ws: WebSocket, code: number): Promise<void> {
    closeQuietly(ws, code === 1005 ? 1000 : code, 'bye');
  }

  /** After a write: followers read the log; sockets get the new chunks, messages and the turn's state. */
  #changed(turnId: string, message: UIMessage | null, chunks: UIChunk[] = []): void {
    this.#streams.notify();
    const sockets = this.ctx.getWebSockets();
    if (sockets.length === 0) return;
    const t = store.turn(this.#sql, turnId);
    if (!t) return;
    const rows = chunks.length
      ? store.chunksAfter(this.#sql, turnId, Math.max(0, lastSeq(this.#sql, turnId) - chunks.length), chunks.length)
      : [];
    const messages = message ? [message] : [];
    if (t.row.status !== 'running' && t.row.status !== 'queued') {
      const stored = store.messages(this.#sql).find((m) => m.id === t.row.message_id);
      if (stored) messages.push(stored);
    }
    push(sockets, { turn: store.turnView(t.row), rows, messages });
  }

  // ---- reports to the hub, and the alarm ---------------------------------------

  async #armAt(at: number): Promise<void> {
    const current = await this.ctx.storage.getAlarm();
    if (current === null || at < current) await this.ctx.storage.setAlarm(at);
  }

  /** Redelivers reports; restarts the pump of a running turn (after an eviction) and watches it. */
  override async alarm(): Promise<void> {
    if (!store.chatRow(this.#sql)) return;
    await this.#reports.deliver();
    const running = store.turnsIn(this.#sql, ['running']);
    const next = [this.#reports.nextAt(), running.length ? Date.now() + WATCH_MS : null].filter((x): x is number => x !== null);
    if (next.length) await this.#armAt(Math.min(...next));
    // Held here a while: an alarm in progress keeps the object (and its pumps) alive.
    await Promise.race([Promise.all(running.map((t) => this.#pump(t.row.id))), sleep(WATCH_MS - 5_000)]);
  }
}

function lastSeq(sql: SqlStorage, turnId: string): number {
  return sql.exec<{ s: number | null }>(`SELECT MAX(seq) AS s FROM chunks WHERE turn_id = ?`, turnId).one().s ?? 0;
}
