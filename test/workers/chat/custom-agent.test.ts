// A tenant's own assistant (settings.assistantAgentId): its tools and models, and a crew behind it.
import { describe, expect, it } from 'vitest';
import { type AnyMessage, plain } from '../../support/shared/ai-client';
import { eventually } from '../../support/shared/time';
import { call, expectJson } from '../../support/workers/http';
import { signup, type TestTenant } from '../../support/workers/tenants';
import { API, assistantProvider, chatClient, getChat, newChatId, newTag, sendTurn, textOf, userMessage, workerFetch } from './_support';

async function agent(t: TestTenant, body: Record<string, unknown>): Promise<string> {
  return (await expectJson(await call('/v1/agents', { token: t.accessToken, body }), 201)).id;
}

async function useAssistant(t: TestTenant, agentId: string): Promise<void> {
  await expectJson(await call('/v1/tenant', { method: 'PATCH', token: t.accessToken, body: { settings: { assistantAgentId: agentId } } }));
}

const part = (m: AnyMessage | undefined, name: string) =>
  m?.parts.find((p) => p.type === `tool-${name}`) as Record<string, any> | undefined;

describe("the tenant's own assistant", () => {
  it('answers with the agent the tenant chose: its tools only', async () => {
    const owner = await signup('chat-own-agent');
    const id = await agent(owner, { name: 'Reader', instructions: 'Only read.', tools: [{ type: 'builtin', name: 'listTasks' }] });
    await useAssistant(owner, id);
    const { message } = await sendTurn(owner.accessToken, newChatId(), [userMessage('buy milk tomorrow')]);
    expect(textOf(message)).toMatch(/not available/);
    const run = await expectJson(await call(`/v1/runs/${(message!.metadata as { runId: string }).runId}`, { token: owner.accessToken }));
    expect(run).toMatchObject({ flowId: 'assistant', status: 'succeeded' });
    expect(await expectJson(await call('/v1/tasks', { token: owner.accessToken }))).toMatchObject({ data: [] });
  });

  it("a manager delegating to an agent: the delegate's approval reaches the client, the answer continues the crew", async () => {
    const owner = await signup('chat-crew');
    const doomed = await expectJson(await call('/v1/tasks', { token: owner.accessToken, body: { title: 'old dentist' } }), 201);
    const tag = newTag();
    await assistantProvider(owner, tag, 'main', [
      { toolCalls: [{ name: 'cleaner', arguments: { task: 'delete the old dentist task' } }] },
      { toolCalls: [{ name: 'deleteTask', arguments: { taskId: doomed.id } }] },
      { text: 'Deleted it.' },
      { text: 'The cleaner deleted the old dentist task.' },
    ]);
    const model = { providers: ['main'], model: 'assistant' };
    const cleaner = await agent(owner, { name: 'Cleaner', ...model, tools: [{ type: 'builtin', name: 'deleteTask' }] });
    const boss = await agent(owner, { name: 'Boss', ...model, tools: [{ type: 'agent', agentId: cleaner, name: 'cleaner' }] });
    await useAssistant(owner, boss);

    const chatId = newChatId();
    const chat = chatClient(7, { id: chatId, api: API, fetch: workerFetch(owner.accessToken, { 'x-ui-stream-version': '7' }) });
    await chat.sendMessage({ text: 'clean up my tasks' });
    expect(part(chat.lastMessage, 'cleaner')).toMatchObject({ state: 'input-available', input: { task: 'delete the old dentist task' } });
    const ask = part(chat.lastMessage, 'deleteTask')!;
    expect(ask).toMatchObject({ state: 'approval-requested', input: { taskId: doomed.id } });
    expect((await getChat(owner.accessToken, chatId)).lastTurn.status).toBe('waiting');

    await chat.addToolApprovalResponse({ id: ask.approval.id, approved: true });
    // The delegating call has no result yet, so the SDK's automatic resend does not apply: the app sends.
    await chat.sendMessage();
    expect(chat.status).toBe('ready');
    const answer = chat.lastMessage!;
    expect(textOf(answer)).toBe('The cleaner deleted the old dentist task.');
    expect(part(answer, 'cleaner')).toMatchObject({ state: 'output-available' });
    expect(part(answer, 'deleteTask')).toMatchObject({ state: 'output-available' });
    const stored = await eventually(async () => {
      const c = await getChat(owner.accessToken, chatId);
      return c.lastTurn.status === 'completed' ? c : undefined;
    });
    expect(plain(stored.messages[1])).toEqual(plain(answer));
    await expectJson(await call(`/v1/tasks/${doomed.id}`, { token: owner.accessToken }), 404);
  });
});
