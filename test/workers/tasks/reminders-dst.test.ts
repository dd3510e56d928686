/**
 * Reminder and recurrence instants across DST changes, in the real runtime: through the HTTP API,
 * the TenantHub (its reminders table, its one alarm) and the D1 registry the sweeper reads.
 *
 * Dates are in 2027 on purpose: the hub plans only reminders that are not already past (and a
 * recurring task completed after its due jumps past the completion), so the DST changes under
 * test must lie ahead of the real clock. 2027 changes: America/New_York 03-14 (02:00 EST → 03:00
 * EDT) and 11-07 (02:00 EDT → 01:00 EST); Europe/Berlin 03-28 (02:00 CET → 03:00 CEST) and 10-31
 * (03:00 CEST → 02:00 CET).
 */
import { runInDurableObject } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import type { TenantHub } from '../../../durable-objects/tenant-hub/tenant-hub';
import { hub } from '../../support/workers/durable-objects';
import { call, expectJson } from '../../support/workers/http';
import { signup, type TestTenant } from '../../support/workers/tenants';
import { createTask, type Json, reminderRows, settled, syncPage } from './_support';

async function complete(owner: TestTenant, id: string): Promise<Json> {
  return expectJson(await call(`/v1/tasks/${id}/complete`, { method: 'POST', token: owner.accessToken }));
}

/** The task as the API, the sync log and the hub's reminders table see it: all three must agree. */
async function expectPlanned(
  owner: TestTenant,
  task: Json,
  expected: { dueAt?: string; dueDate?: string; nextReminderAt: string | null },
): Promise<void> {
  const want = { dueAt: expected.dueAt ?? null, dueDate: expected.dueDate ?? null, nextReminderAt: expected.nextReminderAt };
  expect({ dueAt: task.dueAt, dueDate: task.dueDate, nextReminderAt: task.nextReminderAt }).toEqual(want);
  const got = await expectJson(await call(`/v1/tasks/${task.id}`, { token: owner.accessToken }));
  expect({ dueAt: got.dueAt, dueDate: got.dueDate, nextReminderAt: got.nextReminderAt, version: got.version }).toEqual({
    ...want,
    version: task.version,
  });
  const log = await syncPage(owner.accessToken);
  expect(log.changes.at(-1)).toMatchObject({ entity: 'task', entityId: task.id, op: 'upsert', version: task.version, data: { ...want } });
  const pending = (await reminderRows(owner.tenantId, task.id)).filter((r) => r.delivered_at === null);
  expect(pending.map((r) => new Date(r.fire_at).toISOString())).toEqual(expected.nextReminderAt ? [expected.nextReminderAt] : []);
  // The hub's one alarm (and the sweeper's registry) point at the next reminder of this, the tenant's only task.
  await settled(owner.tenantId, expected.nextReminderAt ? Date.parse(expected.nextReminderAt) : null);
}

interface DailyCase {
  zone: string;
  change: string;
  /** Three consecutive 09:00-local dues (UTC) and their PT30M reminders. */
  dues: [string, string, string];
  reminders: [string, string, string];
}

const DAILY_0900: DailyCase[] = [
  {
    zone: 'America/New_York',
    change: 'spring forward 2027-03-14',
    dues: ['2027-03-13T14:00:00.000Z', '2027-03-14T13:00:00.000Z', '2027-03-15T13:00:00.000Z'],
    reminders: ['2027-03-13T13:30:00.000Z', '2027-03-14T12:30:00.000Z', '2027-03-15T12:30:00.000Z'],
  },
  {
    zone: 'Europe/Berlin',
    change: 'spring forward 2027-03-28',
    dues: ['2027-03-27T08:00:00.000Z', '2027-03-28T07:00:00.000Z', '2027-03-29T07:00:00.000Z'],
    reminders: ['2027-03-27T07:30:00.000Z', '2027-03-28T06:30:00.000Z', '2027-03-29T06:30:00.000Z'],
  },
  {
    zone: 'America/New_York',
    change: 'fall back 2027-11-07',
    dues: ['2027-11-06T13:00:00.000Z', '2027-11-07T14:00:00.000Z', '2027-11-08T14:00:00.000Z'],
    reminders: ['2027-11-06T12:30:00.000Z', '2027-11-07T13:30:00.000Z', '2027-11-08T13:30:00.000Z'],
  },
  {
    zone: 'Europe/Berlin',
    change: 'fall back 2027-10-31',
    dues: ['2027-10-30T07:00:00.000Z', '2027-10-31T08:00:00.000Z', '2027-11-01T08:00:00.000Z'],
    reminders: ['2027-10-30T06:30:00.000Z', '2027-10-31T07:30:00.000Z', '2027-11-01T07:30:00.000Z'],
  },
];

