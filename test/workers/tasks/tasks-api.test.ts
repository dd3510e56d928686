import { describe, expect, it } from 'vitest';
import { call, json } from '../../support/workers/http';
import { signup } from '../../support/workers/tenants';

describe('tasks API', () => {
  it('create → get (ETag) → patch with If-Match → stale If-Match 412 → complete → delete', async () => {
    const owner = await signup('tasks');
    const created = await call('/v1/tasks', {
      token: owner.accessToken,
      body: {
        title: 'Write report',
        priority: 1,
        labels: ['Work'],
        dueAt: '2030-01-01T09:00:00Z',
        timezone: 'Europe/Berlin',
        reminders: [{ before: 'PT15M' }],
      },
    });
    expect(created.status).toBe(201);
    const task = await json(created);
    expect(task).toMatchObject({
      title: 'Write report',
      status: 'open',
      priority: 1,
      labels: ['work'],
      dueAt: '2030-01-01T09:00:00.000Z',
      nextReminderAt: '2030-01-01T08:45:00.000Z',
    });
    expect(created.headers.get('etag')).toBe(`"v${task.version}"`);

    const patched = await call(`/v1/tasks/${task.id}`, {
      method: 'PATCH',
      token: owner.accessToken,
      headers: { 'if-match': `"v${task.version}"` },
      body: { title: 'Write the report' },
    });
    expect(patched.status).toBe(200);
    const v2 = await json(patched);
    expect(v2.version).toBeGreaterThan(task.version);

    const stale = await call(`/v1/tasks/${task.id}`, {
      method: 'PATCH',
      token: owner.accessToken,
      headers: { 'if-match': `"v${task.version}"` },
      body: { title: 'lost update' },
    });
    expect(stale.status).toBe(412);

    const done = await json(await call(`/v1/tasks/${task.id}/complete`, { method: 'POST', token: owner.accessToken }));
    expect(done.status).toBe('done');
    const del = await call(`/v1/tasks/${task.id}`, { method: 'DELETE', token: owner.accessToken });
    expect(del.status).toBe(204);
    expect((await call(`/v1/tasks/${task.id}`, { token: owner.accessToken })).status).toBe(404);
  });

  it('the list answers each task exactly as GET /v1/tasks/{id} does, page by page with filters', async () => {
    const owner = await signup('tasks-list');
    const created: Array<{ id: string }> = [];
    for (let i = 0; i < 5; i++) {
      const res = await call('/v1/tasks', {
        token: owner.accessToken,
        body: {
          title: `Task ${i} "quoted" ünïcode \u2028`,
          labels: i % 2 ? ['odd'] : [],
          priority: (i % 3) + 1,
          dueDate: `2031-02-0${i + 1}`,
        },
      });
      expect(res.status, await res.clone().text()).toBe(201);
      created.push(await json(res));
    }
    await call(`/v1/tasks/${created[1]!.id}/complete`, { method: 'POST', token: owner.accessToken });
    const pages = [];
    let cursor: string | null = null;
    do {
      const res = await call(`/v1/tasks?limit=2${cursor ? `&cursor=${cursor}` : ''}`, { token: owner.accessToken });
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe('application/json');
      const page = await json(res);
      pages.push(page);
      cursor = page.nextCursor;
    } while (cursor);
    expect(pages.map((p) => p.data.length)).toEqual([2, 2, 1]);
    const listed = pages.flatMap((p) => p.data);
    const single = await Promise.all(
      listed.map(async (t: { id: string }) => json(await call(`/v1/tasks/${t.id}`, { token: owner.accessToken }))),
    );
    expect(listed).toEqual(single);
    expect(listed.map((t: { id: string }) => t.id)).toEqual(created.map((t) => t.id).sort());
    const odd = await json(await call('/v1/tasks?label=odd&status=open', { token: owner.accessToken }));
    expect(odd).toEqual({ data: [single.find((t) => t.id === created[3]!.id)], nextCursor: null });
    const none = await json(await call('/v1/tasks?q=no-such-words', { token: owner.accessToken }));
    expect(none).toEqual({ data: [], nextCursor: null });
    // A page that ends exactly at the last task has no cursor; one that ends just before it has one.
    const exact = await json(await call('/v1/tasks?limit=5', { token: owner.accessToken }));
    expect(exact).toEqual({ data: listed, nextCursor: null });
    const short = await json(await call('/v1/tasks?limit=4', { token: owner.accessToken }));
    expect(short.data).toEqual(listed.slice(0, 4));
    const rest = await json(await call(`/v1/tasks?limit=4&cursor=${short.nextCursor}`, { token: owner.accessToken }));
    expect(rest).toEqual({ data: listed.slice(4), nextCursor: null });
    // The cursor and a filter together: the open tasks after the first one.
    const open = listed.filter((t: { status: string }) => t.status === 'open');
    const firstOpen = await json(await call('/v1/tasks?status=open&limit=1', { token: owner.accessToken }));
    expect(firstOpen.data).toEqual(open.slice(0, 1));
    const laterOpen = await json(await call(`/v1/tasks?status=open&limit=3&cursor=${firstOpen.nextCursor}`, { token: owner.accessToken }));
    expect(laterOpen).toEqual({ data: open.slice(1), nextCursor: null });
  });

  it('recurring task advances on completion and records history', async () => {
    const owner = await signup('recur');
    const t = await json(
      await call('/v1/tasks', {
        token: owner.accessToken,
        body: { title: 'Standup', dueAt: '2030-03-08T14:00:00Z', timezone: 'America/New_York', recurrence: 'FREQ=DAILY' },
      }),
    );
    const next = await json(await call(`/v1/tasks/${t.id}/complete`, { method: 'POST', token: owner.accessToken }));
    expect(next.status).toBe('open');
    expect(next.id).toBe(t.id);
    expect(next.dueAt).toBe('2030-03-09T14:00:00.000Z');
    const hist = await json(await call(`/v1/tasks/${t.id}/history`, { token: owner.accessToken }));
    expect(hist.data).toHaveLength(1);
    expect(hist.data[0].dueAt).toBe('2030-03-08T14:00:00.000Z');
  });

  it('sync returns changes in order', async () => {
    const owner = await signup('sync');
    await call('/v1/tasks', { token: owner.accessToken, body: { title: 'a' } });
    await call('/v1/tasks', { token: owner.accessToken, body: { title: 'b' } });
    const page = await json(await call('/v1/sync?since=0', { token: owner.accessToken }));
    expect(page.changes.map((c: any) => c.data.title)).toEqual(['a', 'b']);
    const later = await json(await call(`/v1/sync?since=${page.changes[0].version}`, { token: owner.accessToken }));
    expect(later.changes.map((c: any) => c.data.title)).toEqual(['b']);
  });
});
