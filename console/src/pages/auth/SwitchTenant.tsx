/**
 * Switch tenant: an access token belongs to one tenant, so switching is a login naming the tenant
 * (POST /v1/auth/login with `tenantId`). The password is asked again; it is never stored.
 */
import { useState } from 'react';
import { useNavigate } from 'react-router';
import { useSession } from '../../auth/session';
import { Empty, Field, Form } from '../../ui';

export default function SwitchTenant() {
  const { client, session } = useSession();
  const navigate = useNavigate();
  const others = session?.tenants ?? [];
  const [tenantId, setTenantId] = useState(session?.tenant.id ?? '');
  if (!session) return null;
  return (
    <section className="page narrow">
      <h1>Switch tenant</h1>
      <p>
        Signed in to <strong>{session.tenant.name}</strong> as {session.role}
        {session.user ? ` (${session.user.email})` : ''}.
      </p>
      {others.length < 2 ? (
        <Empty title="You belong to one tenant only.">Accept an invitation to join another one.</Empty>
      ) : (
        <Form
          aria-label="Switch tenant"
          submitLabel="Switch"
          onSubmit={async (data) => {
            await client.switchTenant({ email: session.user?.email ?? '', password: String(data.get('password')), tenantId });
            navigate('/tasks');
          }}
        >
          <fieldset>
            <legend>Tenant</legend>
            {others.map((t) => (
              <label key={t.id} className="radio">
                <input type="radio" name="tenantId" value={t.id} checked={tenantId === t.id} onChange={() => setTenantId(t.id)} />
                {t.name} <span className="role">{t.role}</span>
              </label>
            ))}
          </fieldset>
          <Field label="Password" name="password" type="password" autoComplete="current-password" required />
        </Form>
      )}
    </section>
  );
}
