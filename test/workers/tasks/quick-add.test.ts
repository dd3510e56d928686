// POST /v1/tasks/quick-add end to end: the parser's result becomes a real task (or an action on one).
import { describe, expect, it } from 'vitest';
import { call, json } from '../../support/workers/http';
import { addMember, signup } from '../../support/workers/tenants';

describe('quick-add', () => {
  it('creates a recurring task with reminder, label and priority from one line', async () => {
    const owner = await signup('qa');
    const res = await call('/v1/tasks/quick-add', {
      token: owner.accessToken,
      body: { text: 'pay rent every 1st at 9am remind me 1 day before #home p1', timezone: 'Europe/Berlin' },
    });
    expect(res.status).toBe(201);
    const body = await json(res);
    expect(body.intent).toBe('create');
    expect(body.parsed).toMatchObject({
      title: 'pay rent',
      recurrence: { rrule: 'FREQ=MONTHLY;BYMONTHDAY=1', from: 'due' },
      priority: 1,
      labels: ['home'],
      reminders: [{ before: 'P1D' }],
    });
    expect(body.task).toMatchObject({
      title: 'pay rent',
      recurrence: 'FREQ=MONTHLY;BYMONTHDAY=1',
      priority: 1,
      labels: ['home'],
      timezone: 'Europe/Berlin',
    });
    // 09:00 in Berlin on the 1st of a month, and the reminder a calendar day earlier at 09:00.
    const local = new Intl.DateTimeFormat('en-GB', {
      timeZone: 'Europe/Berlin',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      hourCycle: 'h23',
    }).format(new Date(body.task.dueAt));
    expect(local).toBe('01, 09:00');
    expect(Date.parse(body.task.dueAt) - Date.parse(body.task.nextReminderAt)).toBeGreaterThanOrEqual(23 * 3600_000);
  });

  it('completes and reschedules a task named in the text, and lists', async () => {
    const owner = await signup('qa2');
    await call('/v1/tasks/quick-add', { token: owner.accessToken, body: { text: 'call Ana tomorrow 5pm', timezone: 'America/New_York' } });
    await call('/v1/tasks/quick-add', { token: owner.accessToken, body: { text: 'dentist on friday', timezone: 'America/New_York' } });
    const moved = await json(
      await call('/v1/tasks/quick-add', {
        token: owner.accessToken,
        body: { text: 'move dentist to monday', timezone: 'America/New_York' },
      }),
    );
    expect(moved.intent).toBe('reschedule');
    expect(moved.task.title).toBe('dentist');
    const done = await json(
      await call('/v1/tasks/quick-add', { token: owner.accessToken, body: { text: 'done with call Ana', timezone: 'America/New_York' } }),
    );
    expect(done.intent).toBe('complete');
    expect(done.task).toMatchObject({ title: 'call Ana', status: 'done' });
    const listed = await json(
      await call('/v1/tasks/quick-add', {
        token: owner.accessToken,
        body: { text: 'show my tasks for this week', timezone: 'America/New_York' },
      }),
    );
    expect(listed.intent).toBe('list');
    const missing = await call('/v1/tasks/quick-add', {
      token: owner.accessToken,
      body: { text: 'done with walking the dragon', timezone: 'America/New_York' },
    });
    expect(missing.status).toBe(404);
  });

  it('rejects an unknown time zone with 422 naming the field', async () => {
    const owner = await signup('qa3');
    const res = await call('/v1/tasks/quick-add', { token: owner.accessToken, body: { text: 'x tomorrow', timezone: 'Mars/Olympus' } });
    expect(res.status).toBe(422);
    expect((await json(res)).errors[0].path).toBe('timezone');
  });
});

