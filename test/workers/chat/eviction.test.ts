// Every object torn down mid-turn: the run resumes from its steps, the chat's alarm restarts its pump from the
// persisted cursor, and the stored answer and a resumed client show each part once.
import { abortAllDurableObjects, runDurableObjectAlarm } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { type AnyChunk, type AnyMessage, plain } from '../../support/shared/ai-client';
import { eventually } from '../../support/shared/time';
import { chatThread, flowRun } from '../../support/workers/durable-objects';
import { call, expectJson } from '../../support/workers/http';
import { signup } from '../../support/workers/tenants';
import {
  API,
  assistantProvider,
  chatClient,
  getChat,
  newChatId,
  newTag,
  providerCalls,
  textOf,
  transportOf,
  userMessage,
  workerFetch,
} from './_support';

describe('chat eviction', () => {
  it('a turn survives its objects being torn down mid-answer', async () => {
    const owner = await signup('chat-evict');
    const tag = newTag();
    await assistantProvider(owner, tag, 'main', [
      { toolCalls: [{ name: 'listTasks', arguments: {} }] },
      { text: 'lost with the object', barrier: 'b', parties: 2 },
      { text: 'Nothing is open.', barrier: 'b', parties: 2 },
    ]);
    const chatId = newChatId();
    const t = transportOf(6, { api: API, fetch: workerFetch(owner.accessToken) });
    const live = (await t.sendMessages({
      chatId,
      messages: [userMessage('anything open?')],
      trigger: 'submit-message',
      messageId: undefined,
      abortSignal: undefined,
    })) as ReadableStream<AnyChunk>;
    const reader = live.getReader();
    for (let r = await reader.read(); !r.done; r = await reader.read()) if (r.value.type === 'tool-output-available') break;
    await eventually(async () => ((await providerCalls(tag)).length === 2 ? true : undefined));
    const runId = (await getChat(owner.accessToken, chatId)).messages[1].metadata.runId as string;

    await abortAllDurableObjects();
    await reader.cancel().catch(() => undefined);

    // The run's alarm re-runs the interrupted model step (the fake answers it), then the chat's alarm catches up.
    const run = await eventually(
      async () => {
        await runDurableObjectAlarm(flowRun(runId)).catch(() => false);
        const r = await expectJson(await call(`/v1/runs/${runId}`, { token: owner.accessToken }));
        return r.status === 'succeeded' ? r : undefined;
      },
      { timeoutMs: 15_000 },
    );
    expect(run.status).toBe('succeeded');
    const chat = await eventually(
      async () => {
        await runDurableObjectAlarm(chatThread(owner.tenantId, chatId)).catch(() => false);
        const c = await getChat(owner.accessToken, chatId);
        return c.lastTurn.status === 'completed' ? c : undefined;
      },
      { timeoutMs: 15_000 },
    );
    const answer = chat.messages[1] as AnyMessage;
    expect(textOf(answer)).toBe('Nothing is open.');
    expect(answer.parts.map((p) => p.type)).toEqual(['step-start', 'tool-listTasks', 'step-start', 'text']);

    // A client that resumes now finds nothing streaming and the stored answer whole.
    const client = chatClient(7, { id: chatId, api: API, fetch: workerFetch(owner.accessToken), messages: structuredClone(chat.messages) });
    await client.resumeStream();
    expect(plain(client.messages)).toEqual(plain(chat.messages));
  });
});
