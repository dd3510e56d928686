/**
 * Graph shapes run by the FlowRun object: linear chains, diamonds, a 100-wide fan-out whose join sees
 * every output, and multi-branch conditions (untaken branches and everything only downstream of them
 * are skipped). Every node's success is recorded exactly once.
 */
import { describe, expect, it } from 'vitest';
import { signup } from '../../support/workers/tenants';
import { createFlow, edge, events, node, ofType, settled, startRun, successCounts, transform } from './_engine-kit';

function allOnce(counts: Record<string, number>, ids: string[]) {
  expect(counts).toEqual(Object.fromEntries(ids.map((id) => [id, 1])));
}

describe('graphs', () => {
  it('linear: a 20-node chain passes its value along, in order', async () => {
    const t = await signup('g-linear');
    const ids = Array.from({ length: 20 }, (_, i) => `n${i}`);
    const flowId = await createFlow(t, {
      input: { type: 'object', properties: { start: { type: 'integer' } }, required: ['start'] },
      nodes: ids.map((id, i) => transform(id, i === 0 ? 'input.start' : `nodes.n${i - 1}.output + 1`)),
      edges: ids.slice(1).map((id, i) => edge(ids[i]!, id)),
    });
    const run = await startRun(t, flowId, { start: 100 });
    const done = await settled(t, run.id);
    expect(done.status).toBe('succeeded');
    expect(done.output).toEqual({ n19: 119 });
    expect(done.nodes.map((n: any) => n.status)).toEqual(ids.map(() => 'succeeded'));
    // Each node starts only after its predecessor succeeded.
    const ev = await events(run.id);
    const started = ofType(ev, 'node.started').map((e) => e.nodeId);
    expect(started).toEqual(ids);
    for (let i = 1; i < ids.length; i++) {
      const prevDone = ofType(ev, 'node.succeeded', ids[i - 1]!)[0]!.seq;
      expect(ofType(ev, 'node.started', ids[i]!)[0]!.seq).toBeGreaterThan(prevDone);
    }
    allOnce(await successCounts(run.id), ids);
    expect(ofType(ev, 'run.completed')).toHaveLength(1);
  });

  it('diamond: both branches run and the join sees both outputs', async () => {
    const t = await signup('g-diamond');
    const flowId = await createFlow(t, {
      nodes: [
        transform('src', 'input.x'),
        transform('left', 'nodes.src.output * 2'),
        transform('right', 'nodes.src.output + 100'),
        transform('join', '{"l": nodes.left.output, "r": nodes.right.output}'),
      ],
      edges: [edge('src', 'left'), edge('src', 'right'), edge('left', 'join'), edge('right', 'join')],
    });
    const run = await startRun(t, flowId, { x: 7 });
    const done = await settled(t, run.id);
    expect(done.status).toBe('succeeded');
    expect(node(done, 'join').output).toEqual({ l: 14, r: 107 });
    expect(done.output).toEqual({ join: { l: 14, r: 107 } });
    const ev = await events(run.id);
    const joinStart = ofType(ev, 'node.started', 'join')[0]!.seq;
    for (const id of ['left', 'right']) expect(ofType(ev, 'node.succeeded', id)[0]!.seq).toBeLessThan(joinStart);
    allOnce(await successCounts(run.id), ['src', 'left', 'right', 'join']);
  });

  it('100-wide parallel: every branch succeeds once and the join sees all 100 outputs', async () => {
    const t = await signup('g-wide');
    const width = 100;
    const wide = Array.from({ length: width }, (_, i) => `w${i}`);
    const flowId = await createFlow(t, {
      nodes: [
        transform('root', 'input.base'),
        ...wide.map((id, i) => transform(id, `nodes.root.output + ${i}`)),
        transform('join', `$map([0..${width - 1}], function($i) { $lookup(nodes, "w" & $string($i)).output })`),
      ],
      edges: [...wide.map((id) => edge('root', id)), ...wide.map((id) => edge(id, 'join'))],
    });
    const run = await startRun(t, flowId, { base: 1000 });
    const done = await settled(t, run.id);
    expect(done.status).toBe('succeeded');
    expect(node(done, 'join').output).toEqual(wide.map((_, i) => 1000 + i));
    for (const id of wide) expect(node(done, id).status).toBe('succeeded');
    allOnce(await successCounts(run.id), ['root', ...wide, 'join']);
    const ev = await events(run.id);
    // The branches are independent: all of them started before the join, each exactly once.
    expect(ofType(ev, 'node.started').filter((e) => e.nodeId!.startsWith('w'))).toHaveLength(width);
  }, 40_000);

  it('multi-branch condition: only the taken branch runs; the others and their descendants are skipped', async () => {
    const t = await signup('g-branches');
    const def = {
      input: { type: 'object', properties: { x: { type: 'number' } }, required: ['x'] },
      nodes: [
        {
          id: 'route',
          type: 'condition',
          config: { expression: 'input.x < 3 ? "low" : input.x < 7 ? "mid" : "high"', branches: ['low', 'mid', 'high'] },
        },
        transform('low', '"L"'),
        transform('lowMore', 'nodes.low.output & "!"'),
        transform('mid', '"M"'),
        transform('high', '"H"'),
        transform('join', '[nodes.low.output, nodes.mid.output, nodes.high.output]'),
      ],
      edges: [
        edge('route', 'low', 'low'),
        edge('route', 'mid', 'mid'),
        edge('route', 'high', 'high'),
        edge('low', 'lowMore'),
        edge('low', 'join'),
        edge('mid', 'join'),
        edge('high', 'join'),
      ],
    };
    const flowId = await createFlow(t, def);
    const expectations: Array<[number, string]> = [
      [1, 'low'],
      [5, 'mid'],
      [9, 'high'],
    ];
    for (const [x, taken] of expectations) {
      const run = await startRun(t, flowId, { x });
      const done = await settled(t, run.id);
      expect(done.status).toBe('succeeded');
      expect(node(done, 'route')).toMatchObject({ status: 'succeeded', branch: taken });
      for (const b of ['low', 'mid', 'high']) expect(node(done, b).status, `x=${x} ${b}`).toBe(b === taken ? 'succeeded' : 'skipped');
      expect(node(done, 'lowMore').status).toBe(taken === 'low' ? 'succeeded' : 'skipped');
      expect(node(done, 'join').status).toBe('succeeded');
      expect(node(done, 'join').output).toEqual(['low', 'mid', 'high'].map((b) => (b === taken ? b[0]!.toUpperCase() : null)));
      const ev = await events(run.id);
      const skipped = ofType(ev, 'node.skipped')
        .map((e) => e.nodeId)
        .sort();
      expect(skipped).toEqual(['low', 'mid', 'high', 'lowMore'].filter((b) => b !== taken && !(taken === 'low' && b === 'lowMore')).sort());
      // Skipped nodes never started.
      for (const id of skipped) expect(ofType(ev, 'node.started', id!)).toHaveLength(0);
    }
  }, 40_000);

  it('a condition producing a value that is not one of its branches fails the node, naming it', async () => {
    const t = await signup('g-badbranch');
    const flowId = await createFlow(t, {
      nodes: [
        { id: 'route', type: 'condition', config: { expression: 'input.color', branches: ['red', 'green'] } },
        transform('r', '1'),
        transform('g', '2'),
      ],
      edges: [edge('route', 'r', 'red'), edge('route', 'g', 'green')],
    });
    const done = await settled(t, (await startRun(t, flowId, { color: 'blue' })).id);
    expect(done.status).toBe('failed');
    expect(node(done, 'route').status).toBe('failed');
    expect(node(done, 'route').error.message).toMatch(/route.*blue/);
  });

  it('an expression that fails at run time names the node and the expression', async () => {
    const t = await signup('g-exprerr');
    const flowId = await createFlow(t, { nodes: [transform('boom', '$error("kaput")')] });
    const done = await settled(t, (await startRun(t, flowId)).id);
    expect(done.status).toBe('failed');
    const err = node(done, 'boom').error;
    expect(err.kind).toBe('expression');
    expect(err.message).toMatch(/boom/);
    expect(err.message).toMatch(/kaput/);
  });
});
