/**
 * Provider failover inside one `llm` node attempt, against the fake OpenAI server scripted to fail:
 * 500, 429 with Retry-After, hangs (the per-attempt timeout), streams that stall, drop or report an
 * error mid-answer, non-retryable 4xx, every provider failing, and cancellation.
 */
import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import { NodeError } from '../../../src/flows/nodes/types';
import {
  addFakeProvider,
  api,
  expectStatus,
  fakeCtx,
  MODELS,
  newTag,
  received,
  rejection,
  runLlm,
  seedTenant,
  streamedText,
} from './llm-fixtures';

const PROMPT = 'the quick brown fox';

async function twoProviders(first: string, second = 'ok') {
  const t = await seedTenant('failover');
  const tag = newTag();
  await addFakeProvider(t, 'primary', tag, first);
  await addFakeProvider(t, 'backup', tag, second);
  return { t, tag };
}

/** Which scripted steps the fake served, in order. */
async function served(tag: string): Promise<string[]> {
  return (await received(tag)).map((r) => `${r.script}:${r.step}`);
}

describe('llm failover: the next provider answers', () => {
  it.each([
    ['a 500', '500'],
    ['a 503', '503'],
    ['a 429 with Retry-After', '429s3'],
  ])('after %s from the first provider', async (_label, script) => {
    const { t, tag } = await twoProviders(script);
    const rec = fakeCtx(t.tenantId);
    const result = await runLlm({ providers: ['primary', 'backup'], model: 'fast', prompt: PROMPT }, rec);
    expect(result).toMatchObject({ status: 'succeeded', output: { text: PROMPT, provider: 'backup' } });
    expect(await served(tag)).toEqual([`${script}:${script}`, 'ok:ok']);
    // The failed provider streamed nothing, so there is nothing to take back.
    expect(rec.deltas.some((d) => d.reset)).toBe(false);
    expect(rec.usage).toEqual([expect.objectContaining({ provider: 'backup' })]);
  });

  it('after a hang, at the per-attempt timeout', async () => {
    const { t, tag } = await twoProviders('hang');
    const started = Date.now();
    const result = await runLlm({ providers: ['primary', 'backup'], model: 'fast', prompt: PROMPT, timeoutMs: 300 }, fakeCtx(t.tenantId));
    expect(result).toMatchObject({ output: { provider: 'backup', text: PROMPT } });
    expect(Date.now() - started).toBeGreaterThanOrEqual(280);
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(await served(tag)).toEqual(['hang:hang', 'ok:ok']);
  });

  it.each([
    ['stalls', 'stall'],
    ['drops the connection', 'drop'],
    ['ends early (no finish_reason, no [DONE])', 'truncate'],
    ['sends an error chunk', 'sseerr'],
  ])('when the first stream %s mid-answer: the partial text is reset, the backup streams the whole answer', async (_label, script) => {
    const { t } = await twoProviders(script);
    const rec = fakeCtx(t.tenantId);
    const result = await runLlm({ providers: ['primary', 'backup'], model: 'fast', prompt: PROMPT, timeoutMs: 400 }, rec);
    expect(result).toMatchObject({ output: { provider: 'backup', text: PROMPT } });
    const reset = rec.deltas.findIndex((d) => d.reset === true);
    expect(reset).toBeGreaterThan(0);
    expect(rec.deltas[reset]).toEqual({ reset: true, reason: 'failover', provider: 'backup' });
    expect(rec.deltas.slice(0, reset)).toEqual([{ text: 'the ' }]);
    expect(streamedText(rec.deltas)).toBe(PROMPT);
  });

  it('skips a provider that does not map the model alias', async () => {
    const t = await seedTenant('failover');
    const tag = newTag();
    await addFakeProvider(t, 'other-models', tag, 'ok', { models: { tiny: { model: 'fake-tiny' } } });
    await addFakeProvider(t, 'backup', tag, 'ok');
    const result = await runLlm({ providers: ['other-models', 'backup'], model: 'fast', prompt: PROMPT }, fakeCtx(t.tenantId));
    expect(result).toMatchObject({ output: { provider: 'backup' } });
    expect((await received(tag)).length).toBe(1);
  });

  it('moves past a workers-ai provider whose binding is unavailable', async () => {
    const t = await seedTenant('failover');
    const tag = newTag();
    await expectStatus(
      await api('/v1/llm/providers', { token: t.accessToken, body: { name: 'cf', kind: 'workers-ai', models: MODELS } }),
      201,
    );
    await addFakeProvider(t, 'backup', tag, 'ok');
    // Locally the AI binding is a stub that can only run remotely (and logs an uncaught rejection of its own), so go without it.
    const noAi = { ...env, AI: undefined } as unknown as Env;
    const result = await runLlm(
      { providers: ['cf', 'backup'], model: 'fast', prompt: PROMPT, timeoutMs: 2_000 },
      fakeCtx(t.tenantId, { env: noAi }),
    );
    expect(result).toMatchObject({ output: { provider: 'backup' } });
  });
});

