/**
 * GET /v1/runs/{id}/events through the Worker (exports.default.fetch): `id:`/`event:`/`data:` frames in
 * sequence order, Last-Event-ID resume with no duplicate and no gap, the stream ends after the run's
 * terminal event, and what the stream carried equals the run's event log.
 */

import { runInDurableObject } from 'cloudflare:test';
import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import { type EventFrame, eventFramesAfter, eventsAfter } from '../../../durable-objects/flow-run/store';
import { type EventSource, SSE_LIMITS, SseHub } from '../../../durable-objects/flow-run/stream';
import { type RunEvent, TENANT_HEADER } from '../../../src/flows/run-model';
import { loadVersion, startRun as startRunService } from '../../../src/flows/runs-service';
import { flowRunStub } from '../../../src/lib/stubs';
import { call, json } from '../../support/workers/http';
import { signup } from '../../support/workers/tenants';
import {
  approval,
  createFlow,
  edge,
  events,
  getRun,
  ok,
  openEvents,
  type SseFrame,
  SseReader,
  startRun,
  transform,
  waitFor,
} from './_engine-kit';

function seqs(frames: SseFrame[]): number[] {
  return frames.map((f) => Number(f.id));
}

function checkFrame(f: SseFrame) {
  expect(f.id).toMatch(/^\d+$/);
  expect(f.event).toMatch(/^[a-z]+\.[a-z]+$/);
  const data = JSON.parse(f.data);
  expect(data.seq).toBe(Number(f.id));
  expect(data.type).toBe(f.event);
  expect(typeof data.at).toBe('string');
  // Field order on the wire: id, event, data.
  expect(f.lines.map((l) => l.slice(0, l.indexOf(':')))).toEqual(['id', 'event', 'data']);
}

const GATED = {
  nodes: [transform('a', '1'), approval('gate'), transform('b', 'nodes.gate.output.v')],
  edges: [edge('a', 'gate'), edge('gate', 'b')],
};

