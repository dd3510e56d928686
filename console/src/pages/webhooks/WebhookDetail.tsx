/**
 * One webhook endpoint (admin): enable/disable, edit, send a test event, rotate the secret (shown once),
 * resend failures since a time, and the deliveries with their attempt logs and a Replay button.
 */
import '../common/pages.css';
import { useState } from 'react';
import { Link, useNavigate, useParams } from 'react-router';
import { type ApiProblem, type Schemas, toProblem } from '../../api/client';
import { useClient, useRole } from '../../auth';
import { Button, Empty, ErrorBanner, Field, Form, Loading } from '../../ui';
import { foldErrors, SecretOnce } from '../common/fields';
import { LoadMore } from '../common/LoadMore';
import { useLoad, usePaged, when } from '../common/use-load';
import { EndpointState, eventTypesOf } from './Webhooks';

type Delivery = Schemas['WebhookDelivery'];
type Status = Delivery['status'];

export default function WebhookDetail() {
  const { webhookId = '' } = useParams();
  const client = useClient();
  const { can } = useRole();
  const navigate = useNavigate();
  const [status, setStatus] = useState<Status | ''>('');
  const [secret, setSecret] = useState<string | null>(null);
  const [problem, setProblem] = useState<ApiProblem | null>(null);
  const [busy, setBusy] = useState<string | null>(null);
  const [editing, setEditing] = useState(false);
  const path = { webhookId };
  const hook = useLoad(() => client.call(client.api.GET('/v1/webhooks/{webhookId}', { params: { path } })), [client, webhookId]);
  const deliveries = usePaged(
    (cursor) =>
      client.call(
        client.api.GET('/v1/webhooks/{webhookId}/deliveries', {
          params: { path, query: { limit: 25, ...(status ? { status } : {}), ...(cursor ? { cursor } : {}) } },
        }),
      ),
    [client, webhookId, status],
  );

  /** Runs one action, showing its problem in the page banner. */
  async function act(name: string, fn: () => Promise<void>) {
    setBusy(name);
    setProblem(null);
    try {
      await fn();
    } catch (err) {
      setProblem(toProblem(err));
    } finally {
      setBusy(null);
    }
  }

  if (!can('webhooks:read')) {
    return (
      <section className="page">
        <h1>Webhook</h1>
        <Empty title="Only admins manage webhooks." />
      </section>
    );
  }
  if (hook.data === undefined) {
    return (
      <section className="page">
        <h1>Webhook</h1>
        {hook.problem ? <ErrorBanner problem={hook.problem} /> : <Loading label="Loading the endpoint" />}
      </section>
    );
  }
  const h = hook.data;
  const writer = can('webhooks:write');
  return (
    <section className="page">
      <p className="breadcrumb">
        <Link to="/webhooks">Webhooks</Link> /
      </p>
      <h1 className="wrap">{h.url}</h1>
      <p>
        <EndpointState hook={h} /> · events{' '}
        {h.eventTypes.map((t) => (
          <code key={t} className="tag">
            {t}
          </code>
        ))}
        {h.description ? ` · ${h.description}` : ''}
        {h.failingSince ? <span className="status status-bad"> failing since {when(h.failingSince)}</span> : null}
        {h.previousSecretExpiresAt && new Date(h.previousSecretExpiresAt) > new Date() ? (
          <span className="muted"> · previous secret also signs until {when(h.previousSecretExpiresAt)}</span>
        ) : null}
      </p>
      <ErrorBanner problem={problem} onDismiss={() => setProblem(null)} />
      {secret ? <SecretOnce label="New signing secret" value={secret} onDone={() => setSecret(null)} /> : null}
      {writer ? (
        <div className="row toolbar">
          <Button
            busy={busy === 'toggle'}
            onClick={() =>
              void act('toggle', async () => {
                await client.call(client.api.PATCH('/v1/webhooks/{webhookId}', { params: { path }, body: { enabled: !h.enabled } }));
                await hook.reload();
              })
            }
          >
            {h.enabled ? 'Disable' : 'Enable'}
          </Button>
          <Button
            busy={busy === 'test'}
            onClick={() =>
              void act('test', async () => {
                await client.call(client.api.POST('/v1/webhooks/{webhookId}/test', { params: { path } }));
                await deliveries.reload();
              })
            }
          >
            Send test event
          </Button>
          <Button
            busy={busy === 'rotate'}
            onClick={() =>
              void act('rotate', async () => {
                if (!window.confirm('Rotate the signing secret? The previous one keeps signing for 24 hours.')) return;
                const r = await client.call(client.api.POST('/v1/webhooks/{webhookId}/rotate-secret', { params: { path }, body: {} }));
                setSecret(r.secret);
                await hook.reload();
              })
            }
          >
            Rotate secret
          </Button>
          <Button onClick={() => setEditing((e) => !e)}>{editing ? 'Close editor' : 'Edit'}</Button>
          <Button
            variant="danger"
            busy={busy === 'delete'}
            onClick={() =>
              void act('delete', async () => {
                if (!window.confirm('Delete this endpoint and its delivery log?')) return;
                await client.call(client.api.DELETE('/v1/webhooks/{webhookId}', { params: { path } }));
                navigate('/webhooks');
              })
            }
          >
            Delete
          </Button>
        </div>
      ) : null}
      {writer && editing ? (
        <Form
          aria-label="Edit webhook endpoint"
          submitLabel="Save"
          onSubmit={async (form) => {
            const description = String(form.get('description') ?? '').trim();
            const types = eventTypesOf(String(form.get('eventTypes') ?? ''));
            await client
              .call(
                client.api.PATCH('/v1/webhooks/{webhookId}', {
                  params: { path },
                  body: {
                    url: String(form.get('url') ?? ''),
                    eventTypes: types,
                    description: description || null,
                  },
                }),
              )
              .catch((err) => foldErrors(err, ['eventTypes'], (i) => `“${types[Number(i)] ?? i}”`));
            setEditing(false);
            await hook.reload();
          }}
        >
          <Field label="URL" name="url" type="url" defaultValue={h.url} />
          <Field label="Event types" name="eventTypes" defaultValue={h.eventTypes.join(', ')} />
          <Field label="Description" name="description" defaultValue={h.description ?? ''} />
        </Form>
      ) : null}
      {writer ? (
        <details className="panel">
          <summary>Resend failed deliveries</summary>
          <Form
            aria-label="Resend failed deliveries"
            submitLabel="Resend failures"
            onSubmit={async (form) => {
              const local = String(form.get('since') ?? '');
              const since = local ? new Date(local).toISOString() : '';
              const r = await client.call(client.api.POST('/v1/webhooks/{webhookId}/recover', { params: { path }, body: { since } }));
              window.alert(`${r.recovered} deliveries queued again.`);
              await deliveries.reload();
            }}
          >
            <Field label="Failed since" name="since" type="datetime-local" />
          </Form>
        </details>
      ) : null}

      <section aria-labelledby="deliveries-title">
        <div className="row between">
          <h2 id="deliveries-title">Deliveries</h2>
          <div className="row">
            <label className="inline">
              Status{' '}
              <select value={status} onChange={(e) => setStatus(e.currentTarget.value as Status | '')}>
                <option value="">all</option>
                <option value="pending">pending</option>
                <option value="succeeded">succeeded</option>
                <option value="failed">failed</option>
              </select>
            </label>
            <Button onClick={() => void deliveries.reload()}>Refresh</Button>
          </div>
        </div>
        <ErrorBanner problem={deliveries.problem} />
        {deliveries.items === undefined ? (
          deliveries.problem ? null : (
            <Loading label="Loading deliveries" />
          )
        ) : deliveries.items.length === 0 ? (
          <Empty title="No deliveries yet.">{writer ? <p>Send a test event to see one.</p> : null}</Empty>
        ) : (
          <ul className="plain deliveries" aria-label="Deliveries">
            {deliveries.items.map((d) => (
              <DeliveryRow
                key={d.id}
                delivery={d}
                onReplay={
                  writer
                    ? () =>
                        act(`replay:${d.id}`, async () => {
                          await client.call(
                            client.api.POST('/v1/webhooks/{webhookId}/deliveries/{deliveryId}/replay', {
                              params: { path: { webhookId, deliveryId: d.id } },
                            }),
                          );
                          await deliveries.reload();
                        })
                    : null
                }
                busy={busy === `replay:${d.id}`}
              />
            ))}
          </ul>
        )}
        <LoadMore list={deliveries} />
      </section>
    </section>
  );
}

