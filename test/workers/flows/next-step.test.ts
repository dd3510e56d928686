// The engine's decisions as pure functions of persisted state and an injected clock: exact, no runtime.
import { describe, expect, it } from 'vitest';
import {
  type ChildEntry,
  childrenOutcome,
  type NextStep,
  type NodeSnapshot,
  nextStep,
  type RunSnapshot,
  retryDelay,
} from '../../../durable-objects/flow-run/next-step';
import type { FlowNodeDef } from '../../../src/flows/definition';
import { NODE_TYPES } from '../../../src/flows/nodes/registry';
import { NodeError } from '../../../src/flows/nodes/types';
import type { NodeStatus } from '../../../src/flows/plan';

const NOW = 1_000_000;
const DEADLINE = NOW + 60_000;

type N = Partial<NodeSnapshot> & { status: NodeStatus };

/** A run of transform nodes over `edges` ("from>to" or "from>to:when"), nodes in the given order. */
function run(nodes: Record<string, N>, edges: string[] = [], extra: Partial<RunSnapshot> & { maxParallel?: number } = {}): RunSnapshot {
  const { maxParallel = 64, ...rest } = extra;
  return {
    status: 'running',
    deadlineAt: DEADLINE,
    def: {
      nodes: Object.keys(nodes).map((id) => ({ id, type: 'transform', config: {} })),
      edges: edges.map((e) => {
        const [from, rest] = e.split('>') as [string, string];
        const [to, when] = rest.split(':') as [string, string | undefined];
        return { from, to, ...(when === undefined ? {} : { when }) };
      }),
      policy: { onFailure: 'fail_fast', timeoutMs: 60_000, maxParallel },
    },
    nodes: Object.entries(nodes).map(([id, n]) => ({ id, branch: null, notBefore: null, wait: null, ...n })),
    ...rest,
  };
}

const advance = (s: Partial<Extract<NextStep, { kind: 'advance' }>>): NextStep => ({
  kind: 'advance',
  wake: [],
  expire: [],
  skip: [],
  start: [],
  settle: { kind: 'await' },
  wakeAt: DEADLINE,
  ...s,
});

const pending: N = { status: 'pending' };
const running: N = { status: 'running' };
const succeeded: N = { status: 'succeeded' };

