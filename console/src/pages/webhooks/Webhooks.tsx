/** Webhook endpoints (admin): the list, and a form to add one whose signing secret is shown once. */
import '../common/pages.css';
import { useState } from 'react';
import { Link } from 'react-router';
import type { Schemas } from '../../api/client';
import { useClient, useRole } from '../../auth';
import { Empty, ErrorBanner, Field, Form, Loading } from '../../ui';
import { foldErrors, SecretOnce } from '../common/fields';
import { LoadMore } from '../common/LoadMore';
import { usePaged, when } from '../common/use-load';

export function eventTypesOf(text: string): string[] {
  return text
    .split(/[\s,]+/)
    .map((s) => s.trim())
    .filter(Boolean);
}

export function EndpointState({ hook }: { hook: Schemas['Webhook'] }) {
  if (hook.enabled) return <span className="status status-ok">enabled</span>;
  return (
    <span className="status status-bad" title={hook.disabledAt ? `since ${when(hook.disabledAt)}` : undefined}>
      disabled{hook.disabledReason && hook.disabledReason !== 'manual' ? ` (${hook.disabledReason})` : ''}
    </span>
  );
}

export default function Webhooks() {
  const client = useClient();
  const { can } = useRole();
  const [created, setCreated] = useState<Schemas['WebhookWithSecret'] | null>(null);
  const hooks = usePaged(
    (cursor) => client.call(client.api.GET('/v1/webhooks', { params: { query: { limit: 50, ...(cursor ? { cursor } : {}) } } })),
    [client],
  );

  if (!can('webhooks:read')) {
    return (
      <section className="page">
        <h1>Webhooks</h1>
        <Empty title="Only admins manage webhooks." />
      </section>
    );
  }
  return (
    <section className="page">
      <h1>Webhooks</h1>
      <p className="lede">Endpoints that receive this tenant's events, signed per Standard Webhooks.</p>
      <ErrorBanner problem={hooks.problem} />
      {created ? <SecretOnce label={`Signing secret of ${created.url}`} value={created.secret} onDone={() => setCreated(null)} /> : null}
      {hooks.items === undefined ? (
        hooks.problem ? null : (
          <Loading label="Loading webhooks" />
        )
      ) : hooks.items.length === 0 ? (
        <Empty title="No endpoints yet." />
      ) : (
        <table className="table" aria-label="Webhook endpoints">
          <thead>
            <tr>
              <th scope="col">URL</th>
              <th scope="col">Events</th>
              <th scope="col">State</th>
              <th scope="col">Description</th>
              <th scope="col">Created</th>
            </tr>
          </thead>
          <tbody>
            {hooks.items.map((h) => (
              <tr key={h.id}>
                <td>
                  <Link to={`/webhooks/${h.id}`}>{h.url}</Link>
                </td>
                <td>
                  {h.eventTypes.map((t) => (
                    <code key={t} className="tag">
                      {t}
                    </code>
                  ))}
                </td>
                <td>
                  <EndpointState hook={h} />
                </td>
                <td>{h.description ?? <span className="muted">—</span>}</td>
                <td>{when(h.createdAt)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <LoadMore list={hooks} />
      {can('webhooks:write') ? (
        <details className="panel" open={hooks.items?.length === 0}>
          <summary>Add an endpoint</summary>
          <Form
            aria-label="Add a webhook endpoint"
            submitLabel="Create endpoint"
            onSubmit={async (form) => {
              const description = String(form.get('description') ?? '').trim();
              const types = eventTypesOf(String(form.get('eventTypes') ?? ''));
              const hook = await client
                .call(
                  client.api.POST('/v1/webhooks', {
                    body: {
                      url: String(form.get('url') ?? ''),
                      eventTypes: types,
                      ...(description ? { description } : {}),
                    },
                  }),
                )
                .catch((err) => foldErrors(err, ['eventTypes'], (i) => `“${types[Number(i)] ?? i}”`));
              setCreated(hook);
              await hooks.reload();
            }}
          >
            <Field label="URL" name="url" type="url" placeholder="https://example.com/hooks/edgecrew" />
            <Field
              label="Event types"
              name="eventTypes"
              defaultValue="*"
              hint="Comma-separated: an event type (task.created), a family (task.*) or * for all."
            />
            <Field label="Description" name="description" />
          </Form>
        </details>
      ) : null}
    </section>
  );
}