describe('run events over SSE', () => {
  it('frames, live events, Last-Event-ID resume with no duplicate or gap, end after run.completed', async () => {
    const t = await signup('sse');
    const flowId = await createFlow(t, GATED);
    const run = await startRun(t, flowId);
    await waitFor(t, run.id, ['waiting']);

    const first = await openEvents(t, run.id);
    expect(first.res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    expect(first.res.headers.get('cache-control')).toMatch(/no-store|no-cache/);
    const before = await first.sse.until('run.waiting');
    before.forEach(checkFrame);
    expect(seqs(before)).toEqual(before.map((_, i) => i + 1));
    expect(first.sse.retry).toBeGreaterThan(0);

    // Live: the signal's events arrive on the open stream.
    await ok(t, 'POST', `/v1/runs/${run.id}/signal`, { payload: { v: 42 } });
    const live = await first.sse.until('node.signalled');
    live.forEach(checkFrame);
    const lastSeen = Number(live[live.length - 1]!.id);
    expect(seqs(live)[0]).toBe(Number(before[before.length - 1]!.id) + 1);
    // The client drops the connection here.
    await first.sse.cancel();

    await waitFor(t, run.id);
    const resumed = await openEvents(t, run.id, lastSeen);
    const rest = await resumed.sse.rest();
    rest.forEach(checkFrame);
    expect(rest.length).toBeGreaterThan(0);
    expect(seqs(rest)[0]).toBe(lastSeen + 1);
    expect(rest[rest.length - 1]!.event).toBe('run.completed');

    // What the client saw, stitched together, is exactly the run's log: no duplicate, no gap.
    const seen = [...before, ...live, ...rest];
    const log = await events(run.id);
    expect(seqs(seen)).toEqual(log.map((e) => e.seq));
    expect(seen.map((f) => JSON.parse(f.data))).toEqual(log);
  });

  it('a terminal run replays its log and the stream ends; Last-Event-ID at the end gives nothing', async () => {
    const t = await signup('sse-done');
    const flowId = await createFlow(t, { nodes: [transform('a', '1'), transform('b', '2')], edges: [edge('a', 'b')] });
    const run = await startRun(t, flowId);
    await waitFor(t, run.id);
    const all = await (await openEvents(t, run.id)).sse.rest();
    const log = await events(run.id);
    expect(seqs(all)).toEqual(log.map((e) => e.seq));
    expect(all.at(-1)!.event).toBe('run.completed');
    expect(await (await openEvents(t, run.id, log.at(-1)!.seq)).sse.rest()).toEqual([]);
    // Last-Event-ID and ?after= (for clients that cannot set headers) resume from the same place.
    const mid = log[2]!.seq;
    const tail = log.filter((e) => e.seq > mid).map((e) => e.seq);
    expect(seqs(await (await openEvents(t, run.id, mid)).sse.rest())).toEqual(tail);
    const byQuery = await call(`/v1/runs/${run.id}/events?after=${mid}`, { token: t.accessToken });
    expect(byQuery.status).toBe(200);
    expect(seqs(await new SseReader(byQuery.body!).rest())).toEqual(tail);
  });

  it('a subscriber that has not read yet still gets every event and the end of the stream', async () => {
    const t = await signup('sse-slow');
    const flowId = await createFlow(t, GATED);
    const run = await startRun(t, flowId);
    await waitFor(t, run.id, ['waiting']);
    const { sse } = await openEvents(t, run.id);
    // The run finishes before the client reads its first byte.
    await ok(t, 'POST', `/v1/runs/${run.id}/signal`, { payload: { v: 1 } });
    await waitFor(t, run.id);
    const frames = await sse.rest(5000);
    const log = await events(run.id);
    expect(seqs(frames)).toEqual(log.map((e) => e.seq));
    expect(frames.at(-1)!.event).toBe('run.completed');
  });

  it('two subscribers see the same frames', async () => {
    const t = await signup('sse-two');
    const flowId = await createFlow(t, GATED);
    const run = await startRun(t, flowId);
    await waitFor(t, run.id, ['waiting']);
    const a = await openEvents(t, run.id);
    const b = await openEvents(t, run.id);
    await a.sse.until('run.waiting');
    await b.sse.until('run.waiting');
    await ok(t, 'POST', `/v1/runs/${run.id}/signal`, { payload: { v: 2 } });
    const [ra, rb] = await Promise.all([a.sse.rest(), b.sse.rest()]);
    expect(seqs(ra)).toEqual(seqs(rb));
    expect(ra.at(-1)!.event).toBe('run.completed');
  });

  it('POST …/runs with Accept: text/event-stream starts the run and answers its events to the end', async () => {
    const t = await signup('sse-start');
    const flowId = await createFlow(t, { nodes: [transform('a', '1'), transform('b', 'nodes.a.output + 1')], edges: [edge('a', 'b')] });
    const res = await call(`/v1/flows/${flowId}/runs`, {
      token: t.accessToken,
      body: { input: {} },
      // A Last-Event-ID on the POST (a generic SSE client retrying) names nothing in a run this new.
      headers: { accept: 'text/event-stream', 'idempotency-key': 'start-and-stream-1', 'last-event-id': '3' },
    });
    expect(res.status).toBe(201);
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(res.headers.get('x-accel-buffering')).toBe('no');
    const location = res.headers.get('location')!;
    expect(location).toMatch(/^\/v1\/runs\/run_/);
    const runId = location.split('/').pop()!;
    const frames = await new SseReader(res.body!).rest();
    frames.forEach(checkFrame);
    // The same frames as GET …/events: the whole log, from run.created to run.completed.
    const log = await events(runId);
    expect(frames.map((f) => JSON.parse(f.data))).toEqual(log);
    expect(frames[0]!.event).toBe('run.created');
    expect(frames.at(-1)!.event).toBe('run.completed');
    expect((await getRun(t, runId)).status).toBe('succeeded');

    // A retry with the same key starts nothing: it replays the run as JSON (a stream is not stored).
    const again = await call(`/v1/flows/${flowId}/runs`, {
      token: t.accessToken,
      body: { input: {} },
      headers: { accept: 'text/event-stream', 'idempotency-key': 'start-and-stream-1' },
    });
    expect(again.status).toBe(201);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(again.headers.get('content-type')).toMatch(/^application\/json/);
    expect(again.headers.get('location')).toBe(location);
    // The same run: had the handler run again, it would have started another, with another id.
    expect((await json(again)).id).toBe(runId);
  });

  it("a streaming start gets its stream from the start's own round trip, for the run's tenant only", async () => {
    const t = await signup('sse-start-rpc');
    const flowId = await createFlow(t, { nodes: [transform('a', '1'), transform('b', 'nodes.a.output + 1')], edges: [edge('a', 'b')] });
    const version = (await loadVersion(env, t.tenantId, flowId))!;
    const base = { tenantId: t.tenantId, createdBy: t.userId, version, input: {} };

    // Without `stream` the start answers the run alone.
    const plain = await startRunService(env, base);
    if ('code' in plain) throw new Error('rejected');
    expect(plain.events).toBeUndefined();

    // With it, FlowRun.create returns the run's SSE bytes beside the run: the whole log, run.created to
    // run.completed, as GET …/events answers it.
    const started = await startRunService(env, { ...base, stream: true });
    if ('code' in started) throw new Error('rejected');
    expect(started.events).toBeInstanceOf(ReadableStream);
    const frames = await new SseReader(started.events!).rest();
    frames.forEach(checkFrame);
    expect(frames.map((f) => JSON.parse(f.data))).toEqual(await events(started.runId));
    expect(frames[0]!.event).toBe('run.created');
    expect(frames.at(-1)!.event).toBe('run.completed');

    // A repeat of that start in another tenant's name gets no stream.
    const foreign = await startRunService(env, { ...base, tenantId: 'tnt_someoneelse0000000000000', runId: started.runId, stream: true });
    if ('code' in foreign) throw new Error('rejected');
    expect(foreign.events).toBeUndefined();
  });

  it('POST …/runs answers JSON unless the caller ranks the stream above it', async () => {
    const t = await signup('sse-start-json');
    const flowId = await createFlow(t, { nodes: [transform('a', '1')], edges: [] });
    for (const accept of ['application/json, text/event-stream', 'text/event-stream;q=0.5, application/json', '*/*', '']) {
      const res = await call(`/v1/flows/${flowId}/runs`, { token: t.accessToken, body: { input: {} }, headers: accept ? { accept } : {} });
      expect(res.status, accept).toBe(201);
      expect(res.headers.get('content-type'), accept).toMatch(/^application\/json/);
      expect((await json(res)).id, accept).toMatch(/^run_/);
    }
  });

  it('without credentials: 401; unknown run: 404', async () => {
    const t = await signup('sse-auth');
    const flowId = await createFlow(t, GATED);
    const run = await startRun(t, flowId);
    const anon = await call(`/v1/runs/${run.id}/events`);
    expect(anon.status).toBe(401);
    await anon.body?.cancel();
    const missing = await call(`/v1/runs/run_doesnotexist0000000000000/events`, { token: t.accessToken });
    expect(missing.status).toBe(404);
    await missing.body?.cancel();
    await ok(t, 'POST', `/v1/runs/${run.id}/cancel`, {});
  });

  it("the run's object opens a stream or socket only for its own tenant, whoever asks it", async () => {
    const t = await signup('sse-tenant');
    const run = await startRun(t, await createFlow(t, GATED));
    await waitFor(t, run.id, ['waiting']);
    const stub = flowRunStub(env, run.id);
    const ask = (path: string, headers: Record<string, string>) => stub.fetch(`https://flow-run${path}`, { headers });
    for (const path of ['/events', '/ws']) {
      const upgrade: Record<string, string> = path === '/ws' ? { upgrade: 'websocket' } : {};
      const asks: Record<string, string>[] = [{}, { [TENANT_HEADER]: 'tnt_someoneelse0000000000000' }];
      for (const headers of asks) {
        const res = await ask(path, { ...upgrade, ...headers });
        expect(res.status, `${path} ${JSON.stringify(headers)}`).toBe(404);
        await res.body?.cancel();
      }
    }
    const own = await ask('/events', { [TENANT_HEADER]: t.tenantId });
    expect(own.status).toBe(200);
    await own.body?.cancel();
    await ok(t, 'POST', `/v1/runs/${run.id}/cancel`, {});
  });
});

/** A test log's event as the streams send it (what ./store.ts eventFramesAfter reads from storage). */
function frameOf(e: RunEvent): EventFrame {
  return { seq: e.seq, type: e.type, json: JSON.stringify(e) };
}

/** A stream source reading an in-memory log (what FlowRun reads from its storage). */
function sourceOf(log: readonly RunEvent[], ended: () => boolean): EventSource {
  return {
    read: (after, limit) =>
      log
        .filter((e) => e.seq > after)
        .slice(0, limit)
        .map(frameOf),
    ended,
  };
}

describe('event frames', () => {
  it("the frames' JSON is the text of the stored events, escapes and numbers included", async () => {
    const t = await signup('sse-frames');
    const input = {
      s: 'q"uote \\ back ü \u2028 line \u2029 para 😀 \u0007 bell </script>',
      n: [1e21, 1e-7, 0.1, -0, 123456789012345680000, 5e-324],
      nested: { '2': 'two', '1': 'one', b: null, a: [true, false, {}] },
    };
    const flowId = await createFlow(t, { nodes: [transform('echo', 'input')], edges: [] });
    const run = await startRun(t, flowId, input);
    await waitFor(t, run.id);
    const { frames, events: parsed } = await runInDurableObject(flowRunStub(env, run.id), (_i, state) => ({
      frames: eventFramesAfter(state.storage.sql, 0),
      events: eventsAfter(state.storage.sql, 0),
    }));
    expect(frames.length).toBeGreaterThan(3);
    expect(frames).toEqual(parsed.map(frameOf));
    expect(JSON.parse(frames.at(-1)!.json).data.output.echo).toEqual(JSON.parse(JSON.stringify(input)));
  });
});

describe('SSE chunks', () => {
  /** A finished run's log of `n` events, read through the hub as a client would read the stream. */
  async function chunksOf(n: number, pageSize: number): Promise<string[]> {
    const log: RunEvent[] = Array.from({ length: n }, (_, i) => ({
      seq: i + 1,
      type: 'node.succeeded',
      nodeId: `n${i}`,
      data: { i },
      at: '2026-12-05T00:00:00.000Z',
    }));
    const hub = new SseHub(
      sourceOf(log, () => true),
      { ...SSE_LIMITS, pageSize },
    );
    const reader = hub.open(0).body!.getReader();
    const decoder = new TextDecoder();
    const chunks: string[] = [];
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return chunks;
      chunks.push(decoder.decode(value));
    }
  }

  it('a page of events is written as one chunk, the same bytes as frame after frame', async () => {
    const chunks = await chunksOf(30, 12);
    // The retry hint, then one chunk per page (12 + 12 + 6), not one per event.
    expect(chunks.length).toBe(4);
    expect(chunks[0]).toBe('retry: 2000\n\n');
    expect(chunks.slice(1).map((c) => c.split('\n\n').length - 1)).toEqual([12, 12, 6]);
    const frames = chunks.slice(1).join('');
    expect(frames).toBe(
      Array.from(
        { length: 30 },
        (_, i) =>
          `id: ${i + 1}\nevent: node.succeeded\ndata: ${JSON.stringify({ seq: i + 1, type: 'node.succeeded', nodeId: `n${i}`, data: { i }, at: '2026-12-05T00:00:00.000Z' })}\n\n`,
      ).join(''),
    );
  });

  it('live events appended in one turn, across its awaits, reach the subscriber as one chunk', async () => {
    const log: RunEvent[] = [];
    let over = false;
    const hub = new SseHub(sourceOf(log, () => over));
    const reader = hub.open(0).body!.getReader();
    const decoder = new TextDecoder();
    expect(decoder.decode((await reader.read()).value)).toBe('retry: 2000\n\n');
    const append = (n: number) => {
      for (let i = 0; i < n; i++)
        log.push({ seq: log.length + 1, type: 'node.started', nodeId: 'n', data: null, at: '2026-12-05T00:00:00.000Z' });
      hub.notify();
    };
    // Three appends in one turn, with awaits between them (as the engine's transitions are).
    append(1);
    await Promise.resolve();
    append(2);
    await null;
    append(1);
    const first = decoder.decode((await reader.read()).value);
    expect(first.split('\n\n').length - 1).toBe(4);
    // A later turn's events come in a chunk of their own, and the stream ends after the run does.
    await new Promise((resolve) => setTimeout(resolve, 5));
    append(2);
    over = true;
    hub.notify();
    const second = decoder.decode((await reader.read()).value);
    expect(second.split('\n\n').length - 1).toBe(2);
    expect((await reader.read()).done).toBe(true);
  });
});