describe('daily 09:00 task with a PT30M reminder, completed twice across a DST change', () => {
  it.each(DAILY_0900)('$zone, $change', async ({ zone, dues, reminders }) => {
    const owner = await signup('dst-daily');
    const t0 = await createTask(owner, {
      title: `Standup ${zone}`,
      dueAt: dues[0],
      timezone: zone,
      recurrence: 'FREQ=DAILY',
      reminders: [{ before: 'PT30M' }],
    });
    await expectPlanned(owner, t0, { dueAt: dues[0], nextReminderAt: reminders[0] });

    const t1 = await complete(owner, t0.id);
    expect(t1).toMatchObject({ id: t0.id, status: 'open', completedAt: null });
    await expectPlanned(owner, t1, { dueAt: dues[1], nextReminderAt: reminders[1] });

    const t2 = await complete(owner, t0.id);
    await expectPlanned(owner, t2, { dueAt: dues[2], nextReminderAt: reminders[2] });

    const history = await expectJson(await call(`/v1/tasks/${t0.id}/history`, { token: owner.accessToken }));
    expect(history.data.map((h: Json) => h.dueAt)).toEqual([dues[1], dues[0]]);
  });

  it('the same series completed through the hub (socket/RPC path) plans the same instants', async () => {
    const owner = await signup('dst-hub');
    const c = DAILY_0900[0]!;
    const t0 = await createTask(owner, {
      title: 'Standup via hub',
      dueAt: c.dues[0],
      timezone: c.zone,
      recurrence: 'FREQ=DAILY',
      reminders: [{ before: 'PT30M' }],
    });
    const actor = { id: owner.userId, role: 'admin' as const };
    const r1 = await runInDurableObject(hub(owner.tenantId), (h: TenantHub) => h.completeTask(owner.tenantId, actor, t0.id));
    expect(r1).toMatchObject({ ok: true, value: { dueAt: c.dues[1], nextReminderAt: c.reminders[1] } });
    const r2 = await runInDurableObject(hub(owner.tenantId), (h: TenantHub) => h.completeTask(owner.tenantId, actor, t0.id));
    expect(r2).toMatchObject({ ok: true, value: { dueAt: c.dues[2], nextReminderAt: c.reminders[2] } });
    await expectPlanned(owner, (r2 as { value: Json }).value, { dueAt: c.dues[2], nextReminderAt: c.reminders[2] });
  });
});

describe('all-day tasks: "before" counts back from 09:00 local on the due date', () => {
  it.each([
    // P1D: 09:00 local the day before, whatever the offset that day.
    ['America/New_York', '2027-03-14', 'P1D', '2027-03-13T14:00:00.000Z'], // day before the change: EST
    ['America/New_York', '2027-03-15', 'P1D', '2027-03-14T13:00:00.000Z'], // the change day itself: EDT
    ['Europe/Berlin', '2027-03-28', 'P1D', '2027-03-27T08:00:00.000Z'], // CET
    ['Europe/Berlin', '2027-03-29', 'P1D', '2027-03-28T07:00:00.000Z'], // CEST
    ['Europe/Berlin', '2027-11-01', 'P1D', '2027-10-31T08:00:00.000Z'], // back to CET
    // Hours are exact: 09:00 EDT on 03-14 minus 8 h is 00:00 EST (not 01:00).
    ['America/New_York', '2027-03-14', 'PT8H', '2027-03-14T05:00:00.000Z'],
    // P1DT2H: a calendar day back (09:00 CEST on 03-28, the change day), then two exact hours.
    ['Europe/Berlin', '2027-03-29', 'P1DT2H', '2027-03-28T05:00:00.000Z'],
  ])('%s dueDate %s, before %s → %s', async (zone, dueDate, before, fireAt) => {
    const owner = await signup('dst-allday');
    const t = await createTask(owner, { title: 'Bring the forms', dueDate, timezone: zone, reminders: [{ before }] });
    await expectPlanned(owner, t, { dueDate, nextReminderAt: fireAt });
  });

  it('a daily all-day series with a P1D reminder keeps 09:00 local the day before across the change', async () => {
    const owner = await signup('dst-allday-rec');
    const t0 = await createTask(owner, {
      title: 'Water the plants',
      dueDate: '2027-03-13',
      timezone: 'America/New_York',
      recurrence: 'FREQ=DAILY',
      reminders: [{ before: 'P1D' }],
    });
    await expectPlanned(owner, t0, { dueDate: '2027-03-13', nextReminderAt: '2027-03-12T14:00:00.000Z' });
    const t1 = await complete(owner, t0.id);
    await expectPlanned(owner, t1, { dueDate: '2027-03-14', nextReminderAt: '2027-03-13T14:00:00.000Z' });
    const t2 = await complete(owner, t0.id);
    await expectPlanned(owner, t2, { dueDate: '2027-03-15', nextReminderAt: '2027-03-14T13:00:00.000Z' });
  });

  it('changing the time zone of an all-day task re-plans its reminder in the new zone', async () => {
    const owner = await signup('dst-tz');
    const t0 = await createTask(owner, {
      title: 'Renew passport',
      dueDate: '2027-03-29',
      timezone: 'America/New_York',
      reminders: [{ before: 'P1D' }],
    });
    await expectPlanned(owner, t0, { dueDate: '2027-03-29', nextReminderAt: '2027-03-28T13:00:00.000Z' });
    const t1 = await expectJson(
      await call(`/v1/tasks/${t0.id}`, { method: 'PATCH', token: owner.accessToken, body: { timezone: 'Europe/Berlin' } }),
    );
    await expectPlanned(owner, t1, { dueDate: '2027-03-29', nextReminderAt: '2027-03-28T07:00:00.000Z' });
  });
});