const cases: Array<{ name: string; run: RunSnapshot; inflight?: string[]; want: NextStep }> = [
  { name: 'a queued run waits for admission', run: run({ a: pending }, [], { status: 'queued' }), want: { kind: 'idle' } },
  { name: 'a finished run does nothing', run: run({ a: succeeded }, [], { status: 'succeeded' }), want: { kind: 'idle' } },
  {
    name: 'the run deadline has passed',
    run: run({ a: running }, [], { deadlineAt: NOW - 1 }),
    inflight: ['a'],
    want: { kind: 'timeout', error: 'run timed out after 60000 ms' },
  },
  {
    name: 'the run deadline is now',
    run: run({ a: pending }, [], { deadlineAt: NOW }),
    want: { kind: 'timeout', error: 'run timed out after 60000 ms' },
  },
  { name: 'roots start', run: run({ a: pending, b: pending }, ['a>b']), want: advance({ start: [{ id: 'a', resumed: false }] }) },
  {
    name: 'a node starts when its upstream succeeded',
    run: run({ a: succeeded, b: pending }, ['a>b']),
    want: advance({ start: [{ id: 'b', resumed: false }] }),
  },
  {
    name: 'parallel branches start together',
    run: run({ a: succeeded, l: pending, r: pending, j: pending }, ['a>l', 'a>r', 'l>j', 'r>j']),
    want: advance({
      start: [
        { id: 'l', resumed: false },
        { id: 'r', resumed: false },
      ],
    }),
  },
  {
    name: 'an attempt in flight is awaited, not restarted',
    run: run({ a: running, b: pending }, ['a>b']),
    inflight: ['a'],
    want: advance({}),
  },
  {
    name: 'a node running when the object died is started again, before new ones',
    run: run({ r: pending, a: running }),
    want: advance({
      start: [
        { id: 'a', resumed: true },
        { id: 'r', resumed: false },
      ],
    }),
  },
  {
    name: 'maxParallel bounds the starts by what is in flight',
    run: run({ a: running, b: pending, c: pending }, [], { maxParallel: 2 }),
    inflight: ['a'],
    want: advance({ start: [{ id: 'b', resumed: false }] }),
  },
  {
    name: 'a full budget starts nothing',
    run: run({ a: running, b: pending }, [], { maxParallel: 1 }),
    inflight: ['a'],
    want: advance({}),
  },
  {
    name: 'the untaken condition branch is skipped, the taken one starts',
    run: run({ check: { status: 'succeeded', branch: 'true' }, big: pending, small: pending }, ['check>big:true', 'check>small:false']),
    want: advance({ skip: ['small'], start: [{ id: 'big', resumed: false }] }),
  },
  {
    name: 'skips cascade and a join with one active edge still runs',
    run: run({ check: { status: 'succeeded', branch: 'true' }, big: running, small: pending, after: pending, join: pending }, [
      'check>big:true',
      'check>small:false',
      'small>after',
      'big>join',
      'after>join',
    ]),
    inflight: ['big'],
    want: advance({ skip: ['small', 'after'] }),
  },
  {
    name: 'a retry in backoff parks the run until it is due',
    run: run({ a: { status: 'pending', notBefore: NOW + 500 } }),
    want: advance({ settle: { kind: 'park', status: 'running', waitingOn: [] }, wakeAt: NOW + 500 }),
  },
  {
    name: 'a retry due now starts',
    run: run({ a: { status: 'pending', notBefore: NOW } }),
    want: advance({ start: [{ id: 'a', resumed: false }] }),
  },
  {
    name: 'while an attempt runs, the timer is the earliest retry',
    run: run({ a: running, b: { status: 'pending', notBefore: NOW + 200 } }),
    inflight: ['a'],
    want: advance({ wakeAt: NOW + 200 }),
  },
  {
    name: 'a delay that elapsed succeeds and its successor starts in the same step',
    run: run({ nap: { status: 'waiting', notBefore: NOW - 5, wait: { until: NOW - 5 } }, b: pending }, ['nap>b']),
    want: advance({ wake: [{ id: 'nap', until: NOW - 5 }], start: [{ id: 'b', resumed: false }] }),
  },
  {
    name: 'a delay still running parks the run as waiting until its end',
    run: run({ nap: { status: 'waiting', notBefore: NOW + 1000, wait: { until: NOW + 1000 } }, b: pending }, ['nap>b']),
    want: advance({ settle: { kind: 'park', status: 'waiting', waitingOn: ['nap'] }, wakeAt: NOW + 1000 }),
  },
  {
    name: 'an approval past its deadline fails, and so does the run',
    run: run({ gate: { status: 'waiting', notBefore: NOW, wait: { forSignal: true, timeoutAt: NOW } }, b: pending }, ['gate>b']),
    want: advance({
      expire: ['gate'],
      skip: ['b'],
      settle: { kind: 'finish', status: 'failed', error: 'node(s) failed: gate' },
      wakeAt: DEADLINE,
    }),
  },
  {
    name: 'an approval without a deadline waits until the run deadline',
    run: run({ gate: { status: 'waiting', wait: { forSignal: true } } }),
    want: advance({ settle: { kind: 'park', status: 'waiting', waitingOn: ['gate'] } }),
  },
  {
    name: 'a node waiting for child runs parks the run as waiting',
    run: run({ each: { status: 'waiting', wait: { children: true } } }, [], { status: 'waiting' }),
    want: advance({ settle: { kind: 'park', status: 'waiting', waitingOn: ['each'] } }),
  },
  {
    name: 'without a deadline and nothing due there is no timer',
    run: run({ gate: { status: 'waiting', wait: { forSignal: true } } }, [], { deadlineAt: null }),
    want: advance({ settle: { kind: 'park', status: 'waiting', waitingOn: ['gate'] }, wakeAt: null }),
  },
  {
    name: 'every node succeeded: the run succeeds',
    run: run({ a: succeeded, b: { status: 'skipped' } }),
    want: advance({ settle: { kind: 'finish', status: 'succeeded', error: null } }),
  },
  {
    name: 'a failed node skips its successors and fails the run, naming it',
    run: run({ a: { status: 'failed' }, b: pending, c: succeeded }, ['a>b']),
    want: advance({ skip: ['b'], settle: { kind: 'finish', status: 'failed', error: 'node(s) failed: a' } }),
  },
  {
    name: 'a cancelled node fails the run without a node to name',
    run: run({ a: { status: 'cancelled' } }),
    want: advance({ settle: { kind: 'finish', status: 'failed', error: 'run failed' } }),
  },
];

