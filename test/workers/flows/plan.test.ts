// The DAG planner (src/flows/plan.ts): pure, with the clock passed in.
import { describe, expect, it } from 'vitest';
import { ancestors, backoffDelay, type NodeState, type NodeStatus, type Plan, plan, sinks } from '../../../src/flows/plan';

const NOW = 5_000;

/** A graph from "from>to" / "from>to:when" edges; its nodes are every id named in `states`. */
function graph(edges: string[], ids: string[]) {
  return {
    nodes: ids.map((id) => ({ id, type: 'transform', config: {} })),
    edges: edges.map((e) => {
      const [from, rest] = e.split('>') as [string, string];
      const [to, when] = rest.split(':') as [string, string | undefined];
      return { from, to, ...(when === undefined ? {} : { when }) };
    }),
  };
}

type S = NodeStatus | NodeState;
const st = (states: Record<string, S>) =>
  new Map(Object.entries(states).map(([id, s]) => [id, typeof s === 'string' ? { status: s } : s] as [string, NodeState]));

const cases: Array<{ name: string; edges: string[]; states: Record<string, S>; want: Plan }> = [
  {
    name: 'roots are ready',
    edges: ['a>b'],
    states: { a: 'pending', b: 'pending' },
    want: { ready: ['a'], skip: [], done: false, failed: false },
  },
  {
    name: 'a node waits while an upstream is open',
    edges: ['a>c', 'b>c'],
    states: { a: 'succeeded', b: 'running', c: 'pending' },
    want: { ready: [], skip: [], done: false, failed: false },
  },
  {
    name: 'a join starts once every upstream is resolved and one is active',
    edges: ['a>c', 'b>c'],
    states: { a: 'succeeded', b: 'skipped', c: 'pending' },
    want: { ready: ['c'], skip: [], done: false, failed: false },
  },
  {
    name: 'the taken branch is ready, the other skipped',
    edges: ['k>y:true', 'k>n:false'],
    states: { k: { status: 'succeeded', branch: 'true' }, y: 'pending', n: 'pending' },
    want: { ready: ['y'], skip: ['n'], done: false, failed: false },
  },
  {
    name: 'skips cascade to a fixed point',
    edges: ['a>b', 'b>c', 'c>d'],
    states: { a: 'failed', b: 'pending', c: 'pending', d: 'pending' },
    want: { ready: [], skip: ['b', 'c', 'd'], done: true, failed: true },
  },
  {
    name: 'a retry not yet due is not ready',
    edges: [],
    states: { a: { status: 'pending', notBefore: NOW + 1 } },
    want: { ready: [], skip: [], done: false, failed: false },
  },
  {
    name: 'a retry due now is ready',
    edges: [],
    states: { a: { status: 'pending', notBefore: NOW } },
    want: { ready: ['a'], skip: [], done: false, failed: false },
  },
  {
    name: 'waiting keeps the run open',
    edges: ['a>b'],
    states: { a: 'waiting', b: 'pending' },
    want: { ready: [], skip: [], done: false, failed: false },
  },
  {
    name: 'all succeeded or skipped: done, not failed',
    edges: ['a>b'],
    states: { a: 'succeeded', b: 'skipped' },
    want: { ready: [], skip: [], done: true, failed: false },
  },
  {
    name: 'a cancelled node makes a done run failed',
    edges: [],
    states: { a: 'cancelled' },
    want: { ready: [], skip: [], done: true, failed: true },
  },
];

describe('plan', () => {
  it.each(cases)('$name', ({ edges, states, want }) => {
    expect(plan(graph(edges, Object.keys(states)), st(states), NOW)).toEqual(want);
  });
});

describe('ancestors and sinks', () => {
  const g = graph(['a>b', 'b>d', 'c>d', 'd>e', 'a>f'], ['a', 'b', 'c', 'd', 'e', 'f']);
  it.each([
    { of: 'a', want: [] },
    { of: 'd', want: ['a', 'b', 'c'] },
    { of: 'e', want: ['a', 'b', 'c', 'd'] },
  ])('ancestors of $of', ({ of, want }) => {
    expect([...ancestors(g, of)].sort()).toEqual(want);
  });
  it('sinks are the nodes without an outgoing edge, in definition order', () => {
    expect(sinks(g)).toEqual(['e', 'f']);
  });
});

describe('backoffDelay', () => {
  it.each([
    { attempt: 1, random: 0, want: 500 },
    { attempt: 1, random: 1, want: 1000 },
    { attempt: 3, random: 0.5, want: 3000 },
    { attempt: 0, random: 0, want: 500 },
    { attempt: 20, random: 1, want: 10_000 },
  ])('attempt $attempt, random $random → $want ms', ({ attempt, random, want }) => {
    expect(backoffDelay(attempt, 1000, 10_000, () => random)).toBe(want);
  });
});
