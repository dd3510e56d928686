/**
 * /flows/new and /flows/:flowId: the definition as JSON, checked as you type by POST /v1/flows/validate
 * (each problem shown with its path and put on its line), saved as a new immutable version (POST or
 * PUT /v1/flows), its versions, its recent runs, and a form to start a run with input.
 */
import { useCallback, useEffect, useRef, useState } from 'react';
import { Link, useNavigate, useParams } from 'react-router';
import { ApiError, type ApiProblem, type Schemas, toProblem } from '../../api/client';
import { useClient, useRole } from '../../auth';
import { Button, ErrorBanner, Loading } from '../../ui';
import { RecentRuns, StartRun } from './FlowSide';
import { goToLine, JsonEditor, type Problem } from './JsonEditor';
import { lineOfPath, locatePaths } from './json-paths';
import '../runs/run-view.css';
import './flows.css';

type Flow = Schemas['Flow'];
type FlowVersion = Schemas['FlowVersion'];

const TEMPLATE = `{
  "input": { "type": "object", "properties": { "name": { "type": "string" } }, "required": ["name"] },
  "nodes": [
    { "id": "upper", "type": "transform", "config": { "expression": "$uppercase(input.name)" } },
    { "id": "greet", "type": "transform", "config": { "expression": "'Hello, ' & nodes.upper.output & '!'" } }
  ],
  "edges": [{ "from": "upper", "to": "greet" }]
}
`;

type Check =
  | { state: 'checking' }
  | { state: 'syntax'; message: string }
  | { state: 'valid' }
  | { state: 'invalid'; problems: Problem[] }
  | { state: 'error'; message: string };

/** Debounced live validation: JSON syntax locally, the rest by the API. Stale answers are dropped. */
function useLiveValidation(text: string): Check {
  const client = useClient();
  const [check, setCheck] = useState<Check>({ state: 'checking' });
  const seq = useRef(0);
  useEffect(() => {
    const mine = ++seq.current;
    let definition: unknown;
    try {
      definition = JSON.parse(text);
    } catch (err) {
      setCheck({ state: 'syntax', message: (err as Error).message });
      return;
    }
    setCheck({ state: 'checking' });
    const t = setTimeout(async () => {
      try {
        const r = await client.call(client.api.POST('/v1/flows/validate', { body: { definition } }));
        if (mine === seq.current) setCheck(r.valid ? { state: 'valid' } : { state: 'invalid', problems: r.problems });
      } catch (err) {
        if (mine !== seq.current) return;
        const p = toProblem(err);
        // A body that is not even an object is a 422 with paths under `definition`.
        if (p.errors.length)
          setCheck({ state: 'invalid', problems: p.errors.map((e) => ({ ...e, path: e.path.replace(/^definition\.?/, '') })) });
        else setCheck({ state: 'error', message: p.detail || p.title });
      }
    }, 300);
    return () => clearTimeout(t);
  }, [client, text]);
  return check;
}

/** The page, remounted per flow (and for a new one). */
export default function FlowEditorPage() {
  const { flowId } = useParams();
  return <FlowEditor key={flowId ?? 'new'} flowId={flowId} />;
}

