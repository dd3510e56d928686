// Failures, retries on the schedule, Retry-After, 410, sustained failure → disabled + admin notification,
// replay, recovery and secret rotation. Retries run through the real consumer, driven by the same job
// messages the delayed queue sends carry, so no test waits minutes.
import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import { RETRY_SCHEDULE_S } from '../../../src/events/retry';
import { eventually } from '../../support/shared/time';
import { call, json } from '../../support/workers/http';
import { signup } from '../../support/workers/tenants';
import { createTask } from '../tasks/_support';
import { createHook, deliveries, driveAttempt, received, receivedAtLeast, registerSecrets } from './_support';

async function firstDelivery(owner: Parameters<typeof deliveries>[0], hookId: string, status?: string) {
  const list = await eventually(
    async () => {
      const l = await deliveries(owner, hookId);
      return l[0] && l[0].attempts > 0 && (!status || l[0].status === status) && l[0].attemptLog.length === l[0].attempts ? l : undefined;
    },
    { what: `a ${status ?? 'settled'} delivery` },
  );
  return list[0]!;
}

describe('webhook retries', () => {
  it('an endpoint that fails 3 times then succeeds: retried on the schedule, succeeded on attempt 4', async () => {
    const owner = await signup('wh-retry');
    const hook = await createHook(owner, { query: 'fail=3', eventTypes: ['task.created'] });
    await createTask(owner, { title: 'flaky' });
    const first = await firstDelivery(owner, hook.id, 'pending');
    expect(first).toMatchObject({ attempts: 1, lastStatusCode: 500 });
    const delay = Date.parse(first.nextAttemptAt) - Date.parse(first.attemptLog[0].startedAt);
    expect(delay).toBeGreaterThanOrEqual(RETRY_SCHEDULE_S[0] * 1000 - 50);
    expect(delay).toBeLessThan(RETRY_SCHEDULE_S[0] * 1000 + 2000);

    for (const attempt of [2, 3, 4]) {
      const r = await driveAttempt(first.id, attempt);
      expect(r.explicitAcks).toHaveLength(1);
    }
    // The delayed message for attempt 2 (or any duplicate) now finds nothing to claim.
    await driveAttempt(first.id, 2);
    const [done] = await deliveries(owner, hook.id);
    expect(done).toMatchObject({ status: 'succeeded', attempts: 4, lastStatusCode: 200, nextAttemptAt: null });
    expect(done!.attemptLog.map((a: { statusCode: number }) => a.statusCode)).toEqual([500, 500, 500, 200]);
    const got = await received(hook.name);
    expect(got.map((g) => g.answered)).toEqual([500, 500, 500, 200]);
    expect(new Set(got.map((g) => g.webhookId)).size).toBe(1); // same webhook-id on every attempt
    expect(got.every((g) => g.verifiedWith.length === 1)).toBe(true);
  });

  it('honours Retry-After on 429/503', async () => {
    const owner = await signup('wh-retry-after');
    const hook = await createHook(owner, { query: 'fail=1&status=503&retryAfter=120', eventTypes: ['task.created'] });
    await createTask(owner, { title: 'busy' });
    const d = await firstDelivery(owner, hook.id, 'pending');
    const delay = Date.parse(d.nextAttemptAt) - Date.parse(d.attemptLog[0].startedAt);
    expect(delay).toBeGreaterThanOrEqual(119_000);
    expect(delay).toBeLessThan(125_000);
  });

  it('a delivery failing every attempt ends failed after 8 attempts; the endpoint stays enabled until failure is sustained', async () => {
    const owner = await signup('wh-exhaust');
    const hook = await createHook(owner, { query: 'fail=1000', eventTypes: ['task.created'] });
    await createTask(owner, { title: 'doomed' });
    const d = await firstDelivery(owner, hook.id, 'pending');
    for (let attempt = 2; attempt <= RETRY_SCHEDULE_S.length + 1; attempt++) await driveAttempt(d.id, attempt);
    await driveAttempt(d.id, RETRY_SCHEDULE_S.length + 2); // nothing beyond the schedule
    const [failed] = await deliveries(owner, hook.id);
    expect(failed).toMatchObject({ status: 'failed', attempts: 8, nextAttemptAt: null });
    const ep = await json(await call(`/v1/webhooks/${hook.id}`, { token: owner.accessToken }));
    expect(ep).toMatchObject({ enabled: true, failingSince: expect.any(String) });
  });

  it('disables an endpoint failing for 5 days and notifies the admins (system notification in the hub)', async () => {
    const owner = await signup('wh-down');
    const hook = await createHook(owner, { query: 'fail=1000', eventTypes: ['task.created'] });
    await env.DB.prepare('UPDATE webhook_endpoints SET failing_since = ? WHERE id = ?')
      .bind(new Date(Date.now() - 5 * 24 * 3600_000 - 60_000).toISOString(), hook.id)
      .run();
    await createTask(owner, { title: 'still down' });
    const ep = await eventually(
      async () => {
        const e = await json(await call(`/v1/webhooks/${hook.id}`, { token: owner.accessToken }));
        return e.enabled === false ? e : undefined;
      },
      { what: 'endpoint disabled' },
    );
    expect(ep).toMatchObject({ disabledReason: 'failing' });
    const n = await eventually(
      async () => {
        const page = await json(await call('/v1/notifications', { token: owner.accessToken }));
        return page.data.find((x: { kind: string }) => x.kind === 'system');
      },
      { what: 'admin notification' },
    );
    expect(n).toMatchObject({ title: 'Webhook endpoint disabled', taskId: null });
    expect(n.body).toContain(hook.id);
    // Pending deliveries of a disabled endpoint fail instead of being sent.
    const [d] = await deliveries(owner, hook.id);
    await driveAttempt(d!.id, 2);
    expect((await deliveries(owner, hook.id))[0]).toMatchObject({ status: 'failed', lastError: 'endpoint disabled' });
    expect((await received(hook.name)).length).toBe(1);
  });

  it('410 Gone disables the endpoint at once', async () => {
    const owner = await signup('wh-gone');
    const hook = await createHook(owner, { query: 'gone=1', eventTypes: ['task.created'] });
    await createTask(owner, { title: 'gone' });
    const d = await firstDelivery(owner, hook.id, 'failed');
    expect(d).toMatchObject({ attempts: 1, lastStatusCode: 410 });
    expect(await json(await call(`/v1/webhooks/${hook.id}`, { token: owner.accessToken }))).toMatchObject({
      enabled: false,
      disabledReason: 'gone',
    });
    // Resending needs the endpoint enabled again.
    expect((await call(`/v1/webhooks/${hook.id}/deliveries/${d.id}/replay`, { method: 'POST', token: owner.accessToken })).status).toBe(
      409,
    );
  });
});

