/**
 * /runs/:runId: the run's graph lit by its event stream, a timeline of the events, and a panel for the
 * selected node (attempts, output, error, tokens, cost) with the run's controls: Approve/Deny a waiting
 * approval (or an agent's parked tool call), Cancel, Resume, Rerun from here. Only the public API: GET /v1/runs/{id}, the flow version it
 * pinned (GET /v1/flows/{id}?version=), the SSE stream with a ticket, and the run verbs.
 */
import { useCallback, useEffect, useMemo, useReducer, useRef, useState } from 'react';
import { Link, useNavigate, useParams } from 'react-router';
import { type ApiProblem, type Schemas, toProblem } from '../../api/client';
import { useClient, useRole } from '../../auth';
import { Button, ErrorBanner, Loading } from '../../ui';
import { Approvals, type SignalPayload } from './Approvals';
import { type Box, type ChildInfo, type DefEdge, type DefNode, layoutRunGraph } from './graph-layout';
import { NodePanel } from './NodePanel';
import { RunGraph } from './RunGraph';
import { applyRunEvent, initialRunState, isTerminal, type RunEvent, type RunState } from './run-state';
import { followRun } from './run-stream';
import { Timeline } from './Timeline';
import './run-view.css';

type Run = Schemas['Run'];
type Action = { type: 'reset'; nodeIds: string[] } | { type: 'event'; e: RunEvent };

function reducer(s: RunState, a: Action): RunState {
  return a.type === 'reset' ? initialRunState(a.nodeIds) : applyRunEvent(s, a.e);
}

/** Events that change what GET /v1/runs/{id} shows in the panel (outputs, attempts, usage). */
const REFRESHING = /^(run\.|node\.(succeeded|failed|waiting|usage|retrying|skipped|cancelled|child|signalled))/;

/** The page, remounted per run so no state or stream carries over from the previous one. */
export default function RunViewPage() {
  const { runId = '' } = useParams();
  return <RunView key={runId} runId={runId} />;
}

