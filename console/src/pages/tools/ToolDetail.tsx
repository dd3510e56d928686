/**
 * One tool: its code and schemas (edited in place with `data:write`; a change of code or schemas adds a
 * version), an invoke form generated from the input schema, the result, the invocation log and the versions.
 * A viewer sees the same page read-only: no edit, invoke, delete or rate controls.
 */
import '../common/pages.css';
import { useMemo, useState } from 'react';
import { Link, useNavigate, useParams } from 'react-router';
import { ApiError, type Schemas } from '../../api/client';
import { useClient, useRole } from '../../auth';
import { Button, Empty, ErrorBanner, Field, Form, Loading } from '../../ui';
import { foldErrors, TextAreaField } from '../common/fields';
import { LoadMore } from '../common/LoadMore';
import { useLoad, usePaged, when } from '../common/use-load';
import { RateOutput } from '../feedback/RateOutput';
import { networkOf, networkText, parseJsonField } from './json-field';
import { RawInput, SchemaFields } from './SchemaForm';
import { buildInput, formFromSchema } from './schema-form-model';

type Tool = Schemas['Tool'];
type Result = Schemas['ToolInvocationResult'];

const pretty = (v: unknown) => JSON.stringify(v, null, 2);

export default function ToolDetail() {
  const { toolId = '' } = useParams();
  const client = useClient();
  const { can } = useRole();
  const navigate = useNavigate();
  const tool = useLoad(() => client.call(client.api.GET('/v1/tools/{toolId}', { params: { path: { toolId } } })), [client, toolId]);
  const log = usePaged(
    (cursor) =>
      client.call(
        client.api.GET('/v1/tools/{toolId}/invocations', {
          params: { path: { toolId }, query: { limit: 25, ...(cursor ? { cursor } : {}) } },
        }),
      ),
    [client, toolId],
  );
  const versions = useLoad(
    () => client.call(client.api.GET('/v1/tools/{toolId}/versions', { params: { path: { toolId }, query: { limit: 20 } } })),
    [client, toolId],
  );
  const [editing, setEditing] = useState(false);

  if (tool.data === undefined) {
    return (
      <section className="page">
        <h1>Tool</h1>
        {tool.problem ? <ErrorBanner problem={tool.problem} /> : <Loading label="Loading the tool" />}
      </section>
    );
  }
  const t = tool.data;
  const writer = can('data:write');
  return (
    <section className="page">
      <p className="breadcrumb">
        <Link to="/tools">Tools</Link> /
      </p>
      <h1>
        {t.name} <span className="badge">v{t.version}</span> <span className="badge">{t.runtime}</span>
      </h1>
      {t.description ? <p className="lede">{t.description}</p> : null}
      <p className="muted">
        Timeout {t.timeoutMs} ms · memory {t.memoryMb} MB · network{' '}
        {t.network === 'none' ? 'none' : (t.network as { allow: string[] }).allow.join(', ')} · updated {when(t.updatedAt)}
      </p>
      {writer && !editing ? (
        <div className="row">
          <Button onClick={() => setEditing(true)}>Edit code and schemas</Button>
          <Button
            variant="danger"
            onClick={async () => {
              if (!window.confirm(`Delete the tool ${t.name} and all its versions? Its invocation log stays.`)) return;
              await client.call(client.api.DELETE('/v1/tools/{toolId}', { params: { path: { toolId } } }));
              navigate('/tools');
            }}
          >
            Delete tool
          </Button>
        </div>
      ) : null}

      {editing ? (
        <EditTool
          tool={t}
          onDone={async (changed) => {
            setEditing(false);
            if (changed) await Promise.all([tool.reload(), versions.reload()]);
          }}
        />
      ) : (
        <div className="grid-2">
          <section aria-label="Code">
            <h2>Code</h2>
            <pre className="code" data-testid="tool-code">
              {t.code}
            </pre>
          </section>
          <section aria-label="Schemas">
            <h2>Input schema</h2>
            <pre className="code">{pretty(t.inputSchema)}</pre>
            <h2>Output schema</h2>
            <pre className="code">{t.outputSchema === null ? '(any output)' : pretty(t.outputSchema)}</pre>
          </section>
        </div>
      )}

      {writer ? (
        <InvokeTool key={`${t.id}@${t.version}`} tool={t} versions={versions.data?.data ?? []} onInvoked={() => void log.reload()} />
      ) : null}

      <section aria-labelledby="log-title">
        <h2 id="log-title">Invocation log</h2>
        <ErrorBanner problem={log.problem} />
        {log.items === undefined ? (
          log.problem ? null : (
            <Loading label="Loading invocations" />
          )
        ) : log.items.length === 0 ? (
          <Empty title="Not invoked yet." />
        ) : (
          <table className="table" aria-label="Invocations">
            <thead>
              <tr>
                <th scope="col">When</th>
                <th scope="col">Outcome</th>
                <th scope="col">Source</th>
                <th scope="col">Version</th>
                <th scope="col">Duration</th>
                <th scope="col">Input / output / log bytes</th>
                <th scope="col">Sandbox</th>
                <th scope="col">Id</th>
              </tr>
            </thead>
            <tbody>
              {log.items.map((i) => (
                <tr key={i.id} data-invocation={i.id}>
                  <td>{when(i.createdAt)}</td>
                  <td>
                    <span className={`status status-${i.outcome === 'ok' ? 'ok' : 'bad'}`}>{i.outcome}</span>
                  </td>
                  <td>{i.source}</td>
                  <td>v{i.version}</td>
                  <td>{i.durationMs} ms</td>
                  <td>
                    {i.inputBytes} / {i.outputBytes} / {i.logBytes}
                  </td>
                  <td>{i.sandbox ?? '—'}</td>
                  <td>
                    <code>{i.id}</code>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
        <LoadMore list={log} />
      </section>

      <section aria-labelledby="versions-title">
        <h2 id="versions-title">Versions</h2>
        {versions.data ? (
          <ul className="plain">
            {versions.data.data.map((v) => (
              <li key={v.version}>
                <details>
                  <summary>
                    v{v.version} · {v.runtime} · {when(v.createdAt)}
                  </summary>
                  <pre className="code">{v.code}</pre>
                </details>
              </li>
            ))}
          </ul>
        ) : (
          <ErrorBanner problem={versions.problem} />
        )}
      </section>
    </section>
  );
}

/** PATCH only what changed: code, schemas, limits, description (a change of code or schemas adds a version). */
function EditTool({ tool, onDone }: { tool: Tool; onDone: (changed: boolean) => Promise<void> }) {
  const client = useClient();
  return (
    <Form
      aria-label="Edit tool"
      submitLabel="Save changes"
      onSubmit={async (form) => {
        const outputText = String(form.get('outputSchema') ?? '').trim();
        const next = {
          description: String(form.get('description') ?? ''),
          code: String(form.get('code')),
          inputSchema: parseJsonField('inputSchema', String(form.get('inputSchema'))),
          outputSchema: outputText ? parseJsonField('outputSchema', outputText) : null,
          timeoutMs: Number(form.get('timeoutMs')),
          memoryMb: Number(form.get('memoryMb')),
          network: networkOf(String(form.get('network') ?? '')),
        };
        const patch = Object.fromEntries(
          Object.entries(next).filter(([k, v]) => JSON.stringify(v) !== JSON.stringify((tool as Record<string, unknown>)[k])),
        );
        if (Object.keys(patch).length === 0) return onDone(false);
        await client
          .call(
            client.api.PATCH('/v1/tools/{toolId}', {
              params: { path: { toolId: tool.id } },
              body: patch as Schemas['UpdateToolRequest'],
            }),
          )
          .catch((err) => foldErrors(err, ['inputSchema', 'outputSchema', 'network']));
        await onDone(true);
      }}
    >
      <Field label="Description" name="description" defaultValue={tool.description} />
      <TextAreaField label="Code" name="code" className="code" rows={12} spellCheck={false} defaultValue={tool.code} />
      <div className="grid-2">
        <TextAreaField
          label="Input schema"
          name="inputSchema"
          className="code"
          rows={8}
          spellCheck={false}
          defaultValue={pretty(tool.inputSchema)}
        />
        <TextAreaField
          label="Output schema (empty: any output)"
          name="outputSchema"
          className="code"
          rows={8}
          spellCheck={false}
          defaultValue={tool.outputSchema === null ? '' : pretty(tool.outputSchema)}
        />
      </div>
      <div className="row">
        <Field label="Timeout (ms)" name="timeoutMs" type="number" defaultValue={tool.timeoutMs} />
        <Field label="Memory (MB)" name="memoryMb" type="number" defaultValue={tool.memoryMb} />
        <Field label="Network" name="network" placeholder="none" defaultValue={networkText(tool.network as 'none' | { allow: string[] })} />
        <button type="button" className="btn btn-link" onClick={() => void onDone(false)}>
          Cancel
        </button>
      </div>
    </Form>
  );
}

/** The invoke panel: the latest version by default, or a pinned older one (its own input schema, so its own form). */
function InvokeTool({ tool, versions, onInvoked }: { tool: Tool; versions: Schemas['ToolVersion'][]; onInvoked: () => void }) {
  const [pinned, setPinned] = useState<number | null>(null);
  const older = versions.filter((v) => v.version !== tool.version);
  const schema = pinned === null ? tool.inputSchema : (versions.find((v) => v.version === pinned)?.inputSchema ?? tool.inputSchema);
  return (
    <section aria-labelledby="invoke-title" className="panel">
      <div className="row between">
        <h2 id="invoke-title">Invoke</h2>
        {older.length > 0 ? (
          <label className="inline">
            Version{' '}
            <select
              aria-label="Version to run"
              value={pinned ?? ''}
              onChange={(e) => setPinned(e.currentTarget.value ? Number(e.currentTarget.value) : null)}
            >
              <option value="">latest (v{tool.version})</option>
              {older.map((v) => (
                <option key={v.version} value={v.version}>
                  v{v.version}
                </option>
              ))}
            </select>
          </label>
        ) : null}
      </div>
      <InvokeForm key={pinned ?? 'latest'} toolId={tool.id} schema={schema} version={pinned} onInvoked={onInvoked} />
    </section>
  );
}

function InvokeForm({
  toolId,
  schema,
  version,
  onInvoked,
}: {
  toolId: string;
  schema: unknown;
  version: number | null;
  onInvoked: () => void;
}) {
  const client = useClient();
  const form = useMemo(() => formFromSchema(schema), [schema]);
  const [asJson, setAsJson] = useState(form.kind === 'raw');
  const [values, setValues] = useState<Record<string, string>>({});
  const [raw, setRaw] = useState(() => (form.kind === 'fields' ? pretty(buildInput(form.fields, {}).input) : '{}'));
  const [result, setResult] = useState<Result | null>(null);

  return (
    <>
      {form.kind === 'fields' ? (
        <label className="field-check">
          <input
            type="checkbox"
            checked={asJson}
            onChange={(e) => {
              const on = e.currentTarget.checked;
              if (on) setRaw(pretty(buildInput(form.fields, values).input));
              setAsJson(on);
            }}
          />{' '}
          Edit the input as JSON
        </label>
      ) : null}
      <Form
        aria-label="Invoke tool"
        submitLabel="Invoke"
        onSubmit={async () => {
          let input: unknown;
          if (asJson || form.kind === 'raw') {
            input = parseJsonField('input', raw);
          } else {
            const built = buildInput(form.fields, values);
            const errors = Object.entries(built.errors).map(([name, message]) => ({ path: `input.${name}`, message }));
            if (errors.length > 0) throw new ApiError({ status: 0, title: 'Check the form', detail: '', errors });
            input = built.input;
          }
          setResult(null);
          try {
            const fields = form.kind === 'fields' && !asJson ? form.fields.map((f) => `input.${f.name}`) : ['input'];
            const r = await client
              .call(
                client.api.POST('/v1/tools/{toolId}/invoke', {
                  params: { path: { toolId } },
                  body: { input, ...(version === null ? {} : { version }) },
                }),
              )
              .catch((err) => foldErrors(err, fields));
            setResult(r);
          } finally {
            onInvoked();
          }
        }}
      >
        {asJson || form.kind === 'raw' ? (
          <RawInput value={raw} onChange={setRaw} hint={form.kind === 'raw' ? form.reason : undefined} />
        ) : (
          <SchemaFields fields={form.fields} values={values} onChange={(name, v) => setValues((old) => ({ ...old, [name]: v }))} />
        )}
      </Form>
      {result ? <InvocationResult result={result} /> : null}
    </>
  );
}

function InvocationResult({ result }: { result: Result }) {
  return (
    <div className={`result ${result.ok ? 'result-ok' : 'result-error'}`} role="status" aria-label="Invocation result">
      <p>
        <strong>{result.ok ? 'Succeeded' : `Failed: ${result.error.type}`}</strong> in {result.durationMs} ms
        {result.sandbox ? ` (${result.sandbox})` : ''} · <code>{result.invocationId}</code>
      </p>
      {result.ok ? (
        <pre className="code" data-testid="invocation-output">
          {pretty(result.output)}
        </pre>
      ) : (
        <p className="field-error">{result.error.message}</p>
      )}
      {result.stdout ? (
        <details>
          <summary>stdout</summary>
          <pre className="code">{result.stdout}</pre>
        </details>
      ) : null}
      {result.stderr ? (
        <details open={!result.ok}>
          <summary>stderr</summary>
          <pre className="code">{result.stderr}</pre>
        </details>
      ) : null}
      <RateOutput target={{ type: 'tool_invocation', id: result.invocationId }} />
    </div>
  );
}
