// Streams with a real provider protocol (the scripted fake OpenAI server): resume, stop, failover, busy chats, failures.
import { runInDurableObject } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { type AnyChunk, type AnyMessage, plain } from '../../support/shared/ai-client';
import { eventually } from '../../support/shared/time';
import { hub } from '../../support/workers/durable-objects';
import { call, expectJson, expectProblem } from '../../support/workers/http';
import { signup, type TestTenant } from '../../support/workers/tenants';
import {
  API,
  assistantProvider,
  chatClient,
  collect,
  getChat,
  newChatId,
  newTag,
  providerCalls,
  releaseBarrier,
  sendTurn,
  sseFrames,
  textOf,
  transportOf,
  userMessage,
  workerFetch,
} from './_support';

async function turnStatus(t: TestTenant, chatId: string): Promise<string> {
  return (await getChat(t.accessToken, chatId)).lastTurn?.status;
}

async function readUntil(stream: ReadableStream<AnyChunk>, stop: (c: AnyChunk) => boolean): Promise<AnyChunk[]> {
  const reader = stream.getReader();
  const seen: AnyChunk[] = [];
  for (let r = await reader.read(); !r.done; r = await reader.read()) {
    seen.push(r.value);
    if (stop(r.value)) break;
  }
  return seen;
}

const partsOf = (m: AnyMessage | undefined) => (m?.parts ?? []).map((p) => p.type);

