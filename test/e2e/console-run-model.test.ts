/**
 * The console's pure pieces behind the run view and the flow editor (no browser): the reducer that
 * turns run events into node colours, the graph layout's collapse of map children above 50, and the
 * locator that puts a validation problem's path on its line of the JSON.
 */
import { describe, expect, it } from 'vitest';
import { lineOfPath, locatePaths } from '../../console/src/pages/flows/json-paths';
import { CHILD_LIMIT, layoutRunGraph } from '../../console/src/pages/runs/graph-layout';
import { applyRunEvent, initialRunState, type RunEvent, type RunState } from '../../console/src/pages/runs/run-state';

let seq = 0;
const ev = (type: string, nodeId: string | null, data: unknown = null): RunEvent => ({
  seq: ++seq,
  type,
  nodeId,
  data,
  at: '2026-12-03T09:00:00.000Z',
});
const replay = (ids: string[], events: RunEvent[]): RunState => events.reduce(applyRunEvent, initialRunState(ids));
const statuses = (s: RunState) => Object.fromEntries(Object.entries(s.nodes).map(([id, n]) => [id, n.status]));

describe('run-state: node statuses follow the events', () => {
  it('pending → running → succeeded; an approval waits for its signal; the run ends', () => {
    const s = replay(
      ['a', 'gate', 'b'],
      [
        ev('run.created', null, { flowId: 'f', flowVersion: 1, reused: [] }),
        ev('run.started', null, { input: {} }),
        ev('node.started', 'a', { attempt: 1 }),
        ev('node.succeeded', 'a', { attempt: 1, output: 1 }),
        ev('node.started', 'gate', { attempt: 1 }),
        ev('node.waiting', 'gate', { status: 'waiting', forSignal: true }),
        ev('run.waiting', null, { waitingOn: ['gate'] }),
      ],
    );
    expect(statuses(s)).toEqual({ a: 'succeeded', gate: 'waiting', b: 'pending' });
    expect(s.nodes.gate!.awaitingSignal).toBe(true);
    expect(s.status).toBe('waiting');
    const done = [
      ev('node.signalled', 'gate', { payload: { approved: true } }),
      ev('node.succeeded', 'gate', { attempt: 1, output: { approved: true } }),
      ev('node.started', 'b', { attempt: 1 }),
      ev('node.succeeded', 'b', { attempt: 1, output: 2 }),
      ev('run.completed', null, { status: 'succeeded', error: null, output: { b: 2 } }),
    ].reduce(applyRunEvent, s);
    expect(statuses(done)).toEqual({ a: 'succeeded', gate: 'succeeded', b: 'succeeded' });
    expect(done.nodes.gate!.awaitingSignal).toBe(false);
    expect(done.status).toBe('succeeded');
    // The timeline is every event once, in order.
    expect(done.events).toHaveLength(12);
    expect(done.lastSeq).toBe(done.events.at(-1)!.seq);
    expect(done.events.every((e, i) => i === 0 || e.seq > done.events[i - 1]!.seq)).toBe(true);
  });

  it('a retry goes back to pending with the next attempt; a failure and skips end the run failed', () => {
    const s = replay(
      ['a', 'b'],
      [
        ev('node.started', 'a', { attempt: 1 }),
        ev('node.retrying', 'a', { attempt: 1, nextAttempt: 2, delayMs: 100, error: { kind: 'http', message: '503' } }),
      ],
    );
    expect(s.nodes.a).toMatchObject({ status: 'pending', attempt: 1 });
    const failed = [
      ev('node.started', 'a', { attempt: 2 }),
      ev('node.failed', 'a', { attempt: 2, error: { kind: 'http', message: '503' } }),
      ev('node.skipped', 'b'),
      ev('run.failed', null, { status: 'failed', error: "node 'a': 503", output: {} }),
    ].reduce(applyRunEvent, s);
    expect(statuses(failed)).toEqual({ a: 'failed', b: 'skipped' });
    expect(failed.nodes.a!.attempt).toBe(2);
    expect(failed).toMatchObject({ status: 'failed', error: "node 'a': 503" });
  });

  it('a resume makes failed, cancelled and skipped nodes pending again; succeeded ones stay', () => {
    const s = replay(
      ['a', 'b', 'c', 'd'],
      [
        ev('node.succeeded', 'a', { attempt: 1 }),
        ev('node.failed', 'b', { attempt: 1, error: { kind: 'x', message: 'y' } }),
        ev('node.skipped', 'c'),
        ev('node.cancelled', 'd'),
        ev('run.failed', null, { status: 'failed', error: 'e', output: {} }),
        ev('run.resumed', null, { from: 'failed' }),
      ],
    );
    expect(statuses(s)).toEqual({ a: 'succeeded', b: 'pending', c: 'pending', d: 'pending' });
    expect(s).toMatchObject({ status: 'queued', error: null });
  });

  it("a rerun's reused nodes start succeeded; replayed duplicates change nothing", () => {
    const created = ev('run.created', null, { flowId: 'f', flowVersion: 1, reused: ['load'] });
    const s = replay(['load', 'show'], [created]);
    expect(s.nodes.load).toMatchObject({ status: 'succeeded', reused: true });
    expect(s.nodes.show!.status).toBe('pending');
    expect(applyRunEvent(s, created)).toBe(s);
    expect(applyRunEvent(s, { ...created, type: 'node.failed', nodeId: 'load' })).toBe(s);
  });

  it('map children: the announced count, then each finished child', () => {
    const s = replay(
      ['each'],
      [
        ev('node.started', 'each', { attempt: 1 }),
        ev('node.waiting', 'each', { status: 'waiting', children: 3 }),
        ev('node.child', 'each', { index: 2, runId: 'run_x.each.2', status: 'succeeded' }),
        ev('node.child', 'each', { index: 0, runId: 'run_x.each.0', status: 'failed' }),
      ],
    );
    expect(s.nodes.each).toMatchObject({ status: 'waiting', awaitingSignal: false, childCount: 3 });
    expect(s.nodes.each!.children.map((c) => [c.index, c.status])).toEqual([
      [0, 'failed'],
      [2, 'succeeded'],
    ]);
  });
});