function FlowEditor({ flowId }: { flowId: string | undefined }) {
  const client = useClient();
  const navigate = useNavigate();
  const writer = useRole().can('data:write');
  const isNew = !flowId;

  const [flow, setFlow] = useState<Flow | null>(null);
  const [name, setName] = useState('');
  const [description, setDescription] = useState('');
  const [text, setText] = useState(isNew ? TEMPLATE : '');
  const [loadError, setLoadError] = useState<ApiProblem | null>(null);
  const [versions, setVersions] = useState<FlowVersion[]>([]);
  const [editingFrom, setEditingFrom] = useState<number | null>(null);
  const [saveError, setSaveError] = useState<ApiProblem | null>(null);
  const [saving, setSaving] = useState(false);
  const [saved, setSaved] = useState<string | null>(null);
  const check = useLiveValidation(text);

  const loadFlow = useCallback(async () => {
    if (!flowId) return;
    try {
      const f = await client.call(client.api.GET('/v1/flows/{flowId}', { params: { path: { flowId }, query: {} } }));
      setFlow(f);
      setName(f.name);
      setDescription(f.description ?? '');
      setText(`${JSON.stringify(f.definition ?? {}, null, 2)}\n`);
      setEditingFrom(f.version);
      const v = await client.call(client.api.GET('/v1/flows/{flowId}/versions', { params: { path: { flowId }, query: { limit: 50 } } }));
      setVersions(v.data);
    } catch (err) {
      setLoadError(toProblem(err));
    }
  }, [client, flowId]);
  useEffect(() => {
    void loadFlow();
  }, [loadFlow]);

  const nameError = saveError?.errors.find((e) => e.path === 'name')?.message;
  const serverProblems: Problem[] = (saveError?.errors ?? [])
    .filter((e) => e.path.startsWith('definition'))
    .map((e) => ({ ...e, path: e.path.replace(/^definition\.?/, '') }));
  const problems: Problem[] = check.state === 'invalid' ? check.problems : serverProblems;

  async function save() {
    setSaving(true);
    setSaveError(null);
    setSaved(null);
    try {
      let definition: unknown;
      try {
        definition = JSON.parse(text);
      } catch (err) {
        throw new ApiError({ status: 400, title: 'Not JSON', detail: `The definition is not JSON: ${(err as Error).message}`, errors: [] });
      }
      const body = { name, description: description || null, definition } as Schemas['FlowRequest'];
      if (isNew) {
        const f = await client.call(client.api.POST('/v1/flows', { body }));
        navigate(`/flows/${encodeURIComponent(f.id)}`);
      } else {
        const f = await client.call(client.api.PUT('/v1/flows/{flowId}', { params: { path: { flowId } }, body }));
        setSaved(`Saved as version ${f.version}.`);
        await loadFlow();
      }
    } catch (err) {
      setSaveError(toProblem(err));
    } finally {
      setSaving(false);
    }
  }

  if (loadError) {
    return (
      <section className="flows-page">
        <h1>Flow</h1>
        <p role="alert" className="run-error">
          {loadError.status === 404 ? 'No such flow.' : loadError.detail || loadError.title}
        </p>
        <Link to="/flows">All flows</Link>
      </section>
    );
  }
  if (!isNew && !flow) return <Loading label="Loading flow" />;

  return (
    <section className="flows-page">
      <header className="page-head">
        <h1>{isNew ? 'New flow' : flow?.name}</h1>
        <div className="page-head__actions">
          <Link to="/flows">All flows</Link>
          {flow ? <code>{flow.id}</code> : null}
        </div>
      </header>
      <div className="flow-grid">
        <form
          className="flow-form"
          onSubmit={(e) => {
            e.preventDefault();
            if (writer) void save();
          }}
        >
          <label className="field">
            <span>Name</span>
            <input
              value={name}
              onChange={(e) => setName(e.target.value)}
              required
              maxLength={200}
              readOnly={!writer}
              aria-invalid={!!nameError}
              aria-describedby={nameError ? 'flow-name-error' : undefined}
            />
            {nameError ? (
              <span className="field__error" id="flow-name-error">
                {nameError}
              </span>
            ) : null}
          </label>
          <label className="field">
            <span>Description</span>
            <input value={description} onChange={(e) => setDescription(e.target.value)} maxLength={2000} readOnly={!writer} />
          </label>
          <div className="field">
            <span id="flow-json-label">
              Definition (JSON){editingFrom ? <span className="muted"> · from version {editingFrom}</span> : null}
            </span>
            <JsonEditor id="flow-json" label="Definition (JSON)" value={text} onChange={setText} problems={problems} readOnly={!writer} />
          </div>
          <div id="flow-json-problems" className="validation" data-testid="validation" data-state={check.state} aria-live="polite">
            {check.state === 'checking' ? <p className="muted">Checking…</p> : null}
            {check.state === 'valid' ? <p className="ok">✓ Valid definition</p> : null}
            {check.state === 'syntax' ? <p className="run-error">JSON syntax: {check.message}</p> : null}
            {check.state === 'error' ? <p className="run-error">{check.message}</p> : null}
            {problems.length > 0 ? (
              <ul className="problems">
                {problems.map((p) => {
                  const line = lineOfPath(locatePaths(text), p.path);
                  return (
                    <li key={`${p.path}:${p.message}`} data-path={p.path}>
                      <button type="button" className="link" onClick={() => line && goToLine('flow-json', text, line)}>
                        {line ? `line ${line}` : 'go'}
                      </button>{' '}
                      <code>{p.path || '(definition)'}</code> {p.message}
                    </li>
                  );
                })}
              </ul>
            ) : null}
          </div>
          {saveError && !saveError.errors.length ? <ErrorBanner problem={saveError} /> : null}
          {saved ? <p className="ok">{saved}</p> : null}
          {writer ? (
            <div>
              <Button type="submit" variant="primary" disabled={saving || check.state === 'syntax'}>
                {isNew ? 'Create flow' : 'Save new version'}
              </Button>
            </div>
          ) : null}
        </form>
        {flow ? (
          <aside className="flow-side">
            {writer ? <StartRun flowId={flow.id} versions={versions.map((v) => v.version)} /> : null}
            <section aria-label="Versions">
              <h2>Versions</h2>
              <ol className="versions" data-testid="versions">
                {versions.map((v) => (
                  <li key={v.version}>
                    <strong>v{v.version}</strong> <span className="muted">{new Date(v.createdAt).toLocaleString()}</span>{' '}
                    <button
                      type="button"
                      className="link"
                      onClick={() => {
                        setText(`${JSON.stringify(v.definition, null, 2)}\n`);
                        setEditingFrom(v.version);
                      }}
                    >
                      {editingFrom === v.version ? 'shown' : 'show'}
                    </button>
                  </li>
                ))}
              </ol>
            </section>
            <RecentRuns flowId={flow.id} />
          </aside>
        ) : null}
      </div>
    </section>
  );
}
