/**
 * Run event streams without gaps or unbounded buffers (durable-objects/flow-run/stream.ts, deltas.ts):
 * a 15k-token answer from the fake OpenAI server arrives as coalesced deltas and replays from 0 with
 * contiguous sequences; a backlog past any page size reaches the live edge; a subscriber that stops
 * reading is closed with `stream.closed` / `slow_consumer` and resumes with Last-Event-ID. Also the
 * storage retention of a finished run (410 afterwards, the D1 summary stays).
 */
import { runInDurableObject } from 'cloudflare:test';
import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import { forgetRun } from '../../../durable-objects/flow-run/store';
import { type EventSource, SLOW_CONSUMER, SseHub } from '../../../durable-objects/flow-run/stream';
import type { RunEvent } from '../../../src/flows/run-model';
import { SseReader } from '../../support/shared/sse';
import { eventually } from '../../support/shared/time';
import { driveAlarms, flowRun, runAlarm } from '../../support/workers/durable-objects';
import { call } from '../../support/workers/http';
import { openSse } from '../../support/workers/sse';
import { signup } from '../../support/workers/tenants';
import { createFlow, startRun, transform, waitFor } from './_engine-kit';
import { addFakeProvider, newTag } from './llm-fixtures';

interface Frame {
  id: number;
  type: string;
  data: { nodeId: string | null; data: { text?: string } | null };
}

/** Every frame of a stream until it ends. */
async function readAll(sse: SseReader): Promise<Frame[]> {
  const out: Frame[] = [];
  for (;;) {
    const f = await sse.next(60_000);
    if (!f) return out;
    out.push({ id: Number(f.id), type: f.event ?? 'message', data: JSON.parse(f.data) });
  }
}

function contiguous(frames: Frame[], from = 1): void {
  expect(frames.map((f) => f.id)).toEqual(frames.map((_, i) => i + from));
}

const TOKENS = 15_000;

describe('a 15k-token answer streams without gaps', () => {
  it('deltas are coalesced; live and replay-from-0 streams are contiguous and reassemble the whole text', async () => {
    const t = await signup('stream-15k');
    const tag = newTag();
    await addFakeProvider(t, 'fake', tag, 'ok');
    const text = Array.from({ length: TOKENS }, (_, i) => `w${i}`).join(' ');
    const flowId = await createFlow(t, {
      nodes: [{ id: 'ask', type: 'llm', config: { providers: ['fake'], model: 'fast', prompt: '{{ input.text }}', timeoutMs: 600_000 } }],
      edges: [],
    });
    const run = await startRun(t, flowId, { text });
    const live = await openSse(`/v1/runs/${run.id}/events`, t.accessToken);
    const liveFrames = await readAll(live.sse);
    expect((await waitFor(t, run.id, undefined, 120_000)).status).toBe('succeeded');

    const replay = await readAll((await openSse(`/v1/runs/${run.id}/events`, t.accessToken, 0)).sse);
    for (const frames of [liveFrames, replay]) {
      contiguous(frames);
      const deltas = frames.filter((f) => f.type === 'node.delta' && f.data.nodeId === 'ask');
      expect(deltas.map((d) => d.data.data?.text ?? '').join('')).toBe(text);
      expect(frames.at(-1)?.type).toBe('run.completed');
    }
    const deltas = replay.filter((f) => f.type === 'node.delta').length;
    console.log(`15k-token answer: ${TOKENS} tokens → ${deltas} node.delta events, ${replay.length} events in all`);
    expect(deltas).toBeLessThan(TOKENS / 2);
    // A resume from the middle continues exactly after it.
    const mid = Math.floor(replay.length / 2);
    const rest = await readAll((await openSse(`/v1/runs/${run.id}/events`, t.accessToken, mid)).sse);
    contiguous(rest, mid + 1);
  }, 180_000);
});

/** A synthetic run log of `n` events. */
function log(n: number): EventSource {
  const at = new Date().toISOString();
  return {
    read: (after, limit) =>
      Array.from({ length: Math.max(0, Math.min(limit, n - after)) }, (_, i) => {
        const seq = after + i + 1;
        const e: RunEvent = { seq, type: 'node.delta', nodeId: 'n', data: { text: `t${seq} ` }, at };
        return { seq, type: e.type, json: JSON.stringify(e) };
      }),
    ended: () => true,
  };
}

