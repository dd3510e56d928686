// /v1/webhooks: CRUD, secret handling, validation, permissions, and a delivery verified by the standardwebhooks library.
import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import { newId } from '../../../src/lib/ids';
import { eventually } from '../../support/shared/time';
import { call, json } from '../../support/workers/http';
import { addMember, signup } from '../../support/workers/tenants';
import { createTask } from '../tasks/_support';
import { createHook, deliveries, receivedAtLeast, receiverUrl, runBatch } from './_support';

describe('webhook endpoints', () => {
  it('creates with a whsec_ secret shown once, stored encrypted, never returned again', async () => {
    const owner = await signup('wh-crud');
    const hook = await createHook(owner, { eventTypes: ['task.*'] });
    expect(hook.secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    expect(atob(hook.secret.slice(6)).length).toBeGreaterThanOrEqual(24);
    expect(hook.body).toMatchObject({ id: expect.stringMatching(/^whk_/), eventTypes: ['task.*'], enabled: true, disabledReason: null });

    const got = await json(await call(`/v1/webhooks/${hook.id}`, { token: owner.accessToken }));
    expect(got).not.toHaveProperty('secret');
    const list = await json(await call('/v1/webhooks', { token: owner.accessToken }));
    expect(list.data.map((w: { id: string }) => w.id)).toEqual([hook.id]);
    expect(JSON.stringify(list)).not.toContain(hook.secret);

    const row = await env.DB.prepare('SELECT secret_enc FROM webhook_endpoints WHERE id = ?').bind(hook.id).first<{ secret_enc: string }>();
    expect(row!.secret_enc).toMatch(/^v1\./);
    expect(row!.secret_enc).not.toContain(hook.secret.slice(6, 20));
  });

  it('updates, disables, re-enables and deletes', async () => {
    const owner = await signup('wh-upd');
    const hook = await createHook(owner);
    const patched = await json(
      await call(`/v1/webhooks/${hook.id}`, {
        method: 'PATCH',
        token: owner.accessToken,
        body: { eventTypes: ['member.*', 'tenant.updated'], enabled: false, description: 'ops' },
      }),
    );
    expect(patched).toMatchObject({
      eventTypes: ['member.*', 'tenant.updated'],
      enabled: false,
      disabledReason: 'manual',
      description: 'ops',
    });
    const enabled = await json(
      await call(`/v1/webhooks/${hook.id}`, { method: 'PATCH', token: owner.accessToken, body: { enabled: true } }),
    );
    expect(enabled).toMatchObject({ enabled: true, disabledReason: null, disabledAt: null });
    expect((await call(`/v1/webhooks/${hook.id}`, { method: 'DELETE', token: owner.accessToken })).status).toBe(204);
    expect((await call(`/v1/webhooks/${hook.id}`, { token: owner.accessToken })).status).toBe(404);
  });

  it('validates URLs and event filters with field paths', async () => {
    const owner = await signup('wh-val');
    const bad = async (body: Record<string, unknown>, pointer: string) => {
      const res = await call('/v1/webhooks', { token: owner.accessToken, body });
      expect(res.status).toBe(422);
      const problem = await json(res);
      expect(problem.errors.map((e: { pointer: string }) => e.pointer)).toContain(pointer);
    };
    await bad({ url: 'ftp://example.com/x' }, '/url');
    await bad({ url: 'https://user:pw@example.com/x' }, '/url');
    await bad({ url: 'https://example.com/x', eventTypes: ['task.creat'] }, '/eventTypes/0');
    await bad({ url: 'https://example.com/x', eventTypes: ['Task.*'] }, '/eventTypes/0');
    await bad({ url: 'https://example.com/x', eventTypes: [] }, '/eventTypes');
    await bad({ url: 'https://example.com/x', secret: 'whsec_mine' }, '/secret');
  });

  it('is admin only: members and viewers get 403', async () => {
    const owner = await signup('wh-perm');
    const member = await addMember(owner, 'member');
    const hook = await createHook(owner);
    for (const [method, path] of [
      ['GET', '/v1/webhooks'],
      ['GET', `/v1/webhooks/${hook.id}`],
      ['POST', '/v1/webhooks'],
      ['POST', `/v1/webhooks/${hook.id}/test`],
      ['DELETE', `/v1/webhooks/${hook.id}`],
    ] as const) {
      const res = await call(path, {
        method,
        token: member.accessToken,
        body: method === 'POST' ? { url: `${receiverUrl()}/hooks/x` } : undefined,
      });
      expect({ method, path, status: res.status }).toEqual({ method, path, status: 403 });
    }
  });
});

describe('webhook delivery', () => {
  it('delivers a task event signed per Standard Webhooks, verified by the standardwebhooks library, and logs the attempt', async () => {
    const owner = await signup('wh-deliver');
    const hook = await createHook(owner, { eventTypes: ['task.*'] });
    const task = await createTask(owner, { title: 'Ship webhooks' });
    const [got] = await receivedAtLeast(hook.name, 1);
    expect(got!.verifiedWith).toEqual([0]);
    expect(got!.payload).toMatchObject({
      type: 'task.created',
      tenantId: owner.tenantId,
      data: { task: { id: task.id, title: 'Ship webhooks' } },
    });
    expect(got!.webhookId).toBe(got!.payload!.id);
    expect(got!.signature).toMatch(/^v1,[A-Za-z0-9+/]+=*$/);
    expect(Math.abs(Number(got!.timestamp) - Date.now() / 1000)).toBeLessThan(60);

    const [d] = await eventually(
      async () => {
        const list = await deliveries(owner, hook.id);
        return list[0]?.status === 'succeeded' ? list : undefined;
      },
      { what: 'delivery logged' },
    );
    expect(d).toMatchObject({ eventId: got!.webhookId, eventType: 'task.created', status: 'succeeded', attempts: 1, lastStatusCode: 200 });
    expect(d!.attemptLog).toEqual([
      expect.objectContaining({
        attempt: 1,
        trigger: 'auto',
        statusCode: 200,
        error: null,
        responseExcerpt: expect.stringContaining('"status":200'),
      }),
    ]);
    expect(d!.attemptLog[0].durationMs).toBeGreaterThanOrEqual(0);
  });

  it('delivers control-plane events committed in D1 (outbox row marked forwarded) with the tenant sequence', async () => {
    const owner = await signup('wh-control');
    const hook = await createHook(owner, { eventTypes: ['tenant.updated', 'member.*', 'invitation.*', 'api_key.*'] });
    expect((await call('/v1/tenant', { method: 'PATCH', token: owner.accessToken, body: { name: 'Renamed Co' } })).status).toBe(200);
    const member = await addMember(owner, 'viewer');
    expect(
      (await call(`/v1/members/${member.userId}`, { method: 'PATCH', token: owner.accessToken, body: { role: 'member' } })).status,
    ).toBe(200);
    const list = await receivedAtLeast(hook.name, 5);
    const types = list.map((r) => r.payload!.type);
    expect(types).toEqual(['tenant.updated', 'invitation.created', 'invitation.accepted', 'member.joined', 'member.role_changed']);
    expect(list.every((r) => r.verifiedWith.length === 1)).toBe(true);
    const seqs = list.map((r) => r.payload!.sequence as number);
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    expect(list.at(-1)!.payload!.data).toEqual({ userId: member.userId, from: 'viewer', to: 'member' });
    const pending = await env.DB.prepare('SELECT COUNT(*) AS n FROM event_outbox WHERE tenant_id = ? AND forwarded_at IS NULL')
      .bind(owner.tenantId)
      .first<{ n: number }>();
    expect(pending!.n).toBe(0);
  });

  it('lists a full page of 100 deliveries with their attempt logs (D1 binds at most 100 parameters per query)', async () => {
    const owner = await signup('wh-page');
    const hook = await createHook(owner);
    const events = Array.from({ length: 101 }, (_, i) => ({
      id: newId('evt'),
      type: 'task.created',
      tenantId: owner.tenantId,
      occurredAt: new Date().toISOString(),
      sequence: i + 1,
      data: { n: i },
    }));
    await runBatch(events);
    const res = await call(`/v1/webhooks/${hook.id}/deliveries?limit=100`, { token: owner.accessToken });
    expect(res.status).toBe(200);
    const page = await json(res);
    expect(page.data).toHaveLength(100);
    expect(page.nextCursor).not.toBeNull();
    expect(page.data.every((d: { attemptLog: unknown }) => Array.isArray(d.attemptLog))).toBe(true);
    expect(page.data.some((d: { attemptLog: unknown[] }) => d.attemptLog.length > 0)).toBe(true);
  });

  it('sends a webhook.test event on demand, to that endpoint only', async () => {
    const owner = await signup('wh-test');
    const hook = await createHook(owner, { eventTypes: ['task.deleted'] });
    const other = await createHook(owner);
    const res = await call(`/v1/webhooks/${hook.id}/test`, { method: 'POST', token: owner.accessToken });
    expect(res.status).toBe(202);
    expect(await json(res)).toMatchObject({ eventType: 'webhook.test', sequence: 0, status: 'pending' });
    const [got] = await receivedAtLeast(hook.name, 1);
    expect(got!.payload).toMatchObject({ type: 'webhook.test', sequence: 0 });
    expect(got!.verifiedWith).toEqual([0]);
    expect(await deliveries(owner, other.id)).toEqual([]);
  });
});
