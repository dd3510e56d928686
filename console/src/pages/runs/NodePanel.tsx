/** The selected node of a run: status, attempts, timings, tokens and cost, output or error, child runs, and its actions. */

import { Link } from 'react-router';
import type { Schemas } from '../../api/client';
import { Button } from '../../ui';
import { CHILD_LIMIT } from './graph-layout';
import type { NodeState } from './run-state';

type RunNode = Schemas['RunNode'];

export function NodePanel(props: {
  nodeIds: string[];
  selected: string | null;
  onSelect: (id: string | null) => void;
  node: RunNode | undefined;
  state: NodeState | undefined;
  writer: boolean;
  busy: string | null;
  onSignal: (node: string, payload: { approved: boolean }) => void;
  onRerun: (node: string) => void;
}) {
  const { nodeIds, selected, onSelect, node, state, writer, busy, onSignal, onRerun } = props;
  return (
    <aside className="node-panel" aria-label="Node details" data-testid="node-panel">
      <label className="node-panel__pick">
        Node
        <select value={selected ?? ''} onChange={(e) => onSelect(e.target.value || null)}>
          <option value="">Choose a node…</option>
          {nodeIds.map((id) => (
            <option key={id} value={id}>
              {id}
            </option>
          ))}
        </select>
      </label>
      {!selected || !node ? (
        <p className="muted">Select a node in the graph (or above) to see its attempts, output and cost.</p>
      ) : (
        <>
          <h2>
            {node.id} <small className="muted">{node.type}</small>
          </h2>
          <dl className="node-facts">
            <dt>Status</dt>
            <dd>
              <span className={`run-badge run-status--${state?.status ?? node.status}`}>{state?.status ?? node.status}</span>
              {node.reused ? ' (output reused from the earlier run)' : ''}
            </dd>
            <dt>Attempts</dt>
            <dd data-testid="node-attempts">{node.attempts}</dd>
            {node.branch ? (
              <>
                <dt>Branch</dt>
                <dd>{node.branch}</dd>
              </>
            ) : null}
            <dt>Started</dt>
            <dd>{node.startedAt ? new Date(node.startedAt).toLocaleTimeString() : '–'}</dd>
            <dt>Duration</dt>
            <dd>{node.durationMs === null ? '–' : `${node.durationMs} ms`}</dd>
            <dt>Tokens</dt>
            <dd>
              {node.usage.inputTokens} in / {node.usage.outputTokens} out
            </dd>
            <dt>Cost</dt>
            <dd>${node.usage.costUsd.toFixed(4)}</dd>
          </dl>
          {node.error ? (
            <div className="node-error" role="status">
              <strong>{node.error.kind}</strong>: {node.error.message}
            </div>
          ) : null}
          {state?.text && (state.status === 'running' || state.status === 'waiting') ? (
            <details open>
              <summary>Streaming</summary>
              <pre className="json" data-testid="node-stream" aria-live="polite">
                {state.text}
              </pre>
            </details>
          ) : null}
          {node.output !== null && node.output !== undefined ? (
            <details open>
              <summary>Output</summary>
              <pre className="json" data-testid="node-output">
                {JSON.stringify(node.output, null, 2)}
              </pre>
            </details>
          ) : null}
          {state && (state.children.length > 0 || state.childCount > 0) ? (
            <details open={state.children.length <= CHILD_LIMIT}>
              <summary>
                Child runs ({state.children.length} finished of {Math.max(state.childCount, state.children.length)})
              </summary>
              <ul className="node-children">
                {state.children.map((c) => (
                  <li key={c.index}>
                    #{c.index}{' '}
                    {c.runId ? (
                      <Link to={`/runs/${encodeURIComponent(c.runId)}`}>{c.runId}</Link>
                    ) : (
                      <span className="muted">not started</span>
                    )}{' '}
                    <span className={`run-badge run-status--${c.status === 'completed' ? 'succeeded' : c.status}`}>{c.status}</span>
                  </li>
                ))}
              </ul>
            </details>
          ) : null}
          {writer ? (
            <div className="node-actions">
              {state?.awaitingSignal && state.status === 'waiting' ? (
                <>
                  <Button variant="primary" onClick={() => onSignal(node.id, { approved: true })} disabled={busy !== null}>
                    Approve
                  </Button>
                  <Button onClick={() => onSignal(node.id, { approved: false })} disabled={busy !== null}>
                    Deny
                  </Button>
                </>
              ) : null}
              <Button
                data-testid="rerun-from-here"
                onClick={() => onRerun(node.id)}
                disabled={busy !== null}
                title="A new run from this node, reusing the outputs upstream of it"
              >
                Rerun from here
              </Button>
            </div>
          ) : null}
        </>
      )}
    </aside>
  );
}