function DeliveryRow({ delivery: d, onReplay, busy }: { delivery: Delivery; onReplay: (() => Promise<void>) | null; busy: boolean }) {
  return (
    <li className="delivery" data-delivery={d.id} data-status={d.status}>
      <details>
        <summary>
          <span className={`status status-${d.status === 'succeeded' ? 'ok' : d.status === 'failed' ? 'bad' : 'pending'}`}>{d.status}</span>{' '}
          <code>{d.eventType}</code> · #{d.sequence} · {d.attempts} attempt{d.attempts === 1 ? '' : 's'}
          {d.lastStatusCode !== null ? ` · HTTP ${d.lastStatusCode}` : ''} · {when(d.createdAt)}
          {d.nextAttemptAt ? <span className="muted"> · next attempt {when(d.nextAttemptAt)}</span> : null}
        </summary>
        <p className="muted">
          Event <code>{d.eventId}</code> (the <code>webhook-id</code> header) · delivery <code>{d.id}</code>
        </p>
        {d.lastError ? <p className="field-error">{d.lastError}</p> : null}
        <table className="table" aria-label={`Attempts of ${d.id}`}>
          <thead>
            <tr>
              <th scope="col">#</th>
              <th scope="col">Trigger</th>
              <th scope="col">Started</th>
              <th scope="col">Duration</th>
              <th scope="col">Status</th>
              <th scope="col">Error / response</th>
            </tr>
          </thead>
          <tbody>
            {d.attemptLog.map((a) => (
              <tr key={`${a.attempt}:${a.startedAt}`}>
                <td>{a.attempt}</td>
                <td>{a.trigger}</td>
                <td>{when(a.startedAt)}</td>
                <td>{a.durationMs} ms</td>
                <td>{a.statusCode ?? '—'}</td>
                <td>
                  {a.error ? <span className="field-error">{a.error}</span> : null}
                  {a.responseExcerpt ? <pre className="code small">{a.responseExcerpt}</pre> : null}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </details>
      {onReplay ? (
        <Button busy={busy} onClick={() => void onReplay()} aria-label={`Replay delivery ${d.id}`}>
          Replay
        </Button>
      ) : null}
    </li>
  );
}
