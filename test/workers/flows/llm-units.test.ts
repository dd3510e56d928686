/**
 * Pure pieces of the LLM layer, in workerd: the SSE reader, Retry-After parsing, the key box
 * (rotation, binding to the row), structured-output checks, and the Workers AI adapter over a
 * scripted `run` (the real binding only exists remotely).
 */
import { describe, expect, it } from 'vitest';
import { llmKeyBox } from '../../../src/flows/llm/key-box';
import { parseRetryAfter } from '../../../src/flows/llm/openai';
import { parseJsonAnswer, validateAgainst } from '../../../src/flows/llm/output';
import { sseData } from '../../../src/flows/llm/sse';
import { type ChatOptions, LlmCallError } from '../../../src/flows/llm/types';
import { type AiRunner, workersAiClient } from '../../../src/flows/llm/workers-ai';
import { rejection } from './llm-fixtures';

function streamOf(parts: string[]): ReadableStream<Uint8Array> {
  const enc = new TextEncoder();
  return new ReadableStream({
    start(controller) {
      for (const p of parts) controller.enqueue(enc.encode(p));
      controller.close();
    },
  });
}

async function events(parts: string[]): Promise<string[]> {
  const out: string[] = [];
  for await (const d of sseData(streamOf(parts), new AbortController().signal)) out.push(d);
  return out;
}

describe('sseData', () => {
  it('splits events on blank lines whatever the line ending, across chunk boundaries', async () => {
    expect(await events(['data: a\n\ndata: b\r\n\r\ndata: c\r\rdata: d\n\n'])).toEqual(['a', 'b', 'c', 'd']);
    expect(await events(['da', 'ta: {"x"', ':1}\r', '\n\r', '\ndata:2\n', '\n'])).toEqual(['{"x":1}', '2']);
  });

  it('joins multi-line data, skips comments and other fields, and flushes a last event without a blank line', async () => {
    expect(await events([': keep-alive\n\nevent: message\nid: 7\ndata: one\ndata: two\n\nretry: 10\n\ndata: tail'])).toEqual([
      'one\ntwo',
      'tail',
    ]);
  });

  it('stops waiting when the signal aborts', async () => {
    const abort = new AbortController();
    const never = new ReadableStream<Uint8Array>({ start() {} });
    setTimeout(() => abort.abort(new Error('deadline')), 20);
    const err = await rejection(async () => {
      for await (const _ of sseData(never, abort.signal)) {
        // nothing arrives
      }
    });
    expect(err.message).toBe('deadline');
  });
});

describe('parseRetryAfter', () => {
  it('reads delay-seconds and HTTP-dates, caps long waits, ignores garbage', () => {
    const now = Date.parse('2026-01-01T00:00:00Z');
    expect(parseRetryAfter('7', now)).toBe(7_000);
    expect(parseRetryAfter('Thu, 01 Jan 2026 00:00:30 GMT', now)).toBe(30_000);
    expect(parseRetryAfter('Wed, 31 Dec 2025 00:00:00 GMT', now)).toBe(0);
    expect(parseRetryAfter('999999', now)).toBe(3_600_000);
    expect(parseRetryAfter('soon', now)).toBeUndefined();
    expect(parseRetryAfter(null, now)).toBeUndefined();
  });
});

describe('llmKeyBox', () => {
  const OLD = 'old-secret-0123456789abcdef0123456789abcdef';
  const NEW = 'new-secret-0123456789abcdef0123456789abcdef';

  it('round-trips, with a fresh IV each time', async () => {
    const box = llmKeyBox({ LLM_KEY_SECRET: OLD });
    const a = await box.seal('tnt_1', 'llm_1', 'sk-secret');
    const b = await box.seal('tnt_1', 'llm_1', 'sk-secret');
    expect(a).not.toBe(b);
    expect(await box.open('tnt_1', 'llm_1', a)).toBe('sk-secret');
  });

  it('rotates: the first secret seals, every listed secret opens', async () => {
    const sealedOld = await llmKeyBox({ LLM_KEY_SECRET: OLD }).seal('tnt_1', 'llm_1', 'sk-old');
    const rotated = llmKeyBox({ LLM_KEY_SECRET: `${NEW}, ${OLD}` });
    expect(await rotated.open('tnt_1', 'llm_1', sealedOld)).toBe('sk-old');
    const sealedNew = await rotated.seal('tnt_1', 'llm_1', 'sk-new');
    expect(await llmKeyBox({ LLM_KEY_SECRET: NEW }).open('tnt_1', 'llm_1', sealedNew)).toBe('sk-new');
    await expect(llmKeyBox({ LLM_KEY_SECRET: NEW }).open('tnt_1', 'llm_1', sealedOld)).rejects.toThrow(/no LLM_KEY_SECRET with id/);
  });

  it('refuses a missing or short secret and tampered ciphertexts', async () => {
    await expect(llmKeyBox({}).seal('t', 'p', 'x')).rejects.toThrow(/LLM_KEY_SECRET is not set/);
    await expect(llmKeyBox({ LLM_KEY_SECRET: 'short' }).seal('t', 'p', 'x')).rejects.toThrow(/at least 32/);
    const box = llmKeyBox({ LLM_KEY_SECRET: OLD });
    const sealed = await box.seal('t', 'p', 'sk-secret');
    const parts = sealed.split('.');
    const flipped = parts[3]!.startsWith('A') ? `B${parts[3]!.slice(1)}` : `A${parts[3]!.slice(1)}`;
    await expect(box.open('t', 'p', [...parts.slice(0, 3), flipped].join('.'))).rejects.toThrow();
    await expect(box.open('t', 'p', 'plaintext')).rejects.toThrow(/unrecognised/);
  });
});

