/**
 * The `llm` node against the fake OpenAI server through a fake ExecContext: streaming deltas, what is
 * sent on the wire (key, idempotency headers, stream options), usage and cost, the non-streaming
 * fallback, structured output, and configuration errors.
 */
import { describe, expect, it } from 'vitest';
import { llmNode } from '../../../src/flows/nodes/llm';
import { NodeError } from '../../../src/flows/nodes/types';
import { addFakeProvider, FAKE_KEY, fakeCtx, newTag, received, rejection, runLlm, seedTenant } from './llm-fixtures';

const PERSON = {
  type: 'object',
  required: ['name', 'age'],
  properties: { name: { type: 'string' }, age: { type: 'integer', minimum: 0 } },
  additionalProperties: false,
};

describe('llm node: streaming answer', () => {
  it('renders the prompt, streams deltas, and returns text, provider, model and priced usage', async () => {
    const t = await seedTenant();
    const tag = newTag();
    await addFakeProvider(t, 'main', tag, 'ok');
    const rec = fakeCtx(t.tenantId, { input: { word: 'hello' } });
    const result = await runLlm(
      { providers: ['main'], model: 'fast', prompt: 'Say {{ input.word }} twice please', temperature: 0.2, maxTokens: 64 },
      rec,
    );

    // Four words → four content chunks; usage as the fake reports it (4 prompt words, 4 chunks).
    expect(rec.deltas).toEqual([{ text: 'Say ' }, { text: 'hello ' }, { text: 'twice ' }, { text: 'please' }]);
    const usage = { inputTokens: 4, outputTokens: 4, costUsd: (4 * 150 + 4 * 600) / 1e6 };
    expect(result).toEqual({
      status: 'succeeded',
      output: { text: 'Say hello twice please', provider: 'main', model: 'fake-gpt-mini', usage },
    });
    expect(rec.usage).toEqual([{ provider: 'main', model: 'fake-gpt-mini', ...usage }]);

    const [req] = await received(tag);
    expect(req!.headers).toMatchObject({
      authorization: `Bearer ${FAKE_KEY}`,
      'idempotency-key': rec.ctx.idempotencyKey,
      'x-request-id': rec.ctx.idempotencyKey,
      'content-type': 'application/json',
    });
    expect(req!.body).toEqual({
      model: 'fake-gpt-mini',
      messages: [{ role: 'user', content: 'Say hello twice please' }],
      stream: true,
      stream_options: { include_usage: true },
      temperature: 0.2,
      max_tokens: 64,
    });
  });

  it('sends the rendered system message first', async () => {
    const t = await seedTenant();
    const tag = newTag();
    await addFakeProvider(t, 'main', tag, 'ok');
    const rec = fakeCtx(t.tenantId, { input: { lang: 'French' } });
    await runLlm({ providers: ['main'], model: 'fast', system: 'Answer in {{ input.lang }}.', prompt: 'Bonjour' }, rec);
    const [req] = await received(tag);
    expect(req!.body!.messages).toEqual([
      { role: 'system', content: 'Answer in French.' },
      { role: 'user', content: 'Bonjour' },
    ]);
    // 3 + 1 prompt words, 1 chunk.
    expect(rec.usage[0]).toMatchObject({ inputTokens: 4, outputTokens: 1 });
  });

  it('falls back to a non-streaming JSON answer when the server does not stream', async () => {
    const t = await seedTenant();
    await addFakeProvider(t, 'plain', newTag(), 'json');
    const rec = fakeCtx(t.tenantId);
    const result = await runLlm({ providers: ['plain'], model: 'fast', prompt: 'one two three' }, rec);
    expect(rec.deltas).toEqual([{ text: 'one two three' }]);
    expect(result).toMatchObject({ output: { text: 'one two three', provider: 'plain', usage: { inputTokens: 3, outputTokens: 3 } } });
  });

  it('estimates usage (flagged) when the provider reports none', async () => {
    const t = await seedTenant();
    await addFakeProvider(t, 'quiet', newTag(), 'nousage');
    const rec = fakeCtx(t.tenantId);
    const result = await runLlm({ providers: ['quiet'], model: 'fast', prompt: 'abcdefgh' }, rec);
    expect(result).toMatchObject({ output: { text: 'abcdefgh', usage: { inputTokens: 2, outputTokens: 2, estimated: true } } });
    expect(rec.usage[0]).toEqual({
      provider: 'quiet',
      model: 'fake-gpt-mini',
      inputTokens: 2,
      outputTokens: 2,
      costUsd: (2 * 150 + 2 * 600) / 1e6,
    });
  });

  it('each node attempt sends its own idempotency key', async () => {
    const t = await seedTenant();
    const tag = newTag();
    await addFakeProvider(t, 'main', tag, 'ok');
    const first = fakeCtx(t.tenantId, { attempt: 1 });
    const second = fakeCtx(t.tenantId, { attempt: 2 });
    await runLlm({ providers: ['main'], model: 'fast', prompt: 'hi' }, first);
    await runLlm({ providers: ['main'], model: 'fast', prompt: 'hi' }, second);
    expect((await received(tag)).map((r) => r.headers['idempotency-key'])).toEqual([first.ctx.idempotencyKey, second.ctx.idempotencyKey]);
    expect(first.ctx.idempotencyKey).not.toBe(second.ctx.idempotencyKey);
  });
});

