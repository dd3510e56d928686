/** /runs: run summaries, newest first, filtered by status and flow (GET /v1/runs). */
import { Link } from 'react-router';
import type { Schemas } from '../../api/client';
import { useClient } from '../../auth';
import { ErrorBanner, Loading } from '../../ui';
import { LoadMore } from '../common/LoadMore';
import { useFilterParams } from '../common/use-filter-params';
import { usePaged } from '../common/use-load';
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
  const { params, set } = useFilterParams();
  const status = (STATUSES as readonly string[]).includes(params.get('status') ?? '') ? (params.get('status') as Status) : undefined;
  const flowId = params.get('flowId') ?? undefined;
  const list = usePaged(
    (cursor) =>
      client.call(
        client.api.GET('/v1/runs', {
          params: { query: { limit: 50, ...(status ? { status } : {}), ...(flowId ? { flowId } : {}), ...(cursor ? { cursor } : {}) } },
        }),
      ),
    [client, status, flowId],
  );
  const runs: RunSummary[] | undefined = list.items;
  const error = list.problem;

  return (
    <section className="flows-page">
      <header className="page-head">
        <h1>Runs</h1>
        <label>
          Status{' '}
          <select value={status ?? ''} onChange={(e) => set('status', e.target.value)}>
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
      {runs === undefined && !error ? <Loading label="Loading runs" /> : null}
      {runs?.length === 0 ? <p className="empty">No runs.</p> : null}
      {runs && runs.length > 0 ? <RunTable runs={runs} /> : null}
      <LoadMore list={list} />
    </section>
  );
}
