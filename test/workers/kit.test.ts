/** The shared test kit (test/support/shared) on its own: what every suite relies on when it waits or reads a stream. */
import { describe, expect, it } from 'vitest';
import { SseReader } from '../support/shared/sse';
import { eventually } from '../support/shared/time';
import { wrapSocket } from '../support/shared/websocket';

function streamOf(chunks: string[]): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  return new ReadableStream({
    start(controller) {
      for (const c of chunks) controller.enqueue(encoder.encode(c));
      controller.close();
    },
  });
}

describe('SseReader', () => {
  it('parses frames split across chunks, skips comments and retry-only frames, joins data lines, ends with null', async () => {
    const sse = new SseReader(
      streamOf([': hello\n\nretry: 1500\n\nid: 1\nevent: a\nda', 'ta: {"x":1}\n\nid: 2\nevent: b\ndata: one\ndata: two\n\n']),
    );
    const first = await sse.next();
    expect(first).toEqual({
      id: '1',
      event: 'a',
      data: '{"x":1}',
      lines: ['id: 1', 'event: a', 'data: {"x":1}'],
      fields: ['id', 'event', 'data'],
    });
    expect(sse.retry).toBe(1500);
    expect(await sse.next()).toMatchObject({ id: '2', event: 'b', data: 'one\ntwo' });
    expect(await sse.next()).toBeNull();
  });

  it('until() stops at the named event; rest() reads to the end; a stream that ends early fails until()', async () => {
    const frames = ['id: 1\nevent: a\ndata: 1\n\n', 'id: 2\nevent: b\ndata: 2\n\n', 'id: 3\nevent: c\ndata: 3\n\n'];
    const sse = new SseReader(new Response(streamOf(frames)));
    expect((await sse.until('b')).map((f) => f.id)).toEqual(['1', '2']);
    expect((await sse.rest()).map((f) => f.id)).toEqual(['3']);
    await expect(new SseReader(streamOf(frames)).until('z')).rejects.toThrow(/stream ended before 'z'/);
  });

  it('next() times out on a silent stream', async () => {
    const silent = new ReadableStream<Uint8Array>({ start() {} });
    await expect(new SseReader(silent).next(20)).rejects.toThrow(/no SSE frame within 20 ms/);
  });
});

describe('eventually', () => {
  it('retries while the probe returns undefined or throws, then returns its value', async () => {
    let n = 0;
    const v = await eventually(
      () => {
        n += 1;
        if (n === 1) throw new Error('not yet');
        return n < 3 ? undefined : n;
      },
      { intervalMs: 1 },
    );
    expect(v).toBe(3);
  });

  it('gives up after timeoutMs naming what it waited for and the last error', async () => {
    await expect(
      eventually(
        () => {
          throw new Error('still 500');
        },
        { timeoutMs: 20, intervalMs: 5, what: 'the endpoint' },
      ),
    ).rejects.toThrow(/waiting for the endpoint: still 500/);
  });
});

describe('wrapSocket', () => {
  it('queues messages in order, parses JSON, reports the close and rejects reads after it', async () => {
    const [client, server] = Object.values(new WebSocketPair()) as [WebSocket, WebSocket];
    server.accept();
    const ws = wrapSocket(client, new Headers());
    server.send('one');
    server.send(JSON.stringify({ two: 2 }));
    await eventually(() => (ws.pending.length === 2 ? true : undefined));
    expect(await ws.next()).toBe('one');
    expect(await ws.nextJson()).toEqual({ two: 2 });
    await expect(ws.next(20)).rejects.toThrow(/no WebSocket message within 20 ms/);
    server.close(4000, 'bye');
    expect(await ws.closed).toEqual({ code: 4000, reason: 'bye' });
    await expect(ws.next()).rejects.toThrow(/closed/);
  });
});
