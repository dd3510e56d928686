/** API keys (admin): create one with a role and optional expiry (its secret shown once), list, revoke. */
import '../common/pages.css';
import { useState } from 'react';
import { type ApiProblem, type Role, type Schemas, toProblem } from '../../api/client';
import { useClient, useRole } from '../../auth';
import { Button, Empty, ErrorBanner, Field, Form, Loading } from '../../ui';
import { SecretOnce, SelectField } from '../common/fields';
import { useLoad, when } from '../common/use-load';
import { AdminOnly, ROLE_OPTIONS } from './Members';

export default function ApiKeys() {
  const client = useClient();
  const { can } = useRole();
  const [created, setCreated] = useState<Schemas['CreatedApiKey'] | null>(null);
  const [problem, setProblem] = useState<ApiProblem | null>(null);
  const keys = useLoad(
    () =>
      can('api_keys:read') ? client.call(client.api.GET('/v1/api-keys', { params: { query: { limit: 100 } } })) : Promise.resolve(null),
    [client, can],
  );
  if (!can('api_keys:write')) return <AdminOnly title="API keys" />;
  return (
    <section className="page">
      <h1>API keys</h1>
      <p className="lede">Keys for servers and scripts. Each acts with its role in this tenant.</p>
      <ErrorBanner problem={problem ?? keys.problem} onDismiss={problem ? () => setProblem(null) : undefined} />
      {created ? <SecretOnce label={`API key ${created.name}`} value={created.key} onDone={() => setCreated(null)} /> : null}
      <details className="panel" open>
        <summary>Create a key</summary>
        <Form
          className="inline-form"
          aria-label="Create an API key"
          submitLabel="Create key"
          onSubmit={async (form) => {
            const expires = String(form.get('expiresAt') ?? '');
            const r = await client.call(
              client.api.POST('/v1/api-keys', {
                body: {
                  name: String(form.get('name') ?? ''),
                  role: String(form.get('role')) as Role,
                  ...(expires ? { expiresAt: new Date(`${expires}T23:59:59`).toISOString() } : {}),
                },
              }),
            );
            setCreated(r);
            await keys.reload();
          }}
        >
          <Field label="Name" name="name" placeholder="ci-deploys" autoComplete="off" />
          <SelectField label="Role" name="role" options={ROLE_OPTIONS} defaultValue="member" />
          <Field label="Expires (optional)" name="expiresAt" type="date" />
        </Form>
      </details>
      {keys.data === undefined ? (
        keys.problem ? null : (
          <Loading label="Loading keys" />
        )
      ) : !keys.data || keys.data.data.length === 0 ? (
        <Empty title="No API keys." />
      ) : (
        <table className="table" aria-label="API keys">
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Prefix</th>
              <th scope="col">Role</th>
              <th scope="col">Created</th>
              <th scope="col">Expires</th>
              <th scope="col">Last used</th>
              <th scope="col">
                <span className="sr-only">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {keys.data.data.map((k) => (
              <tr key={k.id} data-key={k.id}>
                <td>{k.name}</td>
                <td>
                  <code>{k.prefix}…</code>
                </td>
                <td>{k.role}</td>
                <td>{when(k.createdAt)}</td>
                <td>{k.expiresAt ? when(k.expiresAt) : 'never'}</td>
                <td>{k.lastUsedAt ? when(k.lastUsedAt) : 'never'}</td>
                <td>
                  <Button
                    variant="danger"
                    aria-label={`Revoke ${k.name}`}
                    onClick={async () => {
                      if (!window.confirm(`Revoke the key ${k.name}? Requests with it fail from now on.`)) return;
                      setProblem(null);
                      try {
                        await client.call(client.api.DELETE('/v1/api-keys/{keyId}', { params: { path: { keyId: k.id } } }));
                        await keys.reload();
                      } catch (err) {
                        setProblem(toProblem(err));
                      }
                    }}
                  >
                    Revoke
                  </Button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
