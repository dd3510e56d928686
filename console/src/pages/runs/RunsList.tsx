/** /runs: run summaries, newest first, filtered by status and flow (GET /v1/runs). */
import { useCallback, useEffect, useState } from 'react';
import { Link, useSearchParams } from 'react-router';
import { type ApiProblem, type Schemas, toProblem } from '../../api/client';
import { useClient } from '../../auth';
import { Button, ErrorBanner, Loading } from '../../ui';
import './run-view.css';
import '../flows/flows.css';

type RunSummary = Schemas['RunSummary'];
const STATUSES = ['queued', 'running', 'waiting', 'succeeded', 'failed', 'cancelled'] as const;
type Status = (typeof STATUSES)[number];

/** A list of runs (also embedded in a flow's page). */
export function RunTable({ runs }: { runs: RunSummary[] }) {
  return (
    <table className="table" data-testid="runs-table">
      <thead>
        <tr>
          <th scope="col">Run</th>
          <th scope="col">Status</th>
          <th scope="col">Flow</th>
          <th scope="col">Created</th>
          <th scope="col">Duration</th>
          <th scope="col">Cost</th>
        </tr>
      </thead>
      <tbody>
        {runs.map((r) => (
          <tr key={r.id} data-run-id={r.id}>
            <td>
              <Link to={`/runs/${encodeURIComponent(r.id)}`}>
                <code>{r.id}</code>
              </Link>
              {r.rerunOf ? <div className="muted">rerun of {r.rerunOf}</div> : null}
              {r.parentRunId ? <div className="muted">child of {r.parentRunId}</div> : null}
            </td>
            <td>
              <span className={`run-badge run-status--${r.status}`}>{r.status}</span>
            </td>
            <td>
              {r.flowId} v{r.flowVersion}
            </td>
            <td>{new Date(r.createdAt).toLocaleString()}</td>
            <td>{r.durationMs === null ? '–' : `${r.durationMs} ms`}</td>
            <td>${r.usage.costUsd.toFixed(4)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

export default function RunsList() {
  const client = useClient();
  const [params, setParams] = useSearchParams();
  const status = (STATUSES as readonly string[]).includes(params.get('status') ?? '') ? (params.get('status') as Status) : undefined;
  const flowId = params.get('flowId') ?? undefined;
  const [runs, setRuns] = useState<RunSummary[] | null>(null);
  const [cursor, setCursor] = useState<string | null>(null);
  const [error, setError] = useState<ApiProblem | null>(null);

  const load = useCallback(
    async (after?: string) => {
      try {
        const query = { limit: 50, ...(status ? { status } : {}), ...(flowId ? { flowId } : {}), ...(after ? { cursor: after } : {}) };
        const page = await client.call(client.api.GET('/v1/runs', { params: { query } }));
        setRuns((prev) => [...(after && prev ? prev : []), ...page.data]);
        setCursor(page.nextCursor ?? null);
      } catch (err) {
        setError(toProblem(err));
      }
    },
    [client, status, flowId],
  );
  useEffect(() => {
    setRuns(null);
    void load();
  }, [load]);

  return (
    <section className="flows-page">
      <header className="page-head">
        <h1>Runs</h1>
        <label>
          Status{' '}
          <select
            value={status ?? ''}
            onChange={(e) => {
              const next = new URLSearchParams(params);
              if (e.target.value) next.set('status', e.target.value);
              else next.delete('status');
              setParams(next);
            }}
          >
            <option value="">any</option>
            {STATUSES.map((s) => (
              <option key={s} value={s}>
                {s}
              </option>
            ))}
          </select>
        </label>
      </header>
      {flowId ? (
        <p>
          Runs of <Link to={`/flows/${encodeURIComponent(flowId)}`}>{flowId}</Link>
        </p>
      ) : null}
      {error ? <ErrorBanner problem={error} /> : null}
      {runs === null && !error ? <Loading label="Loading runs" /> : null}
      {runs?.length === 0 ? <p className="empty">No runs.</p> : null}
      {runs && runs.length > 0 ? <RunTable runs={runs} /> : null}
      {cursor ? <Button onClick={() => load(cursor)}>Load more</Button> : null}
    </section>
  );
}
