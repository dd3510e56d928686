/** A flow page's side panel: start a run with input (and a version), and the flow's recent runs. */
import { useEffect, useState } from 'react';
import { Link, useNavigate } from 'react-router';
import { ApiError, type ApiProblem, type Schemas, toProblem } from '../../api/client';
import { useClient } from '../../auth';
import { Button, Loading } from '../../ui';
import { RunTable } from '../runs/RunsList';

export function StartRun({ flowId, versions }: { flowId: string; versions: number[] }) {
  const client = useClient();
  const navigate = useNavigate();
  const [input, setInput] = useState('{\n  "name": "ada"\n}\n');
  const [version, setVersion] = useState<string>('');
  const [error, setError] = useState<ApiProblem | null>(null);
  const [busy, setBusy] = useState(false);
  async function start() {
    setBusy(true);
    setError(null);
    try {
      let parsed: unknown;
      try {
        parsed = JSON.parse(input || '{}');
      } catch (err) {
        throw new ApiError({ status: 400, title: 'Not JSON', detail: '', errors: [{ path: 'input', message: (err as Error).message }] });
      }
      const body = { input: parsed, ...(version ? { version: Number(version) } : {}) };
      const run = await client.call(client.api.POST('/v1/flows/{flowId}/runs', { params: { path: { flowId } }, body }));
      navigate(`/runs/${encodeURIComponent(run.id)}`);
    } catch (err) {
      setError(toProblem(err));
    } finally {
      setBusy(false);
    }
  }
  return (
    <form
      className="start-run"
      aria-label="Start a run"
      onSubmit={(e) => {
        e.preventDefault();
        void start();
      }}
    >
      <h2>Start a run</h2>
      <label className="field">
        <span>Input (JSON)</span>
        <textarea
          className="mono"
          rows={5}
          value={input}
          onChange={(e) => setInput(e.target.value)}
          spellCheck={false}
          data-testid="run-input"
          aria-invalid={!!error?.errors.length}
          aria-describedby="run-input-errors"
        />
      </label>
      <ul id="run-input-errors" className="problems">
        {error?.errors.map((e) => (
          <li key={`${e.path}:${e.message}`} className="run-error">
            <code>{e.path}</code> {e.message}
          </li>
        ))}
      </ul>
      {error && !error.errors.length ? <p className="run-error">{error.detail || error.title}</p> : null}
      <label className="field">
        <span>Version</span>
        <select value={version} onChange={(e) => setVersion(e.target.value)}>
          <option value="">latest</option>
          {versions.map((v) => (
            <option key={v} value={v}>
              v{v}
            </option>
          ))}
        </select>
      </label>
      <Button type="submit" variant="primary" disabled={busy} data-testid="start-run">
        Start run
      </Button>
    </form>
  );
}

export function RecentRuns({ flowId }: { flowId: string }) {
  const client = useClient();
  const [runs, setRuns] = useState<Schemas['RunSummary'][] | null>(null);
  useEffect(() => {
    client.call(client.api.GET('/v1/runs', { params: { query: { flowId, limit: 10 } } })).then(
      (p) => setRuns(p.data),
      () => setRuns([]),
    );
  }, [client, flowId]);
  return (
    <section aria-label="Recent runs">
      <h2>Recent runs</h2>
      {runs === null ? <Loading label="Loading" /> : runs.length === 0 ? <p className="muted">No runs yet.</p> : <RunTable runs={runs} />}
      <Link to={`/runs?flowId=${encodeURIComponent(flowId)}`}>All runs of this flow</Link>
    </section>
  );
}
