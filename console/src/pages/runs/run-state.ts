/**
 * The run view's state, built only from the run's event log (GET /v1/runs/{id}/events): each node's
 * status follows its events, so the graph's colours are what the stream said, in order. Pure: the
 * page feeds it the replay and then the live frames (durable-objects/flow-run/transitions.ts is the
 * writer; src/routes/run-event-schemas.ts lists the events).
 */

export type NodeStatus = 'pending' | 'running' | 'waiting' | 'succeeded' | 'failed' | 'skipped' | 'cancelled';
export type RunStatus = 'queued' | 'running' | 'waiting' | 'succeeded' | 'failed' | 'cancelled';

/** One frame of the run's event stream (`data` of an SSE frame). */
export interface RunEvent {
  seq: number;
  type: string;
  nodeId: string | null;
  data: unknown;
  at: string;
}

export interface ChildRun {
  index: number;
  runId: string | null;
  status: string;
}

/** An agent node's tool call parked until it is answered by a signal `{ toolCallId, approved | output }` (docs/agents.md). */
export interface ParkedCall {
  toolCallId: string;
  toolName: string;
  kind: 'approval' | 'client';
  input: unknown;
}

export interface NodeState {
  status: NodeStatus;
  attempt: number;
  /** Waits for POST /v1/runs/{id}/signal with `{ approved }` (an approval node; an agent's calls are `parked`). */
  awaitingSignal: boolean;
  /** An agent node's calls waiting for an answer. */
  parked: ParkedCall[];
  /** Tool calls seen (their inputs), by id. */
  calls: Record<string, { toolName: string; input: unknown }>;
  /** Text streamed by an llm or agent node's current attempt (`node.delta`). */
  text: string;
  /** map/subflow: how many child runs it waits for, and those that finished. */
  childCount: number;
  children: ChildRun[];
  reused: boolean;
}

export interface RunState {
  /** Last seq applied: resume the stream after it. */
  lastSeq: number;
  status: RunStatus;
  error: string | null;
  nodes: Record<string, NodeState>;
  /** Every event but `node.delta`, in order (the timeline). */
  events: RunEvent[];
}

const TERMINAL_RUN: Record<string, RunStatus> = { 'run.completed': 'succeeded', 'run.failed': 'failed', 'run.cancelled': 'cancelled' };

export const isTerminal = (s: RunStatus): boolean => s === 'succeeded' || s === 'failed' || s === 'cancelled';

const blankNode = (): NodeState => ({
  status: 'pending',
  attempt: 0,
  awaitingSignal: false,
  parked: [],
  calls: {},
  text: '',
  childCount: 0,
  children: [],
  reused: false,
});

/** Every node of the definition pending, before any event. */
export function initialRunState(nodeIds: readonly string[]): RunState {
  return { lastSeq: 0, status: 'queued', error: null, nodes: Object.fromEntries(nodeIds.map((id) => [id, blankNode()])), events: [] };
}

const obj = (v: unknown): Record<string, unknown> => (v && typeof v === 'object' ? (v as Record<string, unknown>) : {});

/** Applies one event; an event at or before `lastSeq` (a replayed duplicate) changes nothing. */
export function applyRunEvent(state: RunState, e: RunEvent): RunState {
  if (e.seq <= state.lastSeq) return state;
  // Streamed text is kept on its node, not in the timeline (an llm run sends thousands of deltas).
  const next: RunState = { ...state, lastSeq: e.seq, events: e.type === 'node.delta' ? state.events : [...state.events, e] };
  const data = obj(e.data);
  if (e.nodeId === null) return applyRunLevel(next, e.type, data);
  const prev = state.nodes[e.nodeId] ?? blankNode();
  const node = applyNodeLevel(prev, e.type, data);
  if (node === prev) return next;
  next.nodes = { ...state.nodes, [e.nodeId]: node };
  if (node.status === 'running' && (next.status === 'queued' || next.status === 'waiting')) next.status = 'running';
  return next;
}

function applyRunLevel(s: RunState, type: string, data: Record<string, unknown>): RunState {
  switch (type) {
    case 'run.created': {
      const reused = Array.isArray(data.reused) ? (data.reused as string[]) : [];
      if (reused.length === 0) return s;
      const nodes = { ...s.nodes };
      for (const id of reused) nodes[id] = { ...(nodes[id] ?? blankNode()), status: 'succeeded', reused: true };
      return { ...s, nodes };
    }
    case 'run.started':
      return { ...s, status: 'running' };
    case 'run.waiting':
      return { ...s, status: 'waiting' };
    case 'run.resumed': {
      // After POST …/resume the failed, cancelled and skipped nodes are pending again (transitions.ts runResumed).
      if (typeof data.from !== 'string') return { ...s, status: 'running' };
      const nodes: Record<string, NodeState> = {};
      for (const [id, n] of Object.entries(s.nodes)) {
        nodes[id] =
          n.status === 'failed' || n.status === 'cancelled' || n.status === 'skipped'
            ? { ...n, status: 'pending', awaitingSignal: false, parked: [], childCount: 0, children: [] }
            : n;
      }
      return { ...s, status: 'queued', error: null, nodes };
    }
    default: {
      const terminal = TERMINAL_RUN[type];
      if (!terminal) return s;
      return { ...s, status: terminal, error: typeof data.error === 'string' ? data.error : null };
    }
  }
}

