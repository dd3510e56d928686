// POST /v1/tasks/quick-add end to end: the parser's result becomes a real task (or an action on one).
import { describe, expect, it } from 'vitest';
import { call, json } from '../../support/workers/http';
import { signup } from '../../support/workers/tenants';

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