describe('llm node: outputSchema', () => {
  it('parses and validates a JSON answer; output carries json, and the schema is given to the model', async () => {
    const t = await seedTenant();
    const tag = newTag();
    await addFakeProvider(t, 'main', tag, 'ok');
    const rec = fakeCtx(t.tenantId);
    const result = await runLlm({ providers: ['main'], model: 'fast', prompt: '{"name": "Ada", "age": 36}', outputSchema: PERSON }, rec);
    expect(result).toMatchObject({ status: 'succeeded', output: { text: '{"name": "Ada", "age": 36}', json: { name: 'Ada', age: 36 } } });
    const [req] = await received(tag);
    expect(req!.body!.messages[0].role).toBe('system');
    expect(req!.body!.messages[0].content).toContain(JSON.stringify(PERSON));
  });

  it('accepts an answer wrapped in a Markdown code fence', async () => {
    const t = await seedTenant();
    await addFakeProvider(t, 'main', newTag(), 'ok');
    const result = await runLlm(
      { providers: ['main'], model: 'fast', prompt: '```json\n{"name": "Ada", "age": 36}\n```', outputSchema: PERSON },
      fakeCtx(t.tenantId),
    );
    expect(result).toMatchObject({ output: { json: { name: 'Ada', age: 36 } } });
  });

  it.each([
    ['a schema violation', '{"name": "Ada", "age": "old"}', '/age'],
    ['a missing property', '{"name": "Ada"}', ''],
    ['an answer that is not JSON', 'Sure! Here is the person you asked for.', ''],
  ])('%s → retryable invalid_output naming the path; usage is still recorded', async (_label, answer, path) => {
    const t = await seedTenant();
    await addFakeProvider(t, 'main', newTag(), 'ok');
    const rec = fakeCtx(t.tenantId);
    const err = await rejection(() => runLlm({ providers: ['main'], model: 'fast', prompt: answer, outputSchema: PERSON }, rec));
    expect(err).toBeInstanceOf(NodeError);
    expect(err).toMatchObject({ kind: 'invalid_output', retryable: true, details: { provider: 'main' } });
    expect(err.message).toContain("llm 'ask'");
    expect(err.details.problems.map((p: { path: string }) => p.path)).toContain(path);
    expect(rec.usage).toHaveLength(1);
  });

  it('a schema that cannot be used is refused with the node config, before any run', () => {
    const bad = llmNode.config.safeParse({ providers: ['main'], model: 'fast', prompt: 'x', outputSchema: { $ref: '#/$defs/missing' } });
    expect(bad.success).toBe(false);
    const ok = llmNode.config.safeParse({ providers: ['main'], model: 'fast', prompt: 'x', outputSchema: PERSON });
    expect(ok.success).toBe(true);
  });
});

describe('llm node: configuration errors are not retryable', () => {
  it('unknown provider names fail naming them', async () => {
    const t = await seedTenant();
    await addFakeProvider(t, 'main', newTag(), 'ok');
    const err = await rejection(() =>
      runLlm({ providers: ['main', 'ghost', 'phantom'], model: 'fast', prompt: 'hi' }, fakeCtx(t.tenantId)),
    );
    expect(err).toMatchObject({ kind: 'provider', retryable: false, details: { missing: ['ghost', 'phantom'] } });
  });

  it("another tenant's provider is not found by name", async () => {
    const a = await seedTenant('node-iso-a');
    const b = await seedTenant('node-iso-b');
    const tag = newTag();
    await addFakeProvider(a, 'theirs', tag, 'ok');
    const err = await rejection(() => runLlm({ providers: ['theirs'], model: 'fast', prompt: 'hi' }, fakeCtx(b.tenantId)));
    expect(err).toMatchObject({ kind: 'provider', retryable: false, details: { missing: ['theirs'] } });
    expect(await received(tag)).toEqual([]);
  });

  it('a model alias no provider maps fails without calling anyone', async () => {
    const t = await seedTenant();
    const tag = newTag();
    await addFakeProvider(t, 'main', tag, 'ok');
    const err = await rejection(() => runLlm({ providers: ['main'], model: 'huge', prompt: 'hi' }, fakeCtx(t.tenantId)));
    expect(err).toMatchObject({ kind: 'provider', retryable: false });
    expect(err.message).toContain("maps model 'huge'");
    expect(await received(tag)).toEqual([]);
  });

  it('rejects malformed configs', () => {
    for (const config of [
      { providers: [], model: 'fast', prompt: 'x' },
      { providers: ['a'], model: 'fast' },
      { providers: ['a'], model: 'fast', prompt: 'x', temperature: 3 },
      { providers: ['a'], model: 'fast', prompt: 'x', timeoutMs: 10 },
      { providers: ['a'], model: 'fast', prompt: 'x', extra: true },
    ]) {
      expect(llmNode.config.safeParse(config).success, JSON.stringify(config)).toBe(false);
    }
  });
});
