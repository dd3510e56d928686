/**
 * Tenant isolation of the task service beyond the per-id routes (those are rows of the table in
 * test/workers/isolation.test.ts): B's task lists under every filter never contain A's ids, and B's
 * change log (HTTP and socket catch-up) never shows A's changes.
 */
import { describe, expect, it } from 'vitest';
import { untilSynced } from '../../support/shared/sync';
import { call, expectJson } from '../../support/workers/http';
import { createApiKey, signup, type TestTenant } from '../../support/workers/tenants';
import { openSync } from '../../support/workers/websocket';
import { createTask, type Json, syncPage } from './_support';

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

describe('tenant isolation: task lists and the change log', () => {
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