describe('quick add never destroys by guess', () => {
  const qa = (t: { accessToken: string }, text: string) =>
    call('/v1/tasks/quick-add', { token: t.accessToken, body: { text, timezone: 'America/New_York' } });
  const confirm = (t: { accessToken: string }, token: string, taskId: string) =>
    call('/v1/tasks/quick-add/confirm', { token: t.accessToken, body: { token, taskId } });
  const titles = async (t: { accessToken: string }) =>
    ((await json(await call('/v1/tasks?status=open', { token: t.accessToken }))).data as Array<{ title: string }>)
      .map((x) => x.title)
      .sort();

  it('"cancel dentist appointment" with only a task mentioning it in notes or a longer title deletes nothing: candidates and a token', async () => {
    const owner = await signup('qa-guess');
    await call('/v1/tasks', { token: owner.accessToken, body: { title: 'pay invoice', notes: 'after the dentist appointment' } });
    const target = await json(await call('/v1/tasks', { token: owner.accessToken, body: { title: 'dentist appointment with Dr. Li' } }));
    const res = await qa(owner, 'cancel dentist appointment');
    expect(res.status).toBe(200);
    const held = await json(res);
    expect(held).toMatchObject({ intent: 'delete', task: null, confirmation: { token: expect.any(String) } });
    // Notes are not searched: only the title that contains the words is a candidate.
    expect(held.candidates.map((t: { id: string }) => t.id)).toEqual([target.id]);
    expect(await titles(owner)).toEqual(['dentist appointment with Dr. Li', 'pay invoice']);

    // Acting on the confirmation uses the version shown: a change in between answers 412.
    await call(`/v1/tasks/${target.id}`, { method: 'PATCH', token: owner.accessToken, body: { priority: 2 } });
    expect((await confirm(owner, held.confirmation.token, target.id)).status).toBe(412);
    expect(await titles(owner)).toHaveLength(2);
    // Asked again, confirmed on the fresh version: deleted.
    const again = await json(await qa(owner, 'cancel dentist appointment'));
    const done = await confirm(owner, again.confirmation.token, target.id);
    expect(done.status).toBe(200);
    expect(await json(done)).toMatchObject({ intent: 'delete', task: { id: target.id } });
    expect(await titles(owner)).toEqual(['pay invoice']);
    // A replayed confirmation finds nothing to act on.
    expect((await confirm(owner, again.confirmation.token, target.id)).status).toBe(404);
  });

  it('an ambiguous match (two exact titles) and a low-confidence verb are held back; a confident unique exact title acts', async () => {
    const owner = await signup('qa-ambiguous');
    const a = await json(await call('/v1/tasks', { token: owner.accessToken, body: { title: 'gym' } }));
    const b = await json(await call('/v1/tasks', { token: owner.accessToken, body: { title: 'Gym' } }));
    const two = await json(await qa(owner, 'delete gym'));
    expect(two.task).toBeNull();
    expect(two.candidates.map((t: { id: string }) => t.id).sort()).toEqual([a.id, b.id].sort());
    await call(`/v1/tasks/${b.id}`, { method: 'DELETE', token: owner.accessToken });
    // "cancel" may be a new task, so its confidence is below the bar: held back even for one exact title.
    const cancel = await json(await qa(owner, 'cancel gym'));
    expect(cancel).toMatchObject({ intent: 'delete', task: null, candidates: [{ id: a.id }] });
    // "delete gym" is confident and names exactly one task by its title: it acts.
    const del = await json(await qa(owner, 'delete gym'));
    expect(del).toMatchObject({ intent: 'delete', task: { id: a.id } });
    expect(await titles(owner)).toEqual([]);
  });

  it('a confirmation token is bound to its caller and to its candidates', async () => {
    const owner = await signup('qa-token');
    const member = await addMember(owner, 'member');
    const t1 = await json(await call('/v1/tasks', { token: owner.accessToken, body: { title: 'call the plumber about the sink' } }));
    const t2 = await json(await call('/v1/tasks', { token: owner.accessToken, body: { title: 'unrelated' } }));
    const held = await json(await qa(owner, 'done with the plumber'));
    expect(held.candidates.map((t: { id: string }) => t.id)).toEqual([t1.id]);
    expect((await confirm(member, held.confirmation.token, t1.id)).status).toBe(422);
    expect((await confirm(owner, held.confirmation.token, t2.id)).status).toBe(422);
    expect((await confirm(owner, 'bm90IGEgdG9rZW4', t1.id)).status).toBe(422);
    const ok = await confirm(owner, held.confirmation.token, t1.id);
    expect(await json(ok)).toMatchObject({ intent: 'complete', task: { id: t1.id, status: 'done' } });
  });

  it('"cancel my gym membership by friday" creates a task even when a task "gym" exists', async () => {
    const owner = await signup('qa-create');
    await call('/v1/tasks', { token: owner.accessToken, body: { title: 'gym membership' } });
    const res = await qa(owner, 'cancel my gym membership by friday');
    expect(res.status).toBe(201);
    expect(await json(res)).toMatchObject({ intent: 'create', task: { title: 'cancel my gym membership' } });
    expect(await titles(owner)).toEqual(['cancel my gym membership', 'gym membership']);
  });
});
