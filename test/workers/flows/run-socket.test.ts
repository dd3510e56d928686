/**
 * GET /v1/runs/{id}/ws: the backlog on connect, then live events pushed as the run moves, each once
 * and in order. The run pushes nothing while no socket is open (issue 20), so the first socket's
 * connect must pick up from the log's head.
 */
import { describe, expect, it } from 'vitest';
import { signup } from '../../support/workers/tenants';
import { openSocket, type WorkerWebSocket } from '../../support/workers/websocket';
import { approval, createFlow, edge, ok, startRun, transform, waitFor } from './_engine-kit';

const GATED = { nodes: [approval('gate'), transform('after', 'nodes.gate.output')], edges: [edge('gate', 'after')] };

interface Frame {
  seq: number;
  type: string;
  nodeId: string | null;
}

async function until(ws: WorkerWebSocket, type: string): Promise<Frame[]> {
  const frames: Frame[] = [];
  for (let i = 0; i < 100; i++) {
    const f = await ws.nextJson<Frame>();
    frames.push(f);
    if (f.type === type) return frames;
  }
  throw new Error(`no ${type} frame`);
}

describe('run WebSocket', () => {
  it('a first socket gets the backlog, then every later event once, in order; a second socket joins without gaps', async () => {
    const t = await signup('run-ws');
    const flowId = await createFlow(t, GATED);
    const run = await startRun(t, flowId);
    await waitFor(t, run.id, ['waiting']);

    const first = await openSocket(`/v1/runs/${run.id}/ws`, { token: t.accessToken });
    const backlog = await until(first, 'node.waiting');
    expect(backlog.map((f) => f.type)).toEqual(['run.created', 'run.started', 'node.started', 'node.waiting']);

    await ok(t, 'POST', `/v1/runs/${run.id}/signal`, { payload: 'go' });
    const live = await until(first, 'run.completed');
    const second = await openSocket(`/v1/runs/${run.id}/ws`, { token: t.accessToken });
    const joined = await until(second, 'run.completed');

    const seqs = [...backlog, ...live].map((f) => f.seq);
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    expect(new Set(seqs).size).toBe(seqs.length);
    expect(live.map((f) => f.type)).toContain('node.signalled');
    expect(live.filter((f) => f.type === 'node.succeeded').map((f) => f.nodeId)).toEqual(['gate', 'after']);
    // The second socket's backlog is the same log, from the start.
    expect(joined.map((f) => f.seq)).toEqual(seqs);
    await Promise.all([first.close(), second.close()]);
  });
});
