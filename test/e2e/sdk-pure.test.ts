/** @edgecrew/sdk's pure pieces, exactly: Retry-After parsing and the SSE parser (no Worker needed). */
import { parseSse, retryAfterMs, type SseFrame } from '@edgecrew/sdk';
import { describe, expect, it } from 'vitest';

const NOW = Date.parse('2026-12-03T10:00:00Z');

describe('retryAfterMs', () => {
  it.each([
    ['2', 2000],
    [' 0 ', 0],
    ['Thu, 03 Dec 2026 10:00:05 GMT', 5000],
    ['Thu, 03 Dec 2026 09:59:00 GMT', 0],
    ['soon', undefined],
    ['', undefined],
    [null, undefined],
    ['-1', undefined],
  ])('%j → %j ms', (value, expected) => {
    expect(retryAfterMs(value, NOW)).toBe(expected);
  });
});

async function framesOf(chunks: string[]): Promise<{ frames: SseFrame[]; retries: number[] }> {
  const encoder = new TextEncoder();
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      for (const c of chunks) controller.enqueue(encoder.encode(c));
      controller.close();
    },
  });
  const frames: SseFrame[] = [];
  const retries: number[] = [];
  for await (const f of parseSse(body, (ms) => retries.push(ms))) frames.push(f);
  return { frames, retries };
}

describe('parseSse', () => {
  it('frames split across chunks, CRLF, comments, multi-line data, retry, a frame without id, and [DONE]', async () => {
    const { frames, retries } = await framesOf([
      'retry: 1500\n: keep-alive\n\nid: 1\nev',
      'ent: run.created\ndata: {"seq":1}\n\n',
      'id: 2\r\ndata: line one\r\ndata: line two\r\n\r\n',
      'data: {"type":"start"}\n\ndata: [DONE]\n\n',
      'id: 9\ndata: unterminated',
    ]);
    expect(retries).toEqual([1500]);
    expect(frames).toEqual([
      { id: '1', event: 'run.created', data: '{"seq":1}' },
      { id: '2', event: 'message', data: 'line one\nline two' },
      { id: undefined, event: 'message', data: '{"type":"start"}' },
      { id: undefined, event: 'message', data: '[DONE]' },
    ]);
  });
});