describe('assistant streams (fake provider)', () => {
  it('a dropped connection is not a stop; resuming replays the whole turn once (ai@6 and ai@7), Last-Event-ID continues exactly', async () => {
    const owner = await signup('chat-resume');
    const tag = newTag();
    await assistantProvider(owner, tag, 'main', [
      { toolCalls: [{ name: 'listTasks', arguments: { status: 'open' } }] },
      { text: 'Nothing is open: enjoy your day.', barrier: 'hold', parties: 2 },
      { text: 'released', barrier: 'hold', parties: 2 },
    ]);
    const chatId = newChatId();
    const abort = new AbortController();
    const t = transportOf(6, { api: API, fetch: workerFetch(owner.accessToken) });
    const live = await t.sendMessages({
      chatId,
      messages: [userMessage('what is open?')],
      trigger: 'submit-message',
      messageId: undefined,
      abortSignal: abort.signal,
    });
    const before = await readUntil(live as never, (c) => c.type === 'tool-output-available');
    abort.abort();
    expect(before[0]).toMatchObject({ type: 'start' });
    // The model's second call is held by the fake: the turn goes on without its first client.
    await eventually(async () => ((await providerCalls(tag, 'main')).length === 2 ? true : undefined));
    expect(await turnStatus(owner, chatId)).toBe('running');

    // A reloaded page: the stored chat (with the answer so far), then resumeStream() as useChat does.
    const stored = await getChat(owner.accessToken, chatId);
    expect(stored.messages.map((m: AnyMessage) => m.role)).toEqual(['user', 'assistant']);
    const clients = ([6, 7] as const).map((v) =>
      chatClient(v, { id: chatId, api: API, fetch: workerFetch(owner.accessToken), messages: structuredClone(stored.messages) }),
    );
    const resumed = clients.map((c) => c.resumeStream());
    // Exact continuation: after the chunk a client saw last, nothing before it and nothing twice.
    const seenUpTo = 3;
    const exact = call(`/v1/chat/${chatId}/stream`, { token: owner.accessToken, headers: { 'last-event-id': String(seenUpTo) } }).then(
      (r) => sseFrames(r),
    );
    const replay = call(`/v1/chat/${chatId}/stream`, { token: owner.accessToken }).then((r) => sseFrames(r));
    await eventually(async () => ((await getChat(owner.accessToken, chatId)).lastTurn.status === 'running' ? true : undefined));
    await releaseBarrier(tag, 'main');
    await Promise.all(resumed);

    const final = await getChat(owner.accessToken, chatId);
    expect(final.lastTurn.status).toBe('completed');
    expect(final.messages).toHaveLength(2);
    const answer = final.messages[1] as AnyMessage;
    expect(textOf(answer)).toBe('Nothing is open: enjoy your day.');
    expect(partsOf(answer)).toEqual(['step-start', 'tool-listTasks', 'step-start', 'text']);
    for (const c of clients) {
      expect(c.messages).toHaveLength(2);
      expect(plain(c.messages[1])).toEqual(plain(answer));
    }
    const all = await replay;
    const after = await exact;
    expect(all[0]!.data).toMatchObject({ type: 'start', messageId: answer.id });
    expect(all.at(-1)!.data).toBe('[DONE]');
    expect(after.map((f) => f.id)).toEqual(all.filter((f) => f.id === null || f.id > seenUpTo).map((f) => f.id));
    expect(after.map((f) => f.data)).toEqual(all.filter((f) => f.id === null || f.id > seenUpTo).map((f) => f.data));
    // Now idle: nothing to resume.
    expect((await call(`/v1/chat/${chatId}/stream`, { token: owner.accessToken })).status).toBe(204);
  });

  it('stop keeps the partial answer, ends the stream with abort, cancels the run and calls the provider no more', async () => {
    const owner = await signup('chat-stop');
    const tag = newTag();
    await assistantProvider(owner, tag, 'main', [{ step: 'stall' }, { text: 'never' }]);
    const chatId = newChatId();
    const t = transportOf(7, { api: API, fetch: workerFetch(owner.accessToken) });
    const live = await t.sendMessages({
      chatId,
      messages: [userMessage('tell me a long story')],
      trigger: 'submit-message',
      messageId: undefined,
      abortSignal: undefined,
    });
    const reader = (live as ReadableStream<AnyChunk>).getReader();
    const chunks: AnyChunk[] = [];
    for (let r = await reader.read(); !r.done; r = await reader.read()) {
      chunks.push(r.value);
      if (r.value.type === 'text-delta') break;
    }
    const stopped = await expectJson(await call(`/v1/chat/${chatId}/stop`, { token: owner.accessToken, body: {} }));
    expect(stopped.stopped).toEqual([expect.objectContaining({ status: 'stopped' })]);
    for (let r = await reader.read(); !r.done; r = await reader.read()) chunks.push(r.value);
    expect(chunks.at(-1)).toMatchObject({ type: 'abort' });
    const { message } = await collect(
      new ReadableStream({
        start(c) {
          for (const x of chunks) c.enqueue(x);
          c.close();
        },
      }),
      7,
    );
    const chat = await getChat(owner.accessToken, chatId);
    expect(chat.lastTurn.status).toBe('stopped');
    expect(textOf(chat.messages[1])).toBe('tell ');
    expect(textOf(chat.messages[1])).toBe(textOf(message));
    expect(chat.messages[1].metadata.status).toBe('stopped');
    const run = await eventually(async () => {
      const r = await expectJson(await call(`/v1/runs/${chat.messages[1].metadata.runId}`, { token: owner.accessToken }));
      return r.status === 'cancelled' ? r : undefined;
    });
    expect(run.status).toBe('cancelled');
    expect(await providerCalls(tag)).toHaveLength(1);
    // Stopping again stops nothing; the chat takes a new message at once.
    expect((await expectJson(await call(`/v1/chat/${chatId}/stop`, { token: owner.accessToken, body: {} }))).stopped).toEqual([]);
    const events = await runInDurableObject(hub(owner.tenantId), (_i, s) =>
      s.storage.sql.exec<{ event: string }>(`SELECT event FROM outbox`).toArray(),
    );
    expect(events.map((e) => JSON.parse(e.event)).find((e) => e.type === 'chat.turn.completed')?.data).toMatchObject({
      chatId,
      outcome: 'stopped',
    });
  });

  it('provider failover: ai@7 clients get reset-step and drop the failed text; ai@6 clients a transient data-reset-step; the stored answer is clean', async () => {
    for (const version of [7, 6] as const) {
      const owner = await signup(`chat-failover-${version}`);
      const tag = newTag();
      await assistantProvider(owner, tag, 'first', [{ text: 'This answer will be cut off somewhere in the middle of it', step: 'drop' }]);
      await assistantProvider(owner, tag, 'second', [{ text: 'The whole answer.' }]);
      const chatId = newChatId();
      const { chunks, message } = await sendTurn(owner.accessToken, chatId, [userMessage('hello there')], {
        version,
        headers: version === 7 ? { 'x-ui-stream-version': '7' } : {},
      });
      const types = chunks.map((c) => c.type);
      if (version === 7) {
        expect(types).toContain('reset-step');
        expect(textOf(message)).toBe('The whole answer.');
      } else {
        expect(types).not.toContain('reset-step');
        expect(chunks).toContainEqual(expect.objectContaining({ type: 'data-reset-step', transient: true }));
      }
      const chat = await getChat(owner.accessToken, chatId);
      expect(textOf(chat.messages[1])).toBe('The whole answer.');
      expect(chat.messages[1].metadata).toMatchObject({ provider: 'second' });
      expect((await providerCalls(tag, 'first')).length).toBeGreaterThanOrEqual(1);
    }
  });

  it('onBusy: reject answers 409, queue answers after the running turn, interrupt stops it first', async () => {
    const owner = await signup('chat-busy');
    const tag = newTag();
    await assistantProvider(owner, tag, 'main', [
      { text: 'First answer.', barrier: 'b1', parties: 2 },
      { text: 'release', barrier: 'b1', parties: 2 },
      { text: 'Second answer.' },
      { step: 'stall' },
      { text: 'After the interruption.' },
    ]);
    const chatId = newChatId();
    const first = sendTurn(owner.accessToken, chatId, [userMessage('one')]);
    await eventually(async () => ((await providerCalls(tag)).length === 1 ? true : undefined));
    const rejected = await call('/v1/chat', { token: owner.accessToken, body: { id: chatId, messages: [userMessage('two')] } });
    expect((await expectProblem(rejected, 409)).detail).toMatch(/onBusy/);
    const queued = sendTurn(owner.accessToken, chatId, [userMessage('two')], { query: '?onBusy=queue' });
    await eventually(async () => ((await getChat(owner.accessToken, chatId)).lastTurn.status === 'queued' ? true : undefined));
    await releaseBarrier(tag, 'main');
    const [a, b] = await Promise.all([first, queued]);
    expect(textOf(a.message)).toBe('First answer.');
    expect(textOf(b.message)).toBe('Second answer.');
    const chat = await getChat(owner.accessToken, chatId);
    expect(chat.messages.map((m: AnyMessage) => `${m.role}:${textOf(m)}`)).toEqual([
      'user:one',
      'assistant:First answer.',
      'user:two',
      'assistant:Second answer.',
    ]);

    const stalled = sendTurn(owner.accessToken, chatId, [userMessage('three')]);
    // The stalled answer has streamed its first word when the interruption comes.
    await eventually(async () => (textOf((await getChat(owner.accessToken, chatId)).messages[5]) === 'three' ? true : undefined));
    const interrupting = await sendTurn(owner.accessToken, chatId, [userMessage('four')], { query: '?onBusy=interrupt' });
    const cut = await stalled;
    expect(cut.chunks.at(-1)).toMatchObject({ type: 'abort' });
    expect(textOf(interrupting.message)).toBe('After the interruption.');
    const after = await getChat(owner.accessToken, chatId);
    expect(after.messages.slice(4).map((m: AnyMessage) => `${m.role}:${textOf(m)}`)).toEqual([
      'user:three',
      'assistant:three',
      'user:four',
      'assistant:After the interruption.',
    ]);
    expect(after.messages[5].metadata.status).toBe('stopped');
  });

  it('a failed turn ends with an error chunk, keeps the chat usable and is a chat.turn.failed event', async () => {
    const owner = await signup('chat-fail');
    const tag = newTag();
    await assistantProvider(owner, tag, 'main', [{ step: '401' }]);
    const chatId = newChatId();
    const { chunks, errors } = await sendTurn(owner.accessToken, chatId, [userMessage('hello')], { allowErrors: true });
    expect(errors).toEqual([expect.objectContaining({ message: chunks.at(-2)?.errorText })]);
    expect(chunks.slice(-2)).toEqual([
      { type: 'error', errorText: expect.any(String) },
      { type: 'finish', finishReason: 'error', messageMetadata: expect.objectContaining({ status: 'failed' }) },
    ]);
    expect(await turnStatus(owner, chatId)).toBe('failed');
    const events = await eventually(async () => {
      const rows = await runInDurableObject(hub(owner.tenantId), (_i, s) =>
        s.storage.sql.exec<{ event: string }>(`SELECT event FROM outbox`).toArray(),
      );
      const e = rows.map((r) => JSON.parse(r.event)).filter((x) => x.type === 'chat.turn.failed');
      return e.length ? e : undefined;
    });
    expect(events[0].data).toMatchObject({ chatId, error: expect.any(String) });
  });
});