describe('SSE subscribers', () => {
  it('a backlog of 25,000 events is paged to the end, with no gap', async () => {
    const hub = new SseHub(log(25_000));
    const frames = await readAll(new SseReader(hub.open(0)));
    expect(frames.length).toBe(25_000);
    contiguous(frames);
  });

  it('a subscriber that stops reading is closed with slow_consumer, holding a bounded buffer, and resumes after it', async () => {
    const limits = { pageSize: 100, maxBufferBytes: 16 * 1024, stallMs: 50 };
    const hub = new SseHub(log(10_000), limits);
    const res = hub.open(0);
    // Nobody reads: the pump stops at the bound and closes the subscriber.
    await eventually(async () => (hub.size === 0 ? true : undefined), { what: 'the slow subscriber to be closed' });
    const sse = new SseReader(res);
    const frames: Frame[] = [];
    let closed: { reason: string; lastEventId: number } | null = null;
    for (;;) {
      const f = await sse.next(10_000);
      if (!f) break;
      if (f.event === 'stream.closed') closed = JSON.parse(f.data);
      else frames.push({ id: Number(f.id), type: f.event ?? '', data: JSON.parse(f.data) });
    }
    expect(closed?.reason).toBe(SLOW_CONSUMER);
    contiguous(frames);
    expect(closed?.lastEventId).toBe(frames.length);
    expect(frames.length).toBeLessThan(10_000);
    const bytes = frames.reduce((n, f) => n + JSON.stringify(f).length, 0);
    console.log(`slow subscriber: closed after ${frames.length} events (~${bytes} bytes) with a ${limits.maxBufferBytes}-byte bound`);
    // Resuming with Last-Event-ID (a reader that keeps up this time) gets the rest.
    const rest = await readAll(new SseReader(new SseHub(log(10_000), limits).open(closed!.lastEventId)));
    contiguous(rest, closed!.lastEventId + 1);
    expect(rest.at(-1)?.id).toBe(10_000);
  });
});

describe('run storage retention', () => {
  it("past the plan's retention the run's own alarm deletes its storage: 410 for the run and its events, D1 summary stays", async () => {
    const t = await signup('retention');
    const flowId = await createFlow(t, { nodes: [transform('a', '1 + 1')], edges: [] });
    const run = await startRun(t, flowId);
    expect((await waitFor(t, run.id)).status).toBe('succeeded');
    const stub = flowRun(run.id);
    // Reports delivered first; then the alarm waits for the retention.
    const alarmAt = await driveAlarms(stub, () =>
      runInDurableObject(stub as unknown as DurableObjectStub, async (_i, s) => {
        const open = s.storage.sql.exec<{ n: number }>(`SELECT COUNT(*) AS n FROM reports WHERE done_at IS NULL`).one().n;
        const alarm = await s.storage.getAlarm();
        return open === 0 && alarm !== null && alarm > Date.now() + 60_000 ? alarm : undefined;
      }),
    );
    const finished = Date.parse(
      (await (await call(`/v1/runs/${run.id}`, { token: t.accessToken })).json<{ finishedAt: string }>()).finishedAt,
    );
    expect(alarmAt - finished).toBe(7 * 86_400_000);
    // Time passes (free plan: 7 days): the run finished 8 days ago.
    await runInDurableObject(stub as unknown as DurableObjectStub, (_i, s) => {
      s.storage.sql.exec(`UPDATE run SET finished_at = ?`, new Date(Date.now() - 8 * 86_400_000).toISOString());
      // Written behind the run's back: it forgets the row it keeps in memory, as its own writes do.
      forgetRun(s.storage.sql);
    });
    expect(await runAlarm(stub)).toBe(true);
    expect(await stub.getState()).toBeNull();
    for (const path of [`/v1/runs/${run.id}`, `/v1/runs/${run.id}/events`]) {
      const res = await call(path, { token: t.accessToken });
      expect(res.status).toBe(410);
      expect(((await res.json()) as { code: string }).code).toBe('gone');
    }
    const row = await env.DB.prepare(`SELECT status FROM runs WHERE id = ?`).bind(run.id).first<{ status: string }>();
    expect(row?.status).toBe('succeeded');
    const listed = (await (await call(`/v1/runs?flowId=${flowId}`, { token: t.accessToken })).json()) as { data: Array<{ id: string }> };
    expect(listed.data.map((r) => r.id)).toEqual([run.id]);
  });
});