describe('graph layout', () => {
  const nodes = [
    { id: 'a', type: 'transform' },
    { id: 'each', type: 'map' },
  ];
  const edges = [{ from: 'a', to: 'each' }];

  it('places every node left to right along its edges', () => {
    const { boxes, lines } = layoutRunGraph(nodes, edges);
    const [a, each] = boxes;
    expect(a!.x).toBeLessThan(each!.x);
    expect(lines).toEqual([{ id: 'e0:a->each', source: 'a', target: 'each', dashed: false }]);
    expect(layoutRunGraph(nodes, [{ from: 'a', to: 'ghost' }]).lines).toEqual([]);
  });

  it(`draws up to ${CHILD_LIMIT} children one by one, and one summary box above`, () => {
    const at = (count: number) => layoutRunGraph(nodes, edges, { each: { count, children: [] } }).boxes;
    expect(at(CHILD_LIMIT).filter((b) => b.kind === 'child')).toHaveLength(CHILD_LIMIT);
    expect(at(CHILD_LIMIT).filter((b) => b.kind === 'children')).toHaveLength(0);
    const big = at(CHILD_LIMIT + 1);
    expect(big.filter((b) => b.kind === 'child')).toHaveLength(0);
    expect(big.filter((b) => b.kind === 'children')).toEqual([
      expect.objectContaining({ id: 'children:each', count: CHILD_LIMIT + 1, label: '51 child runs' }),
    ]);
    // More finished children than announced (a count not yet seen): the larger number wins.
    const seen = Array.from({ length: 4 }, (_, index) => ({ index, runId: `r${index}`, status: 'succeeded' }));
    expect(layoutRunGraph(nodes, edges, { each: { count: 0, children: seen } }).boxes.filter((b) => b.kind === 'child')).toHaveLength(4);
  });
});

