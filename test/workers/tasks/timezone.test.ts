// Time zones people live in: the request's, else the member's profile, else the tenant's default, else UTC.
import { describe, expect, it } from 'vitest';
import { call, expectJson, expectProblem } from '../../support/workers/http';
import { addMember, createApiKey, signup } from '../../support/workers/tenants';

const quickAdd = (token: string, body: Record<string, unknown>) => call('/v1/tasks/quick-add', { token, body });

describe('time zones', () => {
  it('PATCH /v1/me sets and clears the profile zone; an unknown zone is a 422 naming the field', async () => {
    const owner = await signup('tz-me');
    const bad = await expectProblem(
      await call('/v1/me', { method: 'PATCH', token: owner.accessToken, body: { timezone: 'Mars/Olympus' } }),
      422,
    );
    expect(bad.errors).toEqual([expect.objectContaining({ path: 'timezone' })]);
    const set = await expectJson(await call('/v1/me', { method: 'PATCH', token: owner.accessToken, body: { timezone: 'Asia/Tokyo' } }));
    expect(set.user.timezone).toBe('Asia/Tokyo');
    expect((await expectJson(await call('/v1/me', { token: owner.accessToken }))).user.timezone).toBe('Asia/Tokyo');
    const cleared = await expectJson(await call('/v1/me', { method: 'PATCH', token: owner.accessToken, body: { timezone: null } }));
    expect(cleared.user.timezone).toBeNull();
    // Strict body: nothing else of the profile is writable here.
    await expectProblem(await call('/v1/me', { method: 'PATCH', token: owner.accessToken, body: { email: 'x@example.com' } }), 422);
  });

  it('a viewer sets their own zone; an API key has no profile', async () => {
    const owner = await signup('tz-viewer');
    const viewer = await addMember(owner, 'viewer');
    await expectJson(await call('/v1/me', { method: 'PATCH', token: viewer.accessToken, body: { timezone: 'Europe/Paris' } }));
    const key = await createApiKey(owner, 'admin');
    await expectProblem(await call('/v1/me', { method: 'PATCH', token: key.key, body: { timezone: 'Europe/Paris' } }), 403);
  });

  it('the tenant default must be a real zone', async () => {
    const owner = await signup('tz-tenant-bad');
    const res = await call('/v1/tenant', { method: 'PATCH', token: owner.accessToken, body: { settings: { timezone: 'Nowhere/Land' } } });
    const problem = await expectProblem(res, 422);
    expect(problem.errors).toEqual([expect.objectContaining({ path: 'settings.timezone' })]);
  });

  it('quick add reads the text in the request zone, else the member zone, else the tenant zone, else UTC, and says which', async () => {
    const owner = await signup('tz-chain');
    const member = await addMember(owner, 'member');
    const key = await createApiKey(owner, 'member');
    const at = async (token: string, body: Record<string, unknown>) => {
      const r = await expectJson(await quickAdd(token, { text: 'call Ana tomorrow at 9am', ...body }), 201);
      return { zone: r.timezone, taskZone: r.task.timezone };
    };
    expect(await at(owner.accessToken, {})).toEqual({ zone: { timezone: 'UTC', source: 'utc' }, taskZone: 'UTC' });

    await expectJson(
      await call('/v1/tenant', { method: 'PATCH', token: owner.accessToken, body: { settings: { timezone: 'America/New_York' } } }),
    );
    expect(await at(member.accessToken, {})).toEqual({
      zone: { timezone: 'America/New_York', source: 'tenant' },
      taskZone: 'America/New_York',
    });
    expect((await at(key.key, {})).zone).toEqual({ timezone: 'America/New_York', source: 'tenant' });

    await expectJson(await call('/v1/me', { method: 'PATCH', token: member.accessToken, body: { timezone: 'Asia/Tokyo' } }));
    expect(await at(member.accessToken, {})).toEqual({ zone: { timezone: 'Asia/Tokyo', source: 'member' }, taskZone: 'Asia/Tokyo' });
    // The owner's profile has no zone: still the tenant's.
    expect((await at(owner.accessToken, {})).zone.source).toBe('tenant');

    expect(await at(member.accessToken, { timezone: 'Europe/Berlin' })).toEqual({
      zone: { timezone: 'Europe/Berlin', source: 'request' },
      taskZone: 'Europe/Berlin',
    });
    const bad = await expectProblem(await quickAdd(member.accessToken, { text: 'x tomorrow', timezone: 'Mars/Olympus' }), 422);
    expect(bad.errors).toEqual([expect.objectContaining({ path: 'timezone' })]);
  });
});