function RunView({ runId }: { runId: string }) {
  const client = useClient();
  const { can } = useRole();
  const navigate = useNavigate();
  const writer = can('data:write');

  const [run, setRun] = useState<Run | null>(null);
  const [def, setDef] = useState<{ nodes: DefNode[]; edges: DefEdge[]; flowName: string | null } | null>(null);
  const [loadError, setLoadError] = useState<ApiProblem | null>(null);
  const [state, dispatch] = useReducer(reducer, initialRunState([]));
  const [streamGen, setStreamGen] = useState(0);
  const [live, setLive] = useState<'connecting' | 'live' | 'ended' | 'error'>('connecting');
  const [selected, setSelected] = useState<string | null>(null);
  const [busy, setBusy] = useState<string | null>(null);
  const [actionError, setActionError] = useState<ApiProblem | null>(null);
  const lastSeq = useRef(0);
  lastSeq.current = state.lastSeq;

  const fetchRun = useCallback(() => client.call(client.api.GET('/v1/runs/{runId}', { params: { path: { runId } } })), [client, runId]);

  // Load the run and the definition version it pinned; the graph's shape comes from there.
  useEffect(() => {
    let gone = false;
    setRun(null);
    setDef(null);
    setLoadError(null);
    setSelected(null);
    (async () => {
      try {
        const r = await fetchRun();
        let shape: { nodes: DefNode[]; edges: DefEdge[]; flowName: string | null } = {
          nodes: r.nodes.map((n) => ({ id: n.id, type: n.type })),
          edges: [],
          flowName: null,
        };
        try {
          const flow = await client.call(
            client.api.GET('/v1/flows/{flowId}', { params: { path: { flowId: r.flowId }, query: { version: r.flowVersion } } }),
          );
          const d = flow.definition as { nodes?: DefNode[]; edges?: DefEdge[] } | undefined;
          if (d?.nodes) shape = { nodes: d.nodes.map((n) => ({ id: n.id, type: n.type })), edges: d.edges ?? [], flowName: flow.name };
        } catch {
          // A deleted flow, or a run of no saved flow (the assistant's): its nodes without edges.
        }
        if (gone) return;
        dispatch({ type: 'reset', nodeIds: shape.nodes.map((n) => n.id) });
        setDef(shape);
        setRun(r);
      } catch (err) {
        if (!gone) setLoadError(toProblem(err));
      }
    })();
    return () => {
      gone = true;
    };
  }, [client, fetchRun]);

  // Refresh the run's details shortly after the events that change them (one request per burst).
  const refreshTimer = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);
  const scheduleRefresh = useCallback(() => {
    clearTimeout(refreshTimer.current);
    refreshTimer.current = setTimeout(() => {
      fetchRun().then(setRun, () => undefined);
    }, 250);
  }, [fetchRun]);
  useEffect(() => () => clearTimeout(refreshTimer.current), []);

  // Follow the event stream once the shape is known; again after a resume (the stream ended with the run).
  const ready = def !== null;
  // biome-ignore lint/correctness/useExhaustiveDependencies: streamGen reopens the stream after a resume
  useEffect(() => {
    if (!ready) return;
    return followRun({
      runId,
      after: lastSeq.current,
      streamUrl: (path, query) => client.streamUrl(path, query),
      onEvent: (e) => {
        dispatch({ type: 'event', e });
        if (REFRESHING.test(e.type)) scheduleRefresh();
      },
      onState: setLive,
    });
  }, [ready, runId, client, streamGen, scheduleRefresh]);

  // The graph moves only when its shape does (children appearing), not when a status changes.
  const childInfo = useMemo(() => {
    const out: Record<string, ChildInfo> = {};
    for (const [id, n] of Object.entries(state.nodes))
      if (n.childCount || n.children.length) out[id] = { count: n.childCount, children: n.children };
    return out;
  }, [state.nodes]);
  const shapeKey = JSON.stringify(
    Object.entries(childInfo).map(([id, c]) => [id, c.count, c.children.map((x) => `${x.index}:${x.status}`)]),
  );
  // biome-ignore lint/correctness/useExhaustiveDependencies: shapeKey stands for childInfo (a new object on every event)
  const graph = useMemo(() => (def ? layoutRunGraph(def.nodes, def.edges, childInfo) : { boxes: [], lines: [] }), [def, shapeKey]);

  const navigateRef = useRef(navigate);
  navigateRef.current = navigate;
  const onSelect = useCallback((nodeId: string, box: Box) => {
    if (box.kind === 'child' && box.child?.runId) navigateRef.current(`/runs/${encodeURIComponent(box.child.runId)}`);
    else setSelected(nodeId);
  }, []);

  async function act(name: string, f: () => Promise<unknown>) {
    setBusy(name);
    setActionError(null);
    try {
      await f();
    } catch (err) {
      setActionError(toProblem(err));
    } finally {
      setBusy(null);
    }
  }
  const path = { params: { path: { runId } } };
  const cancel = () =>
    act('cancel', async () => setRun(await client.call(client.api.POST('/v1/runs/{runId}/cancel', { ...path, body: {} }))));
  const resume = () =>
    act('resume', async () => {
      setRun(await client.call(client.api.POST('/v1/runs/{runId}/resume', path)));
      setStreamGen((g) => g + 1);
    });
  const signal = (node: string, payload: SignalPayload) =>
    act(`signal:${node}`, async () =>
      setRun(await client.call(client.api.POST('/v1/runs/{runId}/signal', { ...path, body: { node, payload } }))),
    );
  const rerun = (fromNode: string) =>
    act(`rerun:${fromNode}`, async () => {
      const next = await client.call(client.api.POST('/v1/runs/{runId}/rerun', { ...path, body: { fromNode } }));
      navigate(`/runs/${encodeURIComponent(next.id)}`);
    });

  if (loadError) {
    return (
      <section className="run-view">
        <h1>Run</h1>
        <p role="alert" className="run-error">
          {loadError.status === 404
            ? 'No such run.'
            : loadError.status === 410
              ? 'This run has passed its retention: only its summary is kept.'
              : loadError.detail || loadError.title}
        </p>
        <Link to="/runs">All runs</Link>
      </section>
    );
  }
  if (!run || !def) return <Loading label="Loading run" />;

  // Until the stream has said anything, the fetched status stands.
  const status = state.lastSeq > 0 ? state.status : run.status;
  const selectedNode = selected ? run.nodes.find((n) => n.id === selected) : undefined;

  return (
    <section className="run-view">
      <header className="run-head">
        <div>
          <h1>
            Run <code>{run.id}</code>
          </h1>
          <p className="run-meta">
            Flow{' '}
            {run.flowId === 'assistant' ? (
              <code>assistant</code>
            ) : (
              <Link to={`/flows/${encodeURIComponent(run.flowId)}`}>{def.flowName ?? run.flowId}</Link>
            )}{' '}
            v{run.flowVersion}
            {run.parent ? (
              <>
                {' · child of '}
                <Link to={`/runs/${encodeURIComponent(run.parent.runId)}`}>{run.parent.runId}</Link>
              </>
            ) : null}
            {' · '}
            {run.usage.inputTokens + run.usage.outputTokens} tokens · ${run.usage.costUsd.toFixed(4)}
          </p>
        </div>
        <div className="run-actions">
          <span className={`run-badge run-status--${status}`} data-testid="run-status" data-status={status}>
            {status}
          </span>
          <span className={`run-live run-live--${live}`} title="Event stream">
            {live === 'live' ? 'live' : live === 'ended' ? 'stream ended' : live === 'error' ? 'reconnecting…' : 'connecting…'}
          </span>
          {writer && !isTerminal(status) ? (
            <Button onClick={cancel} disabled={busy !== null}>
              Cancel
            </Button>
          ) : null}
          {writer && (status === 'failed' || status === 'cancelled') ? (
            <Button onClick={resume} disabled={busy !== null}>
              Resume
            </Button>
          ) : null}
        </div>
      </header>
      {run.error ? <p className="run-error">{run.error}</p> : null}
      {actionError ? <ErrorBanner problem={actionError} /> : null}
      <Approvals nodes={state.nodes} writer={writer} busy={busy !== null} onSignal={signal} />
      <div className="run-body">
        <RunGraph boxes={graph.boxes} lines={graph.lines} states={state.nodes} selected={selected} onSelect={onSelect} />
        <NodePanel
          nodeIds={def.nodes.map((n) => n.id)}
          selected={selected}
          onSelect={setSelected}
          node={selectedNode}
          state={selected ? state.nodes[selected] : undefined}
          writer={writer}
          busy={busy}
          onSignal={signal}
          onRerun={rerun}
        />
      </div>
      <Timeline events={state.events} onSelect={setSelected} />
    </section>
  );
}
