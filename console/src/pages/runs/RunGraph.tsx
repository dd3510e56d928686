/**
 * The run's DAG drawn with React Flow: boxes placed by graph-layout.ts (dagre), coloured by the
 * status the event stream gave each node. Each box carries `data-status` (what the browser tests read)
 * and is a button: a click (or Enter on it) selects it for the node panel, or opens a child run.
 */
import { Background, Controls, type Edge, Handle, type Node, type NodeProps, Position, ReactFlow } from '@xyflow/react';
import '@xyflow/react/dist/style.css';
import { memo, useMemo, useRef } from 'react';
import type { Box, Line } from './graph-layout';
import type { NodeState } from './run-state';

type BoxData = { box: Box; state: NodeState | undefined; selected: boolean };
type BoxNode = Node<BoxData, 'box'>;

const childStatus = (s: string): string => (s === 'completed' ? 'succeeded' : s);

const RunBox = memo(function RunBox({ data }: NodeProps<BoxNode>) {
  const { box, state, selected } = data;
  const status =
    box.kind === 'node' ? (state?.status ?? 'pending') : box.kind === 'child' ? childStatus(box.child?.status ?? 'running') : 'group';
  const detail =
    box.kind === 'node'
      ? `${box.type} · ${status}${state?.awaitingSignal ? ' · needs approval' : ''}${state && state.attempt > 1 ? ` · attempt ${state.attempt}` : ''}${state?.reused ? ' · reused' : ''}`
      : box.kind === 'child'
        ? status
        : 'collapsed';
  return (
    <button
      type="button"
      className={`run-box run-box--${box.kind} run-status--${status}${selected ? ' run-box--selected' : ''}`}
      data-testid={box.kind === 'node' ? `run-node-${box.id}` : box.id}
      data-status={status}
      aria-pressed={selected}
      aria-label={`${box.label}: ${detail}`}
    >
      <Handle type="target" position={Position.Left} isConnectable={false} />
      <span className="run-box__label">{box.label}</span>
      <span className="run-box__detail">{detail}</span>
      <Handle type="source" position={Position.Right} isConnectable={false} />
    </button>
  );
});

const nodeTypes = { box: RunBox };

export function RunGraph(props: {
  boxes: Box[];
  lines: Line[];
  states: Record<string, NodeState>;
  selected: string | null;
  onSelect: (nodeId: string, box: Box) => void;
}) {
  const { boxes, lines, states, selected, onSelect } = props;
  // The previous node objects, reused while their data is the same: React Flow keeps a node's
  // internals (measurements) only for the object it was given.
  const previous = useRef(new Map<string, BoxNode>());
  const nodes = useMemo<BoxNode[]>(() => {
    const next = boxes.map((box) => {
      const state = states[box.nodeId];
      const isSelected = box.kind === 'node' && box.id === selected;
      const old = previous.current.get(box.id);
      if (old && old.data.box === box && old.data.state === state && old.data.selected === isSelected) return old;
      return {
        id: box.id,
        type: 'box' as const,
        position: { x: box.x, y: box.y },
        // Size and handles given, not measured: edges draw at once, and a replaced node needs no re-measuring.
        width: box.width,
        height: box.height,
        measured: { width: box.width, height: box.height },
        handles: [
          { type: 'target' as const, position: Position.Left, x: 0, y: box.height / 2, width: 1, height: 1 },
          { type: 'source' as const, position: Position.Right, x: box.width - 1, y: box.height / 2, width: 1, height: 1 },
        ],
        draggable: false,
        connectable: false,
        selectable: false,
        data: { box, state, selected: isSelected },
      };
    });
    previous.current = new Map(next.map((n) => [n.id, n]));
    return next;
  }, [boxes, states, selected]);
  const edges = useMemo<Edge[]>(
    () =>
      lines.map((l) => ({
        id: l.id,
        source: l.source,
        target: l.target,
        ...(l.label ? { label: l.label } : {}),
        animated: !l.dashed && states[l.source]?.status === 'running',
        style: l.dashed ? { strokeDasharray: '4 4' } : undefined,
      })),
    [lines, states],
  );
  return (
    <div className="run-graph" data-testid="run-graph">
      <ReactFlow
        nodes={nodes}
        edges={edges}
        nodeTypes={nodeTypes}
        fitView
        nodesDraggable={false}
        nodesConnectable={false}
        elementsSelectable={false}
        // The box is a button (focusable, Enter clicks it); the click bubbles to React Flow's node.
        nodesFocusable={false}
        onNodeClick={(_, n) => onSelect(n.data.box.nodeId, n.data.box)}
        minZoom={0.1}
      >
        <Background />
        <Controls showInteractive={false} />
      </ReactFlow>
    </div>
  );
}