describe('structured output', () => {
  it('parses plain and fenced JSON; reports non-JSON', () => {
    expect(parseJsonAnswer(' {"a":1} ')).toEqual({ ok: true, value: { a: 1 } });
    expect(parseJsonAnswer('```json\n[1, 2]\n```')).toEqual({ ok: true, value: [1, 2] });
    expect(parseJsonAnswer('```\n"x"\n```')).toEqual({ ok: true, value: 'x' });
    expect(parseJsonAnswer('Here you go: {"a":1}')).toMatchObject({ ok: false, problem: { path: '' } });
  });

  it('validates with the draft named by $schema (draft-07 and 2020-12 here)', () => {
    const d7 = { $schema: 'http://json-schema.org/draft-07/schema#', type: 'array', items: [{ type: 'string' }], additionalItems: false };
    expect(validateAgainst(d7, ['a'])).toEqual([]);
    expect(validateAgainst(d7, ['a', 2]).length).toBeGreaterThan(0);
    const d2020 = { type: 'array', prefixItems: [{ type: 'string' }], items: false };
    expect(validateAgainst(d2020, ['a'])).toEqual([]);
    expect(validateAgainst(d2020, ['a', 'b']).length).toBeGreaterThan(0);
    expect(validateAgainst({ type: 'object', properties: { n: { type: 'integer' } } }, { n: 1.5 })).toContainEqual({
      path: '/n',
      message: expect.stringContaining('integer'),
    });
  });
});

describe('workersAiClient', () => {
  function opts(over: Partial<ChatOptions> = {}) {
    const deltas: string[] = [];
    return {
      deltas,
      options: {
        signal: new AbortController().signal,
        timeoutMs: 1_000,
        idempotencyKey: 'run:n:1',
        onDelta: (t: string) => deltas.push(t),
        ...over,
      },
    };
  }
  const request = { model: '@cf/meta/llama-3.1-8b-instruct', messages: [{ role: 'user' as const, content: 'hi there' }], maxTokens: 32 };

  it('calls run(model, { messages, stream: true, max_tokens }) and reads the SSE stream with usage', async () => {
    const calls: unknown[] = [];
    const ai: AiRunner = {
      run: async (model, inputs) => {
        calls.push([model, inputs]);
        return streamOf([
          'data: {"response":"Hel"}\n\n',
          'data: {"response":"lo"}\n\ndata: {"response":"","usage":{"prompt_tokens":5,"completion_tokens":2}}\n\n',
          'data: [DONE]\n\n',
        ]);
      },
    };
    const { deltas, options } = opts();
    const answer = await workersAiClient(ai).chat(request, options);
    expect(calls).toEqual([[request.model, { messages: request.messages, stream: true, max_tokens: 32 }]]);
    expect(deltas).toEqual(['Hel', 'lo']);
    expect(answer).toEqual({ text: 'Hello', usage: { inputTokens: 5, outputTokens: 2, estimated: false }, finishReason: null });
  });

  it('accepts a non-streamed object answer', async () => {
    const ai: AiRunner = { run: async () => ({ response: 'Hi!', usage: { prompt_tokens: 3, completion_tokens: 1 } }) };
    const { deltas, options } = opts();
    expect(await workersAiClient(ai).chat(request, options)).toMatchObject({ text: 'Hi!', usage: { inputTokens: 3, outputTokens: 1 } });
    expect(deltas).toEqual(['Hi!']);
  });

  it('classifies failures: capacity → 429 retryable, unknown model → not retryable, no binding → retryable, hang → timeout', async () => {
    const failing = (message: string): AiRunner => ({ run: async () => Promise.reject(new Error(message)) });
    const cases: Array<[AiRunner | undefined, string, boolean]> = [
      [failing('3040: Capacity temporarily exceeded'), 'http_429', true],
      [failing('5007: No such model @cf/nope'), 'http_4xx', false],
      [failing('internal error'), 'provider', true],
      [undefined, 'provider', true],
      [{ run: () => new Promise(() => {}) }, 'timeout', true],
    ];
    for (const [ai, kind, retryable] of cases) {
      const err = await rejection(() => workersAiClient(ai).chat(request, opts({ timeoutMs: 100 }).options));
      expect(err).toBeInstanceOf(LlmCallError);
      expect({ kind: err.kind, retryable: err.retryable }).toEqual({ kind, retryable });
    }
  });
});