describe('llm failover: when it stops', () => {
  it('a non-retryable 4xx ends the attempt without trying the next provider', async () => {
    const { t, tag } = await twoProviders('401');
    const err = await rejection(() => runLlm({ providers: ['primary', 'backup'], model: 'fast', prompt: PROMPT }, fakeCtx(t.tenantId)));
    expect(err).toBeInstanceOf(NodeError);
    expect(err).toMatchObject({ kind: 'http_4xx', retryable: false });
    expect(err.message).toContain('401');
    expect(err.details.attempts).toEqual([
      expect.objectContaining({ provider: 'primary', outcome: 'failed', kind: 'http_4xx', status: 401 }),
    ]);
    expect(await served(tag)).toEqual(['401:401']);
  });

  it('all providers failing is a retryable NodeError listing every attempt, with the earliest Retry-After', async () => {
    const t = await seedTenant('failover');
    const tag = newTag();
    await addFakeProvider(t, 'p500', tag, '500');
    await addFakeProvider(t, 'p429', tag, '429s3');
    await addFakeProvider(t, 'p429b', tag, '429s9');
    await addFakeProvider(t, 'phang', tag, 'hang');
    const rec = fakeCtx(t.tenantId);
    const err = await rejection(() =>
      runLlm({ providers: ['p500', 'p429', 'p429b', 'phang'], model: 'fast', prompt: PROMPT, timeoutMs: 300 }, rec),
    );
    expect(err).toBeInstanceOf(NodeError);
    expect(err).toMatchObject({ kind: 'timeout', retryable: true, details: { retryAfter: 3 } });
    expect(err.details.attempts.map((a: Record<string, unknown>) => [a.provider, a.kind, a.status ?? null])).toEqual([
      ['p500', 'http_5xx', 500],
      ['p429', 'http_429', 429],
      ['p429b', 'http_429', 429],
      ['phang', 'timeout', null],
    ]);
    expect(err.message).toContain('all providers failed');
    expect(rec.usage).toEqual([]);
    // The key never appears in errors.
    expect(JSON.stringify({ message: err.message, details: err.details })).not.toContain('sk-test');
  });

  it('a node retry after every provider failed succeeds once a provider recovers', async () => {
    const t = await seedTenant('failover');
    const tag = newTag();
    await addFakeProvider(t, 'flaky', tag, '500,ok');
    const config = { providers: ['flaky'], model: 'fast', prompt: PROMPT };
    await expect(runLlm(config, fakeCtx(t.tenantId, { attempt: 1 }))).rejects.toMatchObject({ kind: 'http_5xx', retryable: true });
    await expect(runLlm(config, fakeCtx(t.tenantId, { attempt: 2 }))).resolves.toMatchObject({ output: { provider: 'flaky' } });
  });

  it('cancellation (node timeout or run cancel) stops at once, is not retryable, and tries no other provider', async () => {
    const { t, tag } = await twoProviders('hang');
    const abort = new AbortController();
    setTimeout(() => abort.abort(new Error('run cancelled')), 150);
    const started = Date.now();
    const err = await rejection(() =>
      runLlm(
        { providers: ['primary', 'backup'], model: 'fast', prompt: PROMPT, timeoutMs: 10_000 },
        fakeCtx(t.tenantId, { signal: abort.signal }),
      ),
    );
    expect(err).toMatchObject({ kind: 'cancelled', retryable: false });
    expect(Date.now() - started).toBeLessThan(3_000);
    expect(await served(tag)).toEqual(['hang:hang']);
  });
});