describe('replay and recovery', () => {
  it('replays a delivery: same webhook-id, new attempt logged as manual', async () => {
    const owner = await signup('wh-replay');
    const hook = await createHook(owner, { eventTypes: ['task.created'] });
    await createTask(owner, { title: 'again' });
    const d = await firstDelivery(owner, hook.id, 'succeeded');
    const res = await call(`/v1/webhooks/${hook.id}/deliveries/${d.id}/replay`, { method: 'POST', token: owner.accessToken });
    expect(res.status).toBe(202);
    const got = await receivedAtLeast(hook.name, 2);
    expect(got[1]!.webhookId).toBe(got[0]!.webhookId);
    expect(got[1]!.body).toBe(got[0]!.body);
    const after = await firstDelivery(owner, hook.id, 'succeeded');
    expect(after.attemptLog.map((a: { trigger: string }) => a.trigger)).toEqual(['auto', 'manual']);
  });

  it('recovers every failed delivery since a time, after the endpoint is fixed and re-enabled', async () => {
    const owner = await signup('wh-recover');
    const since = new Date(Date.now() - 1000).toISOString();
    const hook = await createHook(owner, { query: 'gone=1', eventTypes: ['task.created'] });
    await createTask(owner, { title: 'lost 1' });
    await firstDelivery(owner, hook.id, 'failed');
    const fixed = `${hook.name}-fixed`;
    await registerSecrets(fixed, [hook.secret]);
    const url = (await json(await call(`/v1/webhooks/${hook.id}`, { token: owner.accessToken }))).url.replace(
      /\/hooks\/.*$/,
      `/hooks/${fixed}`,
    );
    expect(
      (await call(`/v1/webhooks/${hook.id}`, { method: 'PATCH', token: owner.accessToken, body: { url, enabled: true } })).status,
    ).toBe(200);
    const res = await call(`/v1/webhooks/${hook.id}/recover`, { method: 'POST', token: owner.accessToken, body: { since } });
    expect(res.status).toBe(202);
    expect(await json(res)).toEqual({ recovered: 1 });
    const [got] = await receivedAtLeast(fixed, 1);
    expect(got!.payload).toMatchObject({ type: 'task.created', data: { task: { title: 'lost 1' } } });
    expect(got!.verifiedWith).toEqual([0]);
    const future = new Date(Date.now() + 3600_000).toISOString();
    expect(
      await json(await call(`/v1/webhooks/${hook.id}/recover`, { method: 'POST', token: owner.accessToken, body: { since: future } })),
    ).toEqual({ recovered: 0 });
  });
});

describe('secret rotation', () => {
  it('signs with both secrets during the overlap, then with the new one only', async () => {
    const owner = await signup('wh-rotate');
    const hook = await createHook(owner, { eventTypes: ['task.created'] });
    const rotated = await json(
      await call(`/v1/webhooks/${hook.id}/rotate-secret`, { method: 'POST', token: owner.accessToken, body: { overlapSeconds: 3600 } }),
    );
    expect(rotated.secret).toMatch(/^whsec_/);
    expect(rotated.secret).not.toBe(hook.secret);
    expect(Date.parse(rotated.previousSecretExpiresAt)).toBeGreaterThan(Date.now() + 3500_000);
    await registerSecrets(hook.name, [hook.secret, rotated.secret]);
    await createTask(owner, { title: 'overlap' });
    const [during] = await receivedAtLeast(hook.name, 1);
    expect(during!.signature.split(' ')).toHaveLength(2);
    expect(during!.verifiedWith).toEqual([0, 1]); // either secret alone verifies

    const again = await json(
      await call(`/v1/webhooks/${hook.id}/rotate-secret`, { method: 'POST', token: owner.accessToken, body: { overlapSeconds: 0 } }),
    );
    await registerSecrets(hook.name, [hook.secret, rotated.secret, again.secret]);
    await createTask(owner, { title: 'after' });
    const list = await receivedAtLeast(hook.name, 2);
    expect(list[1]!.verifiedWith).toEqual([2]);
    expect(list[1]!.signature.split(' ')).toHaveLength(1);
  });
});
