/** `prefersEventStream`: the stream only when the caller ranks it above JSON (RFC 9110 §12.5.1). */
import { describe, expect, it } from 'vitest';
import { prefersEventStream } from '../../src/lib/accept';

describe('prefersEventStream', () => {
  it.each([
    ['text/event-stream', true],
    ['Text/Event-Stream; charset=utf-8', true],
    ['text/event-stream, */*;q=0.1', true],
    ['application/json;q=0.9, text/event-stream', true],
    ['text/event-stream;q=0.5, application/json', false],
    ['application/json, text/event-stream', false],
    ['text/event-stream;q=0', false],
    ['text/event-stream;q=abc', false],
    ['*/*', false],
    ['text/event-stream;q=0.5, */*', false],
    ['text/event-stream, */*;q=0.5', true],
    ['text/*', true],
    ['text/*, application/json;q=0.2', true],
    ['text/event-stream;q=0.9, application/*;q=0.5', true],
    ['application/*, text/event-stream;q=0.9', false],
    ['application/json', false],
    ['', false],
    [undefined, false],
  ])('%j → %s', (accept, expected) => {
    expect(prefersEventStream(accept)).toBe(expected);
  });
});
