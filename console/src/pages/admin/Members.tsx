/**
 * Members and invitations (admin): change a member's role, remove a member, invite by email with a role
 * (the single-use token is shown once, with the link to give the person), revoke a pending invitation.
 */
import '../common/pages.css';
import { useState } from 'react';
import { type ApiProblem, type Role, type Schemas, toProblem } from '../../api/client';
import { useRole, useSession } from '../../auth';
import { Button, Empty, ErrorBanner, Field, Form, Loading } from '../../ui';
import { SecretOnce, SelectField } from '../common/fields';
import { useLoad, when } from '../common/use-load';

export const ROLE_OPTIONS: Array<{ value: Role; label: string }> = [
  { value: 'viewer', label: 'viewer (read only)' },
  { value: 'member', label: 'member (read and write data)' },
  { value: 'admin', label: 'admin (everything)' },
];

export function AdminOnly({ title }: { title: string }) {
  return (
    <section className="page">
      <h1>{title}</h1>
      <Empty title="Only admins can see this page." />
    </section>
  );
}

export default function Members() {
  const { client, session } = useSession();
  const { can } = useRole();
  const [problem, setProblem] = useState<ApiProblem | null>(null);
  const [invited, setInvited] = useState<Schemas['CreatedInvitation'] | null>(null);
  const members = useLoad(() => client.call(client.api.GET('/v1/members', { params: { query: { limit: 100 } } })), [client]);
  const invitations = useLoad(
    () =>
      can('invitations:read')
        ? client.call(client.api.GET('/v1/invitations', { params: { query: { limit: 100 } } }))
        : Promise.resolve(null),
    [client, can],
  );
  if (!can('members:write')) return <AdminOnly title="Members" />;

  async function act(fn: () => Promise<unknown>) {
    setProblem(null);
    try {
      await fn();
    } catch (err) {
      setProblem(toProblem(err));
    }
  }

  return (
    <section className="page">
      <h1>Members</h1>
      <ErrorBanner problem={problem ?? members.problem} onDismiss={problem ? () => setProblem(null) : undefined} />
      {members.data === undefined ? (
        members.problem ? null : (
          <Loading label="Loading members" />
        )
      ) : (
        <table className="table" aria-label="Members">
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Email</th>
              <th scope="col">Role</th>
              <th scope="col">Joined</th>
              <th scope="col">
                <span className="sr-only">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {members.data.data.map((m) => {
              const self = m.userId === session?.user?.id;
              return (
                <tr key={m.userId} data-member={m.email}>
                  <td>
                    {m.name}
                    {self ? <span className="muted"> (you)</span> : null}
                  </td>
                  <td>{m.email}</td>
                  <td>
                    <select
                      aria-label={`Role of ${m.email}`}
                      value={m.role}
                      onChange={(e) => {
                        const role = e.currentTarget.value as Role;
                        void act(async () => {
                          await client.call(
                            client.api.PATCH('/v1/members/{userId}', { params: { path: { userId: m.userId } }, body: { role } }),
                          );
                          await members.reload();
                        });
                      }}
                    >
                      {ROLE_OPTIONS.map((o) => (
                        <option key={o.value} value={o.value}>
                          {o.value}
                        </option>
                      ))}
                    </select>
                  </td>
                  <td>{when(m.joinedAt)}</td>
                  <td>
                    <Button
                      variant="danger"
                      aria-label={`Remove ${m.email}`}
                      onClick={() =>
                        void act(async () => {
                          if (!window.confirm(`Remove ${m.email} from ${session?.tenant.name}?`)) return;
                          await client.call(client.api.DELETE('/v1/members/{userId}', { params: { path: { userId: m.userId } } }));
                          await members.reload();
                        })
                      }
                    >
                      Remove
                    </Button>
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}

      <h2>Invitations</h2>
      {invited ? (
        <SecretOnce
          label={`Invitation token for ${invited.email} (${invited.role}); they accept it with POST /v1/invitations/accept`}
          value={invited.token}
          onDone={() => setInvited(null)}
        />
      ) : null}
      <Form
        className="inline-form"
        aria-label="Invite someone"
        submitLabel="Invite"
        onSubmit={async (form) => {
          const r = await client.call(
            client.api.POST('/v1/invitations', {
              body: { email: String(form.get('email') ?? ''), role: String(form.get('role')) as Role },
            }),
          );
          setInvited(r);
          await invitations.reload();
        }}
      >
        <Field label="Email" name="email" type="email" autoComplete="off" />
        <SelectField label="Role" name="role" options={ROLE_OPTIONS} defaultValue="member" />
      </Form>
      <ErrorBanner problem={invitations.problem} />
      {invitations.data ? (
        invitations.data.data.length === 0 ? (
          <Empty title="No invitations." />
        ) : (
          <table className="table" aria-label="Invitations">
            <thead>
              <tr>
                <th scope="col">Email</th>
                <th scope="col">Role</th>
                <th scope="col">Status</th>
                <th scope="col">Expires</th>
                <th scope="col">
                  <span className="sr-only">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {invitations.data.data.map((i) => (
                <tr key={i.id}>
                  <td>{i.email}</td>
                  <td>{i.role}</td>
                  <td>
                    <span className={`status status-${i.status === 'pending' ? 'pending' : i.status === 'accepted' ? 'ok' : 'bad'}`}>
                      {i.status}
                    </span>
                  </td>
                  <td>{when(i.expiresAt)}</td>
                  <td>
                    {i.status === 'pending' ? (
                      <Button
                        variant="danger"
                        aria-label={`Revoke the invitation of ${i.email}`}
                        onClick={() =>
                          void act(async () => {
                            await client.call(
                              client.api.DELETE('/v1/invitations/{invitationId}', { params: { path: { invitationId: i.id } } }),
                            );
                            await invitations.reload();
                          })
                        }
                      >
                        Revoke
                      </Button>
                    ) : null}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )
      ) : null}
    </section>
  );
}
