/** /flows: the tenant's flows, newest first, paged with the API's cursor. */
import { Link } from 'react-router';
import type { Schemas } from '../../api/client';
import { useClient, useRole } from '../../auth';
import { ErrorBanner, Loading } from '../../ui';
import { LoadMore } from '../common/LoadMore';
import { usePaged } from '../common/use-load';
import '../runs/run-view.css';
import './flows.css';

type Flow = Schemas['Flow'];

export default function FlowsList() {
  const client = useClient();
  const { can } = useRole();
  const list = usePaged(
    (cursor) => client.call(client.api.GET('/v1/flows', { params: { query: { limit: 50, ...(cursor ? { cursor } : {}) } } })),
    [client],
  );
  const flows: Flow[] | undefined = list.items;
  const error = list.problem;

  return (
    <section className="flows-page">
      <header className="page-head">
        <h1>Flows</h1>
        <div className="page-head__actions">
          <Link to="/runs">All runs</Link>
          {can('data:write') ? (
            <Link className="btn btn-primary" to="/flows/new">
              New flow
            </Link>
          ) : null}
        </div>
      </header>
      {error ? <ErrorBanner problem={error} /> : null}
      {flows === undefined && !error ? <Loading label="Loading flows" /> : null}
      {flows?.length === 0 ? (
        <div className="empty">
          <p>No flows yet.</p>
          {can('data:write') ? <Link to="/flows/new">Create your first flow</Link> : null}
        </div>
      ) : null}
      {flows && flows.length > 0 ? (
        <table className="table" data-testid="flows-table">
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Version</th>
              <th scope="col">Updated</th>
              <th scope="col">Id</th>
            </tr>
          </thead>
          <tbody>
            {flows.map((f) => (
              <tr key={f.id}>
                <td>
                  <Link to={`/flows/${encodeURIComponent(f.id)}`}>{f.name}</Link>
                  {f.description ? <div className="muted">{f.description}</div> : null}
                </td>
                <td>v{f.latestVersion ?? f.version}</td>
                <td>{new Date(f.updatedAt).toLocaleString()}</td>
                <td>
                  <code>{f.id}</code>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
      <LoadMore list={list} />
    </section>
  );
}
