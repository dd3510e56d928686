// Issue 13: webhook changes are audited in the batch of the change, and the per-tenant cap holds under concurrent creates.
import { describe, expect, it } from 'vitest';
import { call } from '../../support/workers/http';
import { signup } from '../../support/workers/tenants';
import { auditEntries } from '../identity/_support';
import { receiverUrl } from './_support';

const MAX = 20;

describe('webhook endpoints: cap and audit', () => {
  it('concurrent creates never pass the cap of 20; the refused ones leave no audit entry', async () => {
    const owner = await signup('wh-cap');
    const results = await Promise.all(
      Array.from({ length: MAX + 6 }, (_, i) =>
        call('/v1/webhooks', { token: owner.accessToken, body: { url: `${receiverUrl()}/hooks/cap-${i}`, eventTypes: ['task.created'] } }),
      ),
    );
    const statuses = results.map((r) => r.status);
    expect(statuses.filter((s) => s === 201)).toHaveLength(MAX);
    expect(statuses.filter((s) => s !== 201).every((s) => s === 409)).toBe(true);
    const list = await (await call('/v1/webhooks?limit=100', { token: owner.accessToken })).json<{ data: unknown[] }>();
    expect(list.data).toHaveLength(MAX);
    expect((await auditEntries(owner)).filter((e) => e.action === 'webhook.created')).toHaveLength(MAX);
  });

  it('create, update, rotate and delete are each audited with the acting credential', async () => {
    const owner = await signup('wh-audit');
    const created = await call('/v1/webhooks', {
      token: owner.accessToken,
      body: { url: `${receiverUrl()}/hooks/audited`, eventTypes: ['task.created'] },
    });
    const { id } = await created.json<{ id: string }>();
    const patch = await call(`/v1/webhooks/${id}`, { method: 'PATCH', token: owner.accessToken, body: { enabled: false } });
    expect(patch.status).toBe(200);
    const rotated = await call(`/v1/webhooks/${id}/rotate-secret`, { token: owner.accessToken, body: {} });
    expect(rotated.status).toBe(200);
    expect((await call(`/v1/webhooks/${id}`, { method: 'DELETE', token: owner.accessToken })).status).toBe(204);
    const entries = (await auditEntries(owner)).filter((e) => e.targetId === id);
    expect(entries.map((e) => e.action).sort()).toEqual([
      'webhook.created',
      'webhook.deleted',
      'webhook.secret_rotated',
      'webhook.updated',
    ]);
    expect(entries.every((e) => e.actorType === 'user' && e.actorId === owner.userId)).toBe(true);
    expect(JSON.stringify(entries)).not.toContain('whsec_');
  });
});
