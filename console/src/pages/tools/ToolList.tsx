/** Tools: the tenant's registered tools, and (with `data:write`) a form to register one. */
import '../common/pages.css';
import { Link, useNavigate } from 'react-router';
import type { Schemas } from '../../api/client';
import { useClient, useRole } from '../../auth';
import { Empty, ErrorBanner, Field, Form, Loading } from '../../ui';
import { foldErrors, SelectField, TextAreaField } from '../common/fields';
import { LoadMore } from '../common/LoadMore';
import { usePaged, when } from '../common/use-load';
import { networkOf, parseJsonField } from './json-field';

const STARTER: Record<'node' | 'python3', string> = {
  node: 'export async function main(input) {\n  return { greeting: "Hello, " + input.name + "!" };\n}\n',
  python3: 'def main(input):\n    return {"greeting": f"Hello, {input[\'name\']}!"}\n',
};
const STARTER_SCHEMA = JSON.stringify({ type: 'object', properties: { name: { type: 'string' } }, required: ['name'] }, null, 2);

export default function ToolList() {
  const client = useClient();
  const { can } = useRole();
  const navigate = useNavigate();
  const tools = usePaged(
    (cursor) => client.call(client.api.GET('/v1/tools', { params: { query: { limit: 50, ...(cursor ? { cursor } : {}) } } })),
    [client],
  );

  return (
    <section className="page">
      <h1>Tools</h1>
      <p className="lede">Functions your flows and agents call, run in the tool runner's sandbox.</p>
      <ErrorBanner problem={tools.problem} />
      {tools.items === undefined ? (
        tools.problem ? null : (
          <Loading label="Loading tools" />
        )
      ) : tools.items.length === 0 ? (
        <Empty title="No tools yet.">{can('data:write') ? <p>Register one below.</p> : null}</Empty>
      ) : (
        <table className="table" aria-label="Tools">
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Runtime</th>
              <th scope="col">Version</th>
              <th scope="col">Description</th>
              <th scope="col">Updated</th>
            </tr>
          </thead>
          <tbody>
            {tools.items.map((t: Schemas['ToolSummary']) => (
              <tr key={t.id}>
                <td>
                  <Link to={`/tools/${t.id}`}>{t.name}</Link>
                </td>
                <td>{t.runtime}</td>
                <td>v{t.version}</td>
                <td>{t.description || <span className="muted">—</span>}</td>
                <td>{when(t.updatedAt)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <LoadMore list={tools} />

      {can('data:write') ? (
        <details className="panel" open={tools.items?.length === 0}>
          <summary>Register a tool</summary>
          <Form
            aria-label="Register a tool"
            submitLabel="Create tool"
            onSubmit={async (form) => {
              const runtime = String(form.get('runtime')) as 'node' | 'python3';
              const outputText = String(form.get('outputSchema') ?? '').trim();
              const created = await client
                .call(
                  client.api.POST('/v1/tools', {
                    body: {
                      name: String(form.get('name')),
                      description: String(form.get('description') ?? ''),
                      runtime,
                      code: String(form.get('code')),
                      inputSchema: parseJsonField('inputSchema', String(form.get('inputSchema'))) as Record<string, unknown>,
                      ...(outputText ? { outputSchema: parseJsonField('outputSchema', outputText) as Record<string, unknown> } : {}),
                      timeoutMs: Number(form.get('timeoutMs')),
                      memoryMb: Number(form.get('memoryMb')),
                      network: networkOf(String(form.get('network') ?? '')),
                    },
                  }),
                )
                .catch((err) => foldErrors(err, ['inputSchema', 'outputSchema', 'network']));
              navigate(`/tools/${created.id}`);
            }}
          >
            <Field label="Name" name="name" placeholder="word-count" autoComplete="off" />
            <Field label="Description" name="description" />
            <SelectField
              label="Runtime"
              name="runtime"
              options={[
                { value: 'node', label: 'JavaScript (node)' },
                { value: 'python3', label: 'Python (python3)' },
              ]}
              onChange={(e) => {
                const code = e.currentTarget.form?.elements.namedItem('code');
                if (code instanceof HTMLTextAreaElement && Object.values(STARTER).includes(code.value)) {
                  code.value = STARTER[e.currentTarget.value as 'node' | 'python3'];
                }
              }}
            />
            <TextAreaField label="Code" name="code" className="code" rows={8} defaultValue={STARTER.node} spellCheck={false} />
            <TextAreaField
              label="Input schema (JSON Schema)"
              name="inputSchema"
              className="code"
              rows={6}
              defaultValue={STARTER_SCHEMA}
              spellCheck={false}
            />
            <TextAreaField
              label="Output schema (optional)"
              name="outputSchema"
              className="code"
              rows={3}
              spellCheck={false}
              hint="Leave empty to accept any output."
            />
            <div className="row">
              <Field label="Timeout (ms)" name="timeoutMs" type="number" defaultValue={10000} min={100} max={60000} />
              <Field label="Memory (MB)" name="memoryMb" type="number" defaultValue={128} min={64} max={1024} />
              <Field
                label="Network"
                name="network"
                placeholder="none"
                hint="Hosts the tool may call (api.example.com, *.example.org); empty: none."
              />
            </div>
          </Form>
        </details>
      ) : null}
    </section>
  );
}
