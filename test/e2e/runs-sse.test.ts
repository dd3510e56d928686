/**
 * Run events over real HTTP (Server-Sent Events through TCP) against the bundled Worker on workerd:
 * frames carry `id:`/`event:`/`data:`, a reconnect with Last-Event-ID gets exactly the rest (no
 * duplicate, no gap), and the stream ends after run.completed.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openSse, api as request, signup } from '../support/node/api';
import { type RunningWorker, startWorker } from '../support/node/worker';
import { type SseFrame, SseReader } from '../support/shared/sse';
import { eventually } from '../support/shared/time';

type Json = Record<string, any>;

let worker: RunningWorker;
beforeAll(async () => {
  worker = await startWorker();
});
afterAll(() => worker?.dispose());

const api = (method: string, path: string, token: string | undefined, body?: unknown) => request(worker, method, path, token, body);
const signupTenant = async (tag: string) => (await signup(worker, `e2e-sse-${tag}`)).accessToken;
const openEvents = (token: string, runId: string, lastEventId?: number) => openSse(worker, `/v1/runs/${runId}/events`, token, lastEventId);

async function waitStatus(token: string, runId: string, statuses: string[]): Promise<Json> {
  return eventually(
    async () => {
      const r = await api('GET', `/v1/runs/${runId}`, token);
      expect(r.status).toBe(200);
      return statuses.includes(r.body.status) ? r.body : undefined;
    },
    { what: `run ${runId} to reach ${statuses.join('/')}`, timeoutMs: 15_000 },
  );
}

const seqs = (frames: SseFrame[]) => frames.map((f) => Number(f.id));

describe('run events over SSE (real HTTP)', () => {
  it('live frames, disconnect, Last-Event-ID resume with no duplicate or gap, end after run.completed', async () => {
    const token = await signupTenant('resume');
    const flow = await api('POST', '/v1/flows', token, {
      name: 'sse e2e',
      definition: {
        nodes: [
          { id: 'a', type: 'transform', config: { expression: 'input.n' } },
          { id: 'gate', type: 'approval', config: {} },
          { id: 'b', type: 'transform', config: { expression: 'nodes.a.output + nodes.gate.output.add' } },
        ],
        edges: [
          { from: 'a', to: 'gate' },
          { from: 'gate', to: 'b' },
        ],
      },
    });
    expect(flow.status).toBe(201);
    const run = await api('POST', `/v1/flows/${flow.body.id}/runs`, token, { input: { n: 1 } });
    expect(run.status).toBe(201);
    const runId = run.body.id as string;
    await waitStatus(token, runId, ['waiting']);

    const first = await openEvents(token, runId);
    expect(first.res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const before = await first.sse.until('run.waiting');
    for (const f of before) {
      expect(f.fields).toEqual(['id', 'event', 'data']);
      const data = JSON.parse(f.data);
      expect(data).toMatchObject({ seq: Number(f.id), type: f.event });
    }
    expect(seqs(before)).toEqual(before.map((_, i) => i + 1));
    expect(first.sse.retry).toBeGreaterThan(0);

    // Live over the open connection, then the client drops it.
    expect((await api('POST', `/v1/runs/${runId}/signal`, token, { payload: { add: 41 } })).status).toBe(200);
    const live = await first.sse.until('node.signalled');
    expect(seqs(live)[0]).toBe(seqs(before).at(-1)! + 1);
    await first.sse.cancel();
    const lastSeen = seqs(live).at(-1)!;

    const done = await waitStatus(token, runId, ['succeeded', 'failed', 'cancelled']);
    expect(done.status).toBe('succeeded');
    expect(done.output).toEqual({ b: 42 });

    const again = await openEvents(token, runId, lastSeen);
    const rest = await again.sse.rest();
    expect(seqs(rest)[0]).toBe(lastSeen + 1);
    expect(rest.at(-1)!.event).toBe('run.completed');
    const all = [...before, ...live, ...rest];
    expect(seqs(all)).toEqual(all.map((_, i) => i + 1));
    expect(new Set(seqs(all)).size).toBe(all.length);

    // A fresh subscriber to the finished run gets the same log and the stream ends by itself.
    const replay = await (await openEvents(token, runId)).sse.rest();
    expect(replay.map((f) => f.data)).toEqual(all.map((f) => f.data));
  });

  it('a live subscriber sees the run through to run.completed and the server closes the stream', async () => {
    const token = await signupTenant('live');
    const flow = await api('POST', '/v1/flows', token, {
      name: 'sse live',
      definition: {
        nodes: [
          { id: 'gate', type: 'approval', config: {} },
          { id: 'b', type: 'transform', config: { expression: '"done"' } },
        ],
        edges: [{ from: 'gate', to: 'b' }],
      },
    });
    const runId = (await api('POST', `/v1/flows/${flow.body.id}/runs`, token, { input: {} })).body.id as string;
    await waitStatus(token, runId, ['waiting']);
    const { sse } = await openEvents(token, runId);
    await sse.until('run.waiting');
    expect((await api('POST', `/v1/runs/${runId}/signal`, token, { payload: true })).status).toBe(200);
    const rest = await sse.rest();
    expect(rest.map((f) => f.event)).toContain('node.succeeded');
    expect(rest.at(-1)!.event).toBe('run.completed');
  });

  it('POST …/runs with Accept: text/event-stream: one request starts the run and streams it live to the end', async () => {
    const token = await signupTenant('start');
    const flow = await api('POST', '/v1/flows', token, {
      name: 'sse start',
      definition: {
        nodes: [
          { id: 'gate', type: 'approval', config: {} },
          { id: 'b', type: 'transform', config: { expression: 'nodes.gate.output.v' } },
        ],
        edges: [{ from: 'gate', to: 'b' }],
      },
    });
    const res = await worker.fetch(`/v1/flows/${flow.body.id}/runs`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, accept: 'text/event-stream', 'content-type': 'application/json' },
      body: JSON.stringify({ input: {} }),
    });
    expect(res.status).toBe(201);
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const runId = res.headers.get('location')!.split('/').pop()!;
    const sse = new SseReader(res);
    // Live on the same response: the run waits, is signalled from elsewhere, and the stream ends with it.
    const first = await sse.until('run.waiting');
    expect(first[0]!.event).toBe('run.created');
    expect((await api('POST', `/v1/runs/${runId}/signal`, token, { payload: { v: 7 } })).status).toBe(200);
    const rest = await sse.rest();
    expect(rest.at(-1)!.event).toBe('run.completed');
    expect(JSON.parse(rest.at(-1)!.data).data.output).toEqual({ b: 7 });
    const all = [...first, ...rest];
    expect(seqs(all)).toEqual(all.map((_, i) => i + 1));
  });
});
