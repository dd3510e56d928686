/**
 * Tenant isolation of the task service beyond the item routes of test/workers/identity/isolation.test.ts
 * (where tasks have their row): with tenant B's valid admin credentials, A's notification cannot be
 * marked read, A's task history cannot be read (404, same answer as an id that exists nowhere),
 * B's lists never contain A's ids, and B's change log (HTTP and socket) never shows A's changes.
 */
import { describe, expect, it } from 'vitest';
import { untilSynced } from '../../support/shared/sync';
import { call, expectJson } from '../../support/workers/http';
import { createApiKey, signup, type TestTenant } from '../../support/workers/tenants';
import { openSync } from '../../support/workers/websocket';
import { createTask, deliveredNotification, type Json, syncPage } from './_support';

async function tenants() {
  const a = await signup('tiso-a');
  const b = await signup('tiso-b');
  const bKey = await createApiKey(b, 'admin');
  return {
    a,
    b,
    attackers: [
      { label: "B's admin JWT", token: b.accessToken },
      { label: "B's admin API key", token: bKey.key },
    ],
  };
}

async function problem(res: Response, status: number): Promise<Json> {
  const text = await res.text();
  expect({ status: res.status, body: text.slice(0, 300) }).toMatchObject({ status });
  expect(res.headers.get('content-type') ?? '').toMatch(/^application\/problem\+json/);
  return JSON.parse(text) as Json;
}

/** The problem as the caller sees it, with the probed id and per-request fields blanked. */
function shape(body: Json, id: string): Json {
  const { requestId: _r, instance: _i, ...rest } = body;
  return JSON.parse(JSON.stringify(rest).replaceAll(id, '<id>')) as Json;
}

function unknownLike(id: string): string {
  return id.slice(0, -4) + (id.endsWith('zzzz') ? 'yyyy' : 'zzzz');
}

/** Every change of `t`'s log (all pages). */
async function allChanges(t: TestTenant | string): Promise<Json[]> {
  const token = typeof t === 'string' ? t : t.accessToken;
  const out: Json[] = [];
  let since = 0;
  for (;;) {
    const page = await syncPage(token, since);
    out.push(...page.changes);
    since = page.version;
    if (!page.hasMore) return out;
  }
}

describe('tenant isolation: notifications, history, sync', () => {
  it("POST /v1/notifications/{A's id}/read with B's credentials → 404 like an unknown id; A's notification stays unread", async () => {
    const { a, b, attackers } = await tenants();
    const { notification } = await deliveredNotification(a, 'A private reminder');
    await createTask(b, { title: 'B task' });
    const aLog = await allChanges(a);

    for (const { label, token } of attackers) {
      const hit = await problem(await call(`/v1/notifications/${notification.id}/read`, { method: 'POST', token }), 404);
      const miss = await problem(await call(`/v1/notifications/${unknownLike(notification.id)}/read`, { method: 'POST', token }), 404);
      expect(shape(hit, notification.id), label).toEqual(shape(miss, unknownLike(notification.id)));
      const list = await expectJson(await call('/v1/notifications?limit=100', { token }));
      expect(JSON.stringify(list), label).not.toContain(notification.id);
      const unread = await expectJson(await call('/v1/notifications?unread=true', { token }));
      expect(unread.data, label).toEqual([]);
    }
    // A's notification is untouched and A's log has no new change.
    const mine = await expectJson(await call('/v1/notifications', { token: a.accessToken }));
    expect(mine.data).toEqual([notification]);
    expect(await allChanges(a)).toEqual(aLog);
    expect(JSON.stringify(await allChanges(b))).not.toContain(notification.id);
  });

  it("GET /v1/tasks/{A's id}/history with B's credentials → 404 like an unknown id", async () => {
    const { a, attackers } = await tenants();
    const t = await createTask(a, { title: 'A daily', dueAt: '2031-01-01T09:00:00Z', recurrence: 'FREQ=DAILY' });
    await expectJson(await call(`/v1/tasks/${t.id}/complete`, { method: 'POST', token: a.accessToken }));
    const aHistory = await expectJson(await call(`/v1/tasks/${t.id}/history`, { token: a.accessToken }));
    expect(aHistory.data).toHaveLength(1);
    for (const { label, token } of attackers) {
      const hit = await problem(await call(`/v1/tasks/${t.id}/history`, { token }), 404);
      const miss = await problem(await call(`/v1/tasks/${unknownLike(t.id)}/history`, { token }), 404);
      expect(shape(hit, t.id), label).toEqual(shape(miss, unknownLike(t.id)));
      expect(JSON.stringify(hit)).not.toContain(aHistory.data[0].id);
    }
    expect(await expectJson(await call(`/v1/tasks/${t.id}/history`, { token: a.accessToken }))).toEqual(aHistory);
  });

  it("B's task lists (every filter) and B's /v1/sync never show A's tasks or changes", async () => {
    const { a, b, attackers } = await tenants();
    const aIds: string[] = [];
    aIds.push((await createTask(a, { title: 'shared word alpha', labels: ['common'], dueDate: '2031-02-01' })).id);
    aIds.push((await createTask(a, { title: 'alpha two', assigneeId: a.userId, dueAt: '2031-02-02T10:00:00Z' })).id);
    await expectJson(await call(`/v1/tasks/${aIds[0]}/complete`, { method: 'POST', token: a.accessToken }));
    const bTask = await createTask(b, { title: 'shared word alpha', labels: ['common'], dueDate: '2031-02-01' });
    const aChanges = await allChanges(a);
    expect(aChanges.length).toBeGreaterThanOrEqual(3);

    for (const { label, token } of attackers) {
      for (const q of [
        '',
        '?status=done',
        '?status=open',
        '?label=common',
        '?q=alpha',
        `?assigneeId=${a.userId}`,
        '?dueFrom=2031-01-01&dueTo=2031-12-31',
        '?limit=1',
      ]) {
        const page = await expectJson(await call(`/v1/tasks${q}`, { token }));
        const text = JSON.stringify(page);
        for (const id of aIds) expect(text, `${label} /v1/tasks${q}`).not.toContain(id);
      }
      const log = await allChanges(token);
      expect(
        log.map((c) => c.entityId),
        label,
      ).toEqual([bTask.id]);
      // Paging one change at a time shows the same single change.
      const first = await syncPage(token, 0, 1);
      expect({ ids: first.changes.map((c) => c.entityId), hasMore: first.hasMore }).toEqual({ ids: [bTask.id], hasMore: false });
      for (const id of aIds) expect(JSON.stringify(log)).not.toContain(id);
    }
    // B's socket catch-up from 0 shows only B's change.
    const sock = await openSync(b.accessToken, { since: 0 });
    const caught = await untilSynced(sock);
    expect(caught.changes.map((c) => c.entityId)).toEqual([bTask.id]);
    await sock.close();
    // A still sees exactly its own log.
    expect(await allChanges(a)).toEqual(aChanges);
  });
});
