/**
 * The pure rules of knowledge bases (src/knowledge/text.ts), table-driven, and the embedders
 * (src/knowledge/embedders.ts): the local one is deterministic and normalized; provider calls are
 * batched 64 inputs per request with usage counted; Workers AI through a scripted `run` (the binding
 * is remote-only) and a clear error where it is absent.
 */
import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import { EMBED_BATCH, embed, localEmbedding } from '../../../src/knowledge/embedders';
import { chunkText, cosineQ, extractText, ftsQuery, normalize, quantize, rrf } from '../../../src/knowledge/text';
import { call, expectJson } from '../../support/workers/http';
import { signup } from '../../support/workers/tenants';
import { addFakeProvider, newTag, received } from '../flows/llm-fixtures';

describe('ftsQuery: any text is words', () => {
  it.each([
    ['refund policy', '"refund" OR "policy"'],
    ['"', null],
    ['*', null],
    ['NEAR(a b)', '"near" OR "a" OR "b"'],
    ['-alpha AND beta', '"alpha" OR "and" OR "beta"'],
    ['title:secret', '"title" OR "secret"'],
    ['ERR_REFUND_4471', '"err_refund_4471"'],
    ['Ünïcödé café', '"ünïcödé" OR "café"'],
    ['a a a', '"a"'],
  ])('%j → %j', (input, want) => {
    expect(ftsQuery(input)).toBe(want);
  });
});

describe('extractText', () => {
  it.each([
    ['html', '<p>Hello &amp; <b>bye</b></p><script>evil()</script><style>p{}</style>', 'Hello & bye'],
    ['json', '{"a":{"b":[1,"x"]},"c":true}', 'a.b[0]: 1\na.b[1]: x\nc: true'],
    ['markdown', '  # Title\n\ntext  ', '# Title\n\ntext'],
    ['text', 'plain', 'plain'],
  ] as const)('%s', (type, input, want) => {
    expect(extractText(input, type)).toBe(want);
  });
});

describe('chunkText', () => {
  const words = (n: number) => Array.from({ length: n }, (_, i) => `w${i}`).join(' ');
  it.each([
    { n: 0, max: 10, overlap: 2, chunks: 0 },
    { n: 5, max: 10, overlap: 2, chunks: 1 },
    { n: 10, max: 10, overlap: 2, chunks: 1 },
    { n: 25, max: 10, overlap: 2, chunks: 3 },
    { n: 100, max: 20, overlap: 0, chunks: 5 },
  ])('$n words, max $max, overlap $overlap → $chunks chunks', ({ n, max, overlap, chunks }) => {
    const out = chunkText(words(n), max, overlap);
    expect(out).toHaveLength(chunks);
    for (const c of out) expect(c.split(/\s+/).length).toBeLessThanOrEqual(max);
    if (n > 0) {
      expect(out[0]!.startsWith('w0')).toBe(true);
      expect(out.at(-1)!.endsWith(`w${n - 1}`)).toBe(true);
    }
  });
  it('repeats `overlap` words between neighbours and prefers paragraph ends', () => {
    const out = chunkText(words(25), 10, 2);
    expect(out[1]!.split(' ')[0]).toBe('w8');
    const para = `${words(8)}.\n\n${words(8)}`;
    expect(chunkText(para, 10, 0)[0]!.endsWith('w7.')).toBe(true);
  });
});

describe('vectors', () => {
  it('int8 cosine stays within 2% of the float cosine', () => {
    const a = normalize(localEmbedding('refunds go back to the card', 256));
    const b = normalize(localEmbedding('the card gets the refund', 256));
    const exact = a.reduce((s, x, i) => s + x * b[i]!, 0);
    const { q, scale } = quantize(b);
    expect(Math.abs(cosineQ(a, q, 0, scale) - exact)).toBeLessThan(0.02);
  });
  it('reciprocal rank fusion rewards items in both lists', () => {
    const fused = [
      ...rrf([
        ['a', 'b', 'c'],
        ['c', 'a'],
      ]),
    ]
      .sort((x, y) => y[1] - x[1])
      .map(([id]) => id);
    expect(fused).toEqual(['a', 'c', 'b']);
  });
});

describe('embedders', () => {
  it('local: deterministic, normalized, the requested dimensions', async () => {
    const one = await embed(env, 'tnt_none', { provider: 'local', model: 'm', dimensions: 64 }, ['hello world', 'hello world', 'other']);
    expect(one.vectors[0]).toEqual(one.vectors[1]);
    expect(one.vectors[0]).not.toEqual(one.vectors[2]);
    expect(one.vectors[0]!).toHaveLength(64);
    expect(Math.hypot(...one.vectors[0]!)).toBeCloseTo(1, 5);
    expect(one.usage).toMatchObject({ requests: 0, estimated: true });
  });

  it('an OpenAI-compatible provider: batches of 64, vectors in input order, usage from the answers', async () => {
    const t = await signup('kb-batch');
    const tag = newTag();
    await addFakeProvider(t, 'emb', tag, 'ok');
    const texts = Array.from({ length: EMBED_BATCH * 2 + 2 }, (_, i) => `text number ${i}`);
    const out = await embed(env, t.tenantId, { provider: 'emb', model: 'fast', dimensions: 32 }, texts);
    expect(out.vectors).toHaveLength(texts.length);
    expect(out.usage).toEqual({ embeddingTokens: texts.length * 3, requests: 3, estimated: false });
    const sent = (await received(tag)).map((r) => r.body!);
    expect(sent.map((b) => b.input.length)).toEqual([64, 64, 2]);
    expect(sent[0]).toMatchObject({ model: 'fake-gpt-mini', dimensions: 32 });
    // The same text gives the same vector whichever batch it was in.
    const again = await embed(env, t.tenantId, { provider: 'emb', model: 'fast', dimensions: 32 }, [texts[129]!]);
    expect(again.vectors[0]).toEqual(out.vectors[129]);
  });

  it('Workers AI through the binding, and a clear error where the binding is absent', async () => {
    const t = await signup('kb-wai');
    await expectJson(
      await call('/v1/llm/providers', {
        token: t.accessToken,
        body: { name: 'wai', kind: 'workers-ai', models: { bge: { model: '@cf/baai/bge-base-en-v1.5' } } },
      }),
      201,
    );
    const calls: unknown[] = [];
    const AI = {
      run: async (model: string, inputs: { text: string[] }) => {
        calls.push([model, inputs.text.length]);
        return { shape: [inputs.text.length, 4], data: inputs.text.map((_, i) => [i, 1, 0, 0]) };
      },
    };
    const out = await embed({ ...env, AI } as unknown as Env, t.tenantId, { provider: 'wai', model: 'bge', dimensions: 4 }, [
      'a',
      'b',
      'c',
    ]);
    expect(out.vectors).toEqual([
      [0, 1, 0, 0],
      [1, 1, 0, 0],
      [2, 1, 0, 0],
    ]);
    expect(calls).toEqual([['@cf/baai/bge-base-en-v1.5', 3]]);
    expect(out.usage).toMatchObject({ requests: 1, estimated: true });
    await expect(
      embed({ ...env, AI: undefined } as unknown as Env, t.tenantId, { provider: 'wai', model: 'bge', dimensions: 4 }, ['a']),
    ).rejects.toThrow(/Workers AI is not available/);
  });
});