function applyNodeLevel(n: NodeState, type: string, data: Record<string, unknown>): NodeState {
  const attempt = typeof data.attempt === 'number' ? data.attempt : n.attempt;
  switch (type) {
    case 'node.started':
      return { ...n, status: 'running', attempt, awaitingSignal: false, parked: [], text: data.resumed ? n.text : '' };
    case 'node.resumed':
      return { ...n, status: 'running', attempt, awaitingSignal: false, parked: [] };
    case 'node.retrying':
      return { ...n, status: 'pending' };
    case 'node.delta':
      // A delegated agent's words (`via`) are its own; `reset` drops a failed provider's text.
      if (data.via !== undefined) return n;
      if (data.reset === true) return { ...n, text: '' };
      return typeof data.text === 'string' ? { ...n, text: n.text + data.text } : n;
    case 'node.tool_call':
      if (typeof data.toolCallId !== 'string') return n;
      return { ...n, calls: { ...n.calls, [data.toolCallId]: { toolName: String(data.toolName), input: data.input } } };
    case 'node.waiting': {
      const parked = Array.isArray(data.toolCalls)
        ? (data.toolCalls as Array<{ toolCallId: string; toolName: string; kind: 'approval' | 'client' }>).map((c) => ({
            toolCallId: c.toolCallId,
            toolName: c.toolName,
            kind: c.kind,
            input: n.calls[c.toolCallId]?.input ?? null,
          }))
        : [];
      return {
        ...n,
        status: 'waiting',
        // An agent's parked calls also wait for a signal, but each is answered by its own id.
        awaitingSignal: data.forSignal === true && parked.length === 0,
        parked,
        childCount: typeof data.children === 'number' ? data.children : n.childCount,
      };
    }
    case 'node.signalled':
      return typeof data.toolCallId === 'string' ? { ...n, parked: n.parked.filter((c) => c.toolCallId !== data.toolCallId) } : n;
    case 'node.child': {
      const child: ChildRun = {
        index: typeof data.index === 'number' ? data.index : n.children.length,
        runId: typeof data.runId === 'string' ? data.runId : null,
        status: typeof data.status === 'string' ? data.status : 'unknown',
      };
      const children = n.children.filter((c) => c.index !== child.index);
      children.push(child);
      children.sort((a, b) => a.index - b.index);
      return { ...n, children };
    }
    case 'node.succeeded':
      return { ...n, status: 'succeeded', attempt, awaitingSignal: false, parked: [] };
    case 'node.failed':
      return { ...n, status: 'failed', attempt, awaitingSignal: false, parked: [] };
    case 'node.skipped':
      return { ...n, status: 'skipped', awaitingSignal: false, parked: [] };
    case 'node.cancelled':
      return { ...n, status: 'cancelled', awaitingSignal: false, parked: [] };
    default:
      return n;
  }
}

/** One line of the timeline: when, what, which node, and a short detail. */
export function describeEvent(e: RunEvent): string {
  const d = obj(e.data);
  switch (e.type) {
    case 'node.started':
      return `attempt ${String(d.attempt)}${d.resumed ? ' (resumed)' : ''}`;
    case 'node.retrying':
      return `attempt ${String(d.attempt)} failed: ${String(obj(d.error).message ?? '')}; retry in ${String(d.delayMs)} ms`;
    case 'node.failed':
      return `${String(obj(d.error).kind ?? 'error')}: ${String(obj(d.error).message ?? '')}`;
    case 'node.waiting':
      return d.forSignal ? 'waiting for approval' : typeof d.children === 'number' ? `waiting for ${d.children} child runs` : 'waiting';
    case 'node.child':
      return `child ${String(d.index)} ${String(d.status)}`;
    case 'node.usage':
      return `${String(d.model)}: ${String(d.inputTokens)} in / ${String(d.outputTokens)} out, $${Number(d.costUsd ?? 0).toFixed(4)}`;
    case 'node.tool_call':
      return `calls ${String(d.toolName)}${d.requiresApproval ? ' (needs approval)' : ''}`;
    case 'node.tool_result':
      return `${String(d.toolName)} ${d.error ? 'failed' : d.denied ? 'denied' : 'answered'}`;
    case 'run.created':
      return `version ${String(d.flowVersion)}${Array.isArray(d.reused) && d.reused.length ? `, reusing ${d.reused.join(', ')}` : ''}`;
    case 'run.failed':
    case 'run.cancelled':
      return typeof d.error === 'string' ? d.error : '';
    case 'run.waiting':
      return Array.isArray(d.waitingOn) ? `on ${d.waitingOn.join(', ')}` : '';
    case 'run.resumed':
      return typeof d.from === 'string' ? `from ${d.from}` : '';
    default:
      return '';
  }
}
