/**
 * Run events over real HTTP (Server-Sent Events through TCP) against the bundled Worker on workerd:
 * frames carry `id:`/`event:`/`data:`, a reconnect with Last-Event-ID gets exactly the rest (no
 * duplicate, no gap), and the stream ends after run.completed.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningWorker, startWorker } from '../support/node/worker';

type Json = Record<string, any>;

let worker: RunningWorker;
beforeAll(async () => {
  worker = await startWorker();
});
afterAll(() => worker?.dispose());

async function api(method: string, path: string, token: string | undefined, body?: unknown): Promise<{ status: number; body: Json }> {
  const headers: Record<string, string> = {};
  if (token) headers.authorization = `Bearer ${token}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await worker.fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, body: text ? (JSON.parse(text) as Json) : {} };
}

async function signupTenant(tag: string): Promise<string> {
  const res = await api('POST', '/v1/auth/signup', undefined, {
    email: `e2e-sse-${tag}-${crypto.randomUUID()}@example.com`,
    password: 'correct horse battery staple',
    name: `SSE ${tag}`,
    tenantName: `SSE ${tag} Co`,
  });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body.accessToken as string;
}

async function waitStatus(token: string, runId: string, statuses: string[]): Promise<Json> {
  const until = Date.now() + 15_000;
  for (;;) {
    const r = await api('GET', `/v1/runs/${runId}`, token);
    expect(r.status).toBe(200);
    if (statuses.includes(r.body.status)) return r.body;
    if (Date.now() > until) throw new Error(`run ${runId} stuck in ${r.body.status}`);
    await new Promise((res) => setTimeout(res, 50));
  }
}

interface Frame {
  id: string | null;
  event: string | null;
  data: string;
  fields: string[];
}

/** Incremental text/event-stream parser over a fetch body. */
class Sse {
  #reader: ReadableStreamDefaultReader<Uint8Array>;
  #decoder = new TextDecoder();
  #buffer = '';
  #ended = false;
  retry: number | null = null;

  constructor(body: ReadableStream<Uint8Array>) {
    this.#reader = body.getReader();
  }

  async next(timeoutMs = 10_000): Promise<Frame | null> {
    for (;;) {
      const cut = this.#buffer.indexOf('\n\n');
      if (cut >= 0) {
        const lines = this.#buffer
          .slice(0, cut)
          .split('\n')
          .filter((l) => l !== '' && !l.startsWith(':'));
        this.#buffer = this.#buffer.slice(cut + 2);
        const field = (name: string) =>
          lines.filter((l) => l.startsWith(`${name}:`)).map((l) => l.slice(name.length + 1).replace(/^ /, ''));
        if (field('retry').length) this.retry = Number(field('retry')[0]);
        if (!field('data').length) continue;
        return {
          id: field('id')[0] ?? null,
          event: field('event')[0] ?? null,
          data: field('data').join('\n'),
          fields: lines.map((l) => l.slice(0, l.indexOf(':'))),
        };
      }
      if (this.#ended) return null;
      let timer: ReturnType<typeof setTimeout> | undefined;
      const chunk = await Promise.race([
        this.#reader.read(),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`no SSE frame within ${timeoutMs} ms`)), timeoutMs);
        }),
      ]).finally(() => clearTimeout(timer));
      if (chunk.done) this.#ended = true;
      else this.#buffer += this.#decoder.decode(chunk.value, { stream: true });
    }
  }

  async until(type: string): Promise<Frame[]> {
    const out: Frame[] = [];
    for (;;) {
      const f = await this.next();
      if (!f) throw new Error(`stream ended before ${type}`);
      out.push(f);
      if (f.event === type) return out;
    }
  }

  async rest(): Promise<Frame[]> {
    const out: Frame[] = [];
    try {
      for (let f = await this.next(); f; f = await this.next()) out.push(f);
    } catch (err) {
      throw new Error(`${(err as Error).message}; still open after ${out.map((f) => `${f.id}:${f.event}`).join(', ') || 'no frame'}`);
    }
    return out;
  }

  async close(): Promise<void> {
    await this.#reader.cancel().catch(() => undefined);
  }
}

async function openEvents(token: string, runId: string, lastEventId?: number): Promise<{ res: Response; sse: Sse }> {
  const headers: Record<string, string> = { authorization: `Bearer ${token}`, accept: 'text/event-stream' };
  if (lastEventId !== undefined) headers['last-event-id'] = String(lastEventId);
  const res = await worker.fetch(`/v1/runs/${runId}/events`, { headers });
  expect(res.status).toBe(200);
  return { res, sse: new Sse(res.body!) };
}

const seqs = (frames: Frame[]) => frames.map((f) => Number(f.id));

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
    await first.sse.close();
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

  it("another tenant's token gets 404 for the stream", async () => {
    const owner = await signupTenant('owner');
    const stranger = await signupTenant('stranger');
    const flow = await api('POST', '/v1/flows', owner, {
      name: 'x',
      definition: { nodes: [{ id: 'gate', type: 'approval', config: {} }] },
    });
    const runId = (await api('POST', `/v1/flows/${flow.body.id}/runs`, owner, { input: {} })).body.id as string;
    const res = await worker.fetch(`/v1/runs/${runId}/events`, { headers: { authorization: `Bearer ${stranger}` } });
    expect(res.status).toBe(404);
    expect(res.headers.get('content-type')).toMatch(/problem\+json/);
    await res.body?.cancel();
    expect((await api('POST', `/v1/runs/${runId}/cancel`, owner, {})).status).toBe(200);
  });
});
