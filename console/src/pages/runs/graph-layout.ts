/**
 * The run graph's shape: the definition's nodes and edges, plus each map/subflow node's child runs
 * (one box per child up to CHILD_LIMIT, one summary box above it), placed by dagre. Pure; the page
 * recomputes it only when the shape changes (statuses do not move boxes).
 */
import dagre from '@dagrejs/dagre';
import type { ChildRun } from './run-state';

/** Above this many children a map/subflow node's children are drawn as one summary box. */
export const CHILD_LIMIT = 50;
export const NODE_WIDTH = 180;
export const NODE_HEIGHT = 56;
const CHILD_WIDTH = 120;
const CHILD_HEIGHT = 36;

export interface DefNode {
  id: string;
  type: string;
}
export interface DefEdge {
  from: string;
  to: string;
  when?: string;
}

export type BoxKind = 'node' | 'child' | 'children';

export interface Box {
  id: string;
  kind: BoxKind;
  /** The flow node this box is (kind node) or belongs to (child, children). */
  nodeId: string;
  type: string;
  label: string;
  /** kind child: the child run; kind children: how many. */
  child?: ChildRun;
  count?: number;
  x: number;
  y: number;
  width: number;
  height: number;
}

export interface Line {
  id: string;
  source: string;
  target: string;
  label?: string;
  dashed: boolean;
}

/** How many children a node has, as known from its events (the larger of announced and seen). */
export interface ChildInfo {
  count: number;
  children: ChildRun[];
}

export function layoutRunGraph(
  nodes: DefNode[],
  edges: DefEdge[],
  children: Record<string, ChildInfo> = {},
): { boxes: Box[]; lines: Line[] } {
  const g = new dagre.graphlib.Graph();
  g.setGraph({ rankdir: 'LR', nodesep: 24, ranksep: 56 });
  g.setDefaultEdgeLabel(() => ({}));
  const boxes: Box[] = [];
  const lines: Line[] = [];
  const known = new Set(nodes.map((n) => n.id));

  for (const n of nodes) {
    boxes.push({ id: n.id, kind: 'node', nodeId: n.id, type: n.type, label: n.id, x: 0, y: 0, width: NODE_WIDTH, height: NODE_HEIGHT });
  }
  edges.forEach((e, i) => {
    if (!known.has(e.from) || !known.has(e.to)) return;
    lines.push({ id: `e${i}:${e.from}->${e.to}`, source: e.from, target: e.to, dashed: false, ...(e.when ? { label: e.when } : {}) });
  });
  for (const [nodeId, info] of Object.entries(children)) {
    if (!known.has(nodeId)) continue;
    const count = Math.max(info.count, info.children.length);
    if (count === 0) continue;
    if (count > CHILD_LIMIT) {
      const id = `children:${nodeId}`;
      boxes.push({
        id,
        kind: 'children',
        nodeId,
        type: 'children',
        label: `${count} child runs`,
        count,
        x: 0,
        y: 0,
        width: NODE_WIDTH,
        height: NODE_HEIGHT,
      });
      lines.push({ id: `${id}:line`, source: nodeId, target: id, dashed: true });
      continue;
    }
    const byIndex = new Map(info.children.map((c) => [c.index, c]));
    for (let i = 0; i < count; i++) {
      const id = `child:${nodeId}:${i}`;
      const child = byIndex.get(i) ?? { index: i, runId: null, status: 'running' };
      boxes.push({ id, kind: 'child', nodeId, type: 'child', label: `#${i}`, child, x: 0, y: 0, width: CHILD_WIDTH, height: CHILD_HEIGHT });
      lines.push({ id: `${id}:line`, source: nodeId, target: id, dashed: true });
    }
  }

  for (const b of boxes) g.setNode(b.id, { width: b.width, height: b.height });
  for (const l of lines) g.setEdge(l.source, l.target);
  dagre.layout(g);
  for (const b of boxes) {
    const p = g.node(b.id);
    // dagre places centres; React Flow places top-left corners.
    b.x = p.x - b.width / 2;
    b.y = p.y - b.height / 2;
  }
  return { boxes, lines };
}