describe('timed tasks on the change day', () => {
  it.each([
    // P1D before 09:00 EDT on the change day is 09:00 EST the day before: 23 hours earlier.
    ['America/New_York', '2027-03-14T13:00:00.000Z', 'P1D', '2027-03-13T14:00:00.000Z'],
    // PT1H before 03:30 EDT is 01:30 EST (exact hours across the gap).
    ['America/New_York', '2027-03-14T07:30:00.000Z', 'PT1H', '2027-03-14T06:30:00.000Z'],
    // P1D before 09:00 CET on the fall-back day is 09:00 CEST the day before: 25 hours earlier.
    ['Europe/Berlin', '2027-10-31T08:00:00.000Z', 'P1D', '2027-10-30T07:00:00.000Z'],
  ])('%s due %s, before %s → %s', async (zone, dueAt, before, fireAt) => {
    const owner = await signup('dst-timed');
    const t = await createTask(owner, { title: 'Flight', dueAt, timezone: zone, reminders: [{ before }] });
    await expectPlanned(owner, t, { dueAt, nextReminderAt: fireAt });
  });

  it('a daily series at 02:30 New York moves into the gap to 03:30 EDT on 03-14, then keeps 03:30', async () => {
    const owner = await signup('dst-gap');
    const t0 = await createTask(owner, {
      title: 'Backup',
      dueAt: '2027-03-13T07:30:00.000Z',
      timezone: 'America/New_York',
      recurrence: 'FREQ=DAILY',
      reminders: [{ before: 'PT30M' }],
    });
    const t1 = await complete(owner, t0.id);
    // 02:30 does not exist on 03-14: moved forward by the gap to 03:30 EDT = 07:30Z.
    await expectPlanned(owner, t1, { dueAt: '2027-03-14T07:30:00.000Z', nextReminderAt: '2027-03-14T07:00:00.000Z' });
    const t2 = await complete(owner, t0.id);
    await expectPlanned(owner, t2, { dueAt: '2027-03-15T07:30:00.000Z', nextReminderAt: '2027-03-15T07:00:00.000Z' });
  });
});

describe('the end of a series', () => {
  it('FREQ=DAILY;COUNT=2 across the change: two occurrences, then the task is done', async () => {
    const owner = await signup('dst-count');
    const t0 = await createTask(owner, {
      title: 'Two doses',
      dueAt: '2027-03-13T14:00:00.000Z',
      timezone: 'America/New_York',
      recurrence: 'FREQ=DAILY;COUNT=2',
      reminders: [{ before: 'PT30M' }],
    });
    const t1 = await complete(owner, t0.id);
    expect(t1).toMatchObject({ status: 'open', dueAt: '2027-03-14T13:00:00.000Z', nextReminderAt: '2027-03-14T12:30:00.000Z' });
    const t2 = await complete(owner, t0.id);
    // COUNT=2 means two occurrences: completing the second ends the series.
    expect({ status: t2.status, dueAt: t2.dueAt, nextReminderAt: t2.nextReminderAt }).toEqual({
      status: 'done',
      dueAt: '2027-03-14T13:00:00.000Z',
      nextReminderAt: null,
    });
    expect(await reminderRows(owner.tenantId, t0.id)).toEqual([]);
  });

  it('UNTIL (local day) across the change: the last occurrence is on the UNTIL day', async () => {
    const owner = await signup('dst-until');
    const t0 = await createTask(owner, {
      title: 'Until Monday',
      dueAt: '2027-03-27T08:00:00.000Z',
      timezone: 'Europe/Berlin',
      recurrence: 'FREQ=DAILY;UNTIL=20270328',
      reminders: [{ before: 'PT30M' }],
    });
    const t1 = await complete(owner, t0.id);
    await expectPlanned(owner, t1, { dueAt: '2027-03-28T07:00:00.000Z', nextReminderAt: '2027-03-28T06:30:00.000Z' });
    const t2 = await complete(owner, t0.id);
    expect(t2).toMatchObject({ status: 'done', nextReminderAt: null });
    await settled(owner.tenantId, null);
  });
});