describe('json-paths: a problem path to its line', () => {
  const text = JSON.stringify(
    { nodes: [{ id: 'a', config: { expression: 'x +' } }, { id: 'b' }], edges: [{ from: 'a', to: 'z' }] },
    null,
    2,
  );
  const lines = text.split('\n');
  const lineOf = (needle: string) => lines.findIndex((l) => l.includes(needle)) + 1;

  it('finds values, array items and the nearest ancestor of a missing path', () => {
    const at = locatePaths(text);
    expect(lineOfPath(at, 'nodes[0].config.expression')).toBe(lineOf('"expression"'));
    expect(lineOfPath(at, 'nodes[1].id')).toBe(lineOf('"id": "b"'));
    expect(lineOfPath(at, 'edges[0].to')).toBe(lineOf('"to": "z"'));
    expect(lineOfPath(at, 'edges')).toBe(lineOf('"edges"'));
    // nodes[1] has no config: the problem goes on the node itself.
    expect(lineOfPath(at, 'nodes[1].config.expression')).toBe(lineOf('"id": "b"') - 1);
    expect(lineOfPath(at, '')).toBe(1);
  });

  it('keeps what it read before a syntax error, and handles escapes', () => {
    const at = locatePaths('{\n  "a\\"b": 1,\n  "nodes": [\n    { "id": ');
    expect(lineOfPath(at, 'a"b')).toBe(2);
    expect(lineOfPath(at, 'nodes[0].id')).toBe(4);
  });
});

describe('run-state: an agent node', () => {
  it('parks its calls with their inputs until each is signalled; streamed text resets with the provider', () => {
    const s = replay(
      ['agent'],
      [
        ev('node.started', 'agent', { attempt: 1 }),
        ev('node.delta', 'agent', { text: 'Look' }),
        ev('node.delta', 'agent', { reset: true, reason: 'failover', provider: 'b' }),
        ev('node.delta', 'agent', { text: 'Deleting' }),
        ev('node.delta', 'agent', { text: ' (theirs)', via: 'call_9' }),
        ev('node.tool_call', 'agent', {
          step: 1,
          toolCallId: 'c1',
          toolName: 'deleteTask',
          input: { taskId: 't1' },
          requiresApproval: true,
          clientSide: false,
        }),
        ev('node.tool_call', 'agent', {
          step: 1,
          toolCallId: 'c2',
          toolName: 'askUser',
          input: { question: 'Which?' },
          requiresApproval: false,
          clientSide: true,
        }),
        ev('node.waiting', 'agent', {
          status: 'waiting',
          forSignal: true,
          toolCalls: [
            { toolCallId: 'c1', toolName: 'deleteTask', kind: 'approval' },
            { toolCallId: 'c2', toolName: 'askUser', kind: 'client' },
          ],
        }),
      ],
    );
    const agent = s.nodes.agent!;
    expect(agent).toMatchObject({ status: 'waiting', awaitingSignal: false, text: 'Deleting' });
    expect(s.events.map((e) => e.type)).not.toContain('node.delta');
    expect(s.lastSeq).toBe(s.events.at(-1)!.seq);
    expect(agent.parked).toEqual([
      { toolCallId: 'c1', toolName: 'deleteTask', kind: 'approval', input: { taskId: 't1' } },
      { toolCallId: 'c2', toolName: 'askUser', kind: 'client', input: { question: 'Which?' } },
    ]);
    const one = applyRunEvent(s, ev('node.signalled', 'agent', { toolCallId: 'c1', payload: { approved: true } }));
    expect(one.nodes.agent!.parked.map((c) => c.toolCallId)).toEqual(['c2']);
    const resumed = applyRunEvent(one, ev('node.resumed', 'agent', { attempt: 1 }));
    expect(resumed.nodes.agent).toMatchObject({ status: 'running', parked: [] });
  });
});
