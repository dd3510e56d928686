/**
 * Feedback on assistant messages: `{ type: "chat_message", id, chatId }` rated through the API
 * (attributes from the turn's run: flow, provider, model, agent) and with the presigned token every
 * assistant message carries in its metadata (validated by the ai@6 and ai@7 clients); another
 * tenant's chat, an unknown or a user message are 404; a message's token rates that message only.
 * Agent nodes name their agent, so ratings group by agentId.
 */
import { describe, expect, it } from 'vitest';
import type { AnyMessage } from '../../support/shared/ai-client';
import { call, expectJson, expectProblem } from '../../support/workers/http';
import { signup, type TestTenant } from '../../support/workers/tenants';
import { assistantProvider, newChatId, newTag, sendTurn, userMessage } from '../chat/_support';
import { createKey, get, type Json, post } from './_support';

/** A rating with no Authorization header, from a browser. */
function rateByToken(token: string, body: Json) {
  return call(`/v1/feedback/by-token/${encodeURIComponent(token)}`, { body, headers: { origin: 'https://app.example' } });
}

const metaOf = (m: AnyMessage | undefined) => (m?.metadata ?? {}) as Json;

async function useAgent(t: TestTenant, body: Json): Promise<string> {
  const id: string = (await post(t, '/v1/agents', body)).id;
  await expectJson(await call('/v1/tenant', { method: 'PATCH', token: t.accessToken, body: { settings: { assistantAgentId: id } } }));
  return id;
}