describe('nextStep', () => {
  it.each(cases)('$name', ({ run, inflight = [], want }) => {
    expect(nextStep(run, new Set(inflight), NOW)).toEqual(want);
  });
});

const node = (retry?: FlowNodeDef['retry']): FlowNodeDef => ({ id: 'n', type: 'http', config: {}, ...(retry ? { retry } : {}) });
const policy = { maxAttempts: 3, backoffMs: 1000, maxBackoffMs: 60_000 };
const err = (kind: ConstructorParameters<typeof NodeError>[0] = 'network', retryable = true, details?: Record<string, unknown>) =>
  new NodeError(kind, 'boom', retryable, details);

describe('retryDelay', () => {
  it.each([
    { name: 'no retry policy', def: node(), attempt: 1, base: 0, error: err(), want: null },
    { name: 'a failure that is not retryable', def: node(policy), attempt: 1, base: 0, error: err('expression', false), want: null },
    { name: 'the attempts are used up', def: node(policy), attempt: 3, base: 0, error: err(), want: null },
    { name: 'a resume restores the budget', def: node(policy), attempt: 3, base: 2, error: err(), want: 2000 },
    { name: 'first retry: half the base with zero jitter', def: node(policy), attempt: 1, base: 0, error: err(), want: 500 },
    { name: 'backoff doubles per attempt', def: node(policy), attempt: 2, base: 0, error: err(), want: 1000 },
    {
      name: 'backoff is capped',
      def: node({ ...policy, maxAttempts: 20, maxBackoffMs: 3000 }),
      attempt: 10,
      base: 0,
      error: err(),
      want: 1500,
    },
    {
      name: 'a longer Retry-After wins',
      def: node(policy),
      attempt: 1,
      base: 0,
      error: err('http_429', true, { retryAfter: '7' }),
      want: 7000,
    },
    {
      name: 'a shorter Retry-After does not',
      def: node(policy),
      attempt: 2,
      base: 0,
      error: err('http_429', true, { retryAfter: '0' }),
      want: 1000,
    },
    { name: 'retryOn leaves this kind out', def: node({ ...policy, retryOn: ['timeout'] }), attempt: 1, base: 0, error: err(), want: null },
  ])('$name', ({ def, attempt, base, error, want }) => {
    expect(retryDelay(def, attempt, base, error, () => 0)).toBe(want);
  });
});

const child = (status: ChildEntry['status'], output?: unknown, error?: string): ChildEntry => ({
  runId: `run_c${status}`,
  input: null,
  status,
  ...(output === undefined ? {} : { output }),
  ...(error === undefined ? {} : { error }),
});

describe('childrenOutcome', () => {
  it.each([
    {
      name: 'map collects outputs in order',
      type: 'map',
      list: [child('succeeded', 1), child('succeeded', 4)],
      want: { ok: true, output: [1, 4] },
    },
    { name: 'an empty map succeeds with no outputs', type: 'map', list: [], want: { ok: true, output: [] } },
    { name: 'subflow takes its child output', type: 'subflow', list: [child('succeeded', { x: 1 })], want: { ok: true, output: { x: 1 } } },
    {
      name: 'any child that did not succeed fails the node, listed',
      type: 'map',
      list: [child('succeeded', 1), child('failed', undefined, 'bad'), child('cancelled')],
      want: {
        ok: false,
        error: {
          kind: 'error',
          message: '2 child run(s) did not succeed',
          details: {
            children: [
              { runId: 'run_cfailed', status: 'failed', error: 'bad' },
              { runId: 'run_ccancelled', status: 'cancelled', error: undefined },
            ],
          },
        },
      },
    },
  ])('$name', ({ type, list, want }) => {
    expect(childrenOutcome(type, list)).toEqual(want);
  });
});

describe('node types', () => {
  it('declare whether they start child runs: subflow, map and the experiment examples node do', () => {
    expect(
      Object.values(NODE_TYPES)
        .filter((t) => t.startsChildRuns)
        .map((t) => t.type)
        .sort(),
    ).toEqual(['experiment_examples', 'map', 'subflow']);
  });
});
