/**
 * DAG planning as a pure function: which pending nodes can start, which must
 * be skipped, and whether the run is over. Join rule: a node starts when every
 * incoming edge is resolved and at least one is active; it is skipped when all
 * are resolved and none is active (an untaken condition branch, or an upstream
 * node that was skipped, failed or cancelled).
 */
import type { FlowDefinition } from './definition';

export type NodeStatus = 'pending' | 'running' | 'waiting' | 'succeeded' | 'failed' | 'skipped' | 'cancelled';

export interface NodeState {
  status: NodeStatus;
  branch?: string | null;
  /** Not before this time (retry backoff), ms epoch. */
  notBefore?: number | null;
}

export interface Plan {
  ready: string[];
  skip: string[];
  done: boolean;
  failed: boolean;
}

export function incomingEdges(def: Pick<FlowDefinition, 'edges'>): Map<string, FlowDefinition['edges']> {
  const m = new Map<string, FlowDefinition['edges']>();
  for (const e of def.edges) {
    const list = m.get(e.to) ?? [];
    list.push(e);
    m.set(e.to, list);
  }
  return m;
}

export function plan(def: Pick<FlowDefinition, 'nodes' | 'edges'>, states: Map<string, NodeState>, now: number): Plan {
  const incoming = incomingEdges(def);
  const ready: string[] = [];
  const skip: string[] = [];
  // Skips can cascade within one planning pass, so iterate to a fixed point.
  const effective = new Map(states);
  let changed = true;
  while (changed) {
    changed = false;
    for (const n of def.nodes) {
      const s = effective.get(n.id);
      if (s?.status !== 'pending' || skip.includes(n.id)) continue;
      const edges = incoming.get(n.id) ?? [];
      let unresolved = false;
      let active = edges.length === 0;
      for (const e of edges) {
        const src = effective.get(e.from);
        if (!src || src.status === 'pending' || src.status === 'running' || src.status === 'waiting') {
          unresolved = true;
          break;
        }
        if (src.status === 'succeeded' && (e.when === undefined || e.when === src.branch)) active = true;
      }
      if (unresolved) continue;
      if (!active) {
        skip.push(n.id);
        effective.set(n.id, { status: 'skipped' });
        changed = true;
      } else if (!ready.includes(n.id) && (s.notBefore ?? 0) <= now) {
        ready.push(n.id);
      }
    }
  }
  const statuses = [...effective.values()].map((s) => s.status);
  const open = statuses.some((s) => s === 'pending' || s === 'running' || s === 'waiting');
  return { ready, skip, done: !open, failed: statuses.includes('failed') || statuses.includes('cancelled') };
}

/** Ids of every node upstream of `nodeId` (its ancestors). */
export function ancestors(def: Pick<FlowDefinition, 'edges'>, nodeId: string): Set<string> {
  const incoming = incomingEdges(def);
  const seen = new Set<string>();
  const stack = [nodeId];
  while (stack.length) {
    for (const e of incoming.get(stack.pop()!) ?? []) {
      if (!seen.has(e.from)) {
        seen.add(e.from);
        stack.push(e.from);
      }
    }
  }
  return seen;
}

/** Nodes with no outgoing edge: their outputs make the run's output. */
export function sinks(def: Pick<FlowDefinition, 'nodes' | 'edges'>): string[] {
  const from = new Set(def.edges.map((e) => e.from));
  return def.nodes.filter((n) => !from.has(n.id)).map((n) => n.id);
}

/** Exponential backoff with equal jitter: uniform in [cap/2, cap], cap = min(max, base·2^(attempt-1)). */
export function backoffDelay(attempt: number, baseMs: number, maxMs: number, random: () => number = Math.random): number {
  const cap = Math.min(maxMs, baseMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(cap / 2 + (random() * cap) / 2);
}