describe('feedback on assistant messages', () => {
  it('rates an assistant message through the API and with the token in its metadata; the token rates that message only', async () => {
    const t = await signup('fb-chat');
    await createKey(t, { key: 'helpful', type: 'boolean' });
    const tag = newTag();
    await assistantProvider(t, tag, 'main', [{ text: 'Hello there.' }, { text: 'Still here.' }]);
    const chatId = newChatId();
    const first = await sendTurn(t.accessToken, chatId, [userMessage('hi')], { version: 6 });
    const second = await sendTurn(t.accessToken, chatId, [userMessage('again')], { version: 7 });
    const [m1, m2] = [first.message!, second.message!];

    // Each answer's metadata carries its own token, from the stream's first chunk (both SDK versions validated it).
    for (const { chunks, message } of [first, second]) {
      expect(chunks[0]).toMatchObject({ type: 'start', messageMetadata: { feedbackToken: { token: expect.stringMatching(/^fbt_/) } } });
      expect(metaOf(message).feedbackToken).toEqual((chunks[0] as Json).messageMetadata.feedbackToken);
    }
    const token1: string = metaOf(m1).feedbackToken.token;
    const token2: string = metaOf(m2).feedbackToken.token;
    expect(token1).not.toBe(token2);
    expect(Date.parse(metaOf(m1).feedbackToken.expiresAt)).toBeGreaterThan(Date.now() + 7 * 86_400_000);
    // The stored chat shows the same tokens.
    const chat = await get(t, `/v1/chats/${chatId}`);
    expect(chat.messages.filter((m: Json) => m.role === 'assistant').map((m: Json) => m.metadata.feedbackToken.token)).toEqual([
      token1,
      token2,
    ]);

    // Through the API: the attributes come from the turn's run.
    const target = { type: 'chat_message', id: m1.id, chatId };
    const viaApi = await post(t, '/v1/feedback', { target, key: 'helpful', score: true });
    expect(viaApi).toMatchObject({
      target,
      score: 1,
      source: 'user',
      attributes: { runId: metaOf(m1).runId, flowId: 'assistant', nodeId: 'assistant', provider: 'main', agentId: null },
    });
    expect(viaApi.attributes.model).toEqual(expect.any(String));
    // A second rating by the same member updates it.
    expect(await post(t, '/v1/feedback', { target, key: 'helpful', score: false }, 200)).toMatchObject({ id: viaApi.id, score: 0 });

    // With the token, no credential: rates message 1 as the token's rater.
    const byToken = await expectJson(await rateByToken(token1, { key: 'helpful', score: true }), 201);
    expect(byToken).toMatchObject({
      target,
      actor: { type: 'token', id: `chat_message:${m1.id}@${chatId}` },
      attributes: { runId: metaOf(m1).runId },
    });
    // ...and nothing else: naming message 2 (or the same message in another chat) is refused.
    expect((await rateByToken(token1, { key: 'helpful', score: true, target: { type: 'chat_message', id: m2.id, chatId } })).status).toBe(
      403,
    );
    expect(
      (await rateByToken(token1, { key: 'helpful', score: true, target: { type: 'chat_message', id: m1.id, chatId: newChatId() } })).status,
    ).toBe(403);
    expect((await get(t, `/v1/feedback?targetId=${m2.id}`)).data).toEqual([]);
    // Message 2's own token rates message 2.
    expect(await expectJson(await rateByToken(token2, { key: 'helpful', score: true }), 201)).toMatchObject({
      target: { type: 'chat_message', id: m2.id, chatId },
      attributes: { runId: metaOf(m2).runId },
    });
    expect((await get(t, `/v1/feedback?targetType=chat_message&targetId=${m1.id}`)).data).toHaveLength(2);
  });

  it('chatId is required for chat_message targets and refused on others (422 naming the field); unknown, user and foreign messages are 404', async () => {
    const a = await signup('fb-chat-a');
    const b = await signup('fb-chat-b');
    for (const t of [a, b]) await createKey(t, { key: 'helpful', type: 'boolean' });
    const chatId = newChatId();
    const { message } = await sendTurn(a.accessToken, chatId, [userMessage('list my tasks', 'u-first')]);
    const rate = (t: TestTenant, target: Json) =>
      call('/v1/feedback', { token: t.accessToken, body: { target, key: 'helpful', score: true } });

    const missing = await expectProblem(await rate(a, { type: 'chat_message', id: message!.id }), 422);
    expect(missing.errors.map((e: Json) => e.path)).toEqual(['target.chatId']);
    const refused = await expectProblem(await rate(a, { type: 'run', id: metaOf(message).runId, chatId }), 422);
    expect(refused.errors.map((e: Json) => e.path)).toEqual(['target.chatId']);

    // The owner can rate it; nobody can rate what is not an assistant message of the chat.
    expect((await rate(a, { type: 'chat_message', id: message!.id, chatId })).status).toBe(201);
    await expectProblem(await rate(a, { type: 'chat_message', id: 'msg_nope', chatId }), 404);
    await expectProblem(await rate(a, { type: 'chat_message', id: 'u-first', chatId }), 404);
    await expectProblem(await rate(a, { type: 'chat_message', id: message!.id, chatId: newChatId() }), 404);
    // Another tenant naming the same chat and message: 404, and no token for it either.
    await expectProblem(await rate(b, { type: 'chat_message', id: message!.id, chatId }), 404);
    await expectProblem(
      await call('/v1/feedback/tokens', { token: b.accessToken, body: { target: { type: 'chat_message', id: message!.id, chatId } } }),
      404,
    );
  });

  it("ratings of a tenant's own assistant carry its agentId (from the agent node's output) and group by it", async () => {
    const t = await signup('fb-chat-agent');
    await createKey(t, { key: 'stars', type: 'numeric', min: 1, max: 5 });
    const tag = newTag();
    await assistantProvider(t, tag, 'main', [{ text: 'built-in answer' }, { text: 'own agent answer' }]);
    const builtIn = await sendTurn(t.accessToken, newChatId(), [userMessage('one')]);
    const agentId = await useAgent(t, { name: 'Helper', instructions: 'Help.', providers: ['main'], model: 'assistant' });
    const chatId = newChatId();
    const own = await sendTurn(t.accessToken, chatId, [userMessage('two')]);

    const rated = await post(t, '/v1/feedback', { target: { type: 'chat_message', id: own.message!.id, chatId }, key: 'stars', score: 5 });
    expect(rated.attributes).toMatchObject({ agentId, provider: 'main', flowId: 'assistant' });
    // The run itself names the agent too: its agent node's output says which agent answered.
    const run = await post(t, '/v1/feedback', { target: { type: 'run', id: metaOf(own.message).runId }, key: 'stars', score: 4 });
    expect(run.attributes).toMatchObject({ agentId, nodeId: 'assistant', provider: 'main' });
    await post(t, '/v1/feedback', { target: { type: 'run', id: metaOf(builtIn.message).runId }, key: 'stars', score: 2 });

    const stats = await get(t, '/v1/feedback/stats?key=stars&groupBy=agentId');
    const byGroup = Object.fromEntries(stats.buckets.map((b: Json) => [String(b.group), { count: b.count, mean: b.mean }]));
    expect(byGroup).toEqual({ [agentId]: { count: 2, mean: 4.5 }, null: { count: 1, mean: 2 } });
  });
});
