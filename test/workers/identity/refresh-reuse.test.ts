/**
 * Refresh-token reuse detection (RFC 9700 §4.14.2): a used token presented again revokes its whole
 * family, including under concurrent use of the same token.
 */
import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import { expectJson, expectProblem } from '../../support/workers/http';
import { signup } from '../../support/workers/tenants';
import { auditEntries, loginOk, refresh } from './_support';

async function familyRows(userId: string) {
  const { results } = await env.DB.prepare('SELECT family_id, used_at, revoked_at FROM refresh_tokens WHERE user_id = ?1')
    .bind(userId)
    .all<{
      family_id: string;
      used_at: string | null;
      revoked_at: string | null;
    }>();
  return results;
}

describe('refresh token reuse', () => {
  it('an already-used token → 401 and the latest token of the family stops working', async () => {
    const owner = await signup('reuse');
    const next = await expectJson(await refresh(owner.refreshToken), 200);
    await expectProblem(await refresh(owner.refreshToken), 401);
    await expectProblem(await refresh(next.refreshToken), 401);
  });

  it('replaying a token from the middle of a chain revokes the newest one', async () => {
    const owner = await signup('reuse-chain');
    const r1 = await expectJson(await refresh(owner.refreshToken), 200);
    const r2 = await expectJson(await refresh(r1.refreshToken), 200);
    const r3 = await expectJson(await refresh(r2.refreshToken), 200);
    await expectProblem(await refresh(r1.refreshToken), 401);
    await expectProblem(await refresh(r3.refreshToken), 401);
    // Every row of that family is marked revoked.
    const rows = await familyRows(owner.userId);
    expect(rows.length).toBe(4);
    expect(rows.every((r) => r.revoked_at !== null)).toBe(true);
  });

  it('revokes only the reused family: another session of the same user keeps working', async () => {
    const owner = await signup('reuse-scope');
    const other = await loginOk(owner.email);
    const next = await expectJson(await refresh(owner.refreshToken), 200);
    await expectProblem(await refresh(owner.refreshToken), 401);
    await expectProblem(await refresh(next.refreshToken), 401);
    expect((await refresh(other.refreshToken)).status).toBe(200);
  });

  it('records auth.refresh_reuse_detected in the audit log', async () => {
    const owner = await signup('reuse-audit');
    const next = await expectJson(await refresh(owner.refreshToken), 200);
    await expectProblem(await refresh(owner.refreshToken), 401);
    const entries = await auditEntries({ ...owner, accessToken: next.accessToken });
    const hit = entries.find((e) => e.action === 'auth.refresh_reuse_detected');
    expect(hit).toBeDefined();
    expect(hit).toMatchObject({ targetType: 'user', targetId: owner.userId });
    expect(JSON.stringify(entries)).not.toContain(owner.refreshToken);
  });

  it.each([2, 3, 5])('%i concurrent refreshes with one token: at most one succeeds, then the family is revoked', async (n) => {
    const owner = await signup(`race-${n}`);
    const responses = await Promise.all(Array.from({ length: n }, () => refresh(owner.refreshToken)));
    const statuses = responses.map((r) => r.status);
    const ok = responses.filter((r) => r.status === 200);
    expect(ok.length, `statuses ${statuses.join(',')}`).toBeLessThanOrEqual(1);
    expect(
      statuses.every((s) => s === 200 || s === 401),
      `statuses ${statuses.join(',')}`,
    ).toBe(true);
    const successors: string[] = [];
    for (const r of ok) successors.push((await r.json<{ refreshToken: string }>()).refreshToken);
    for (const r of responses.filter((x) => x.status !== 200)) await expectProblem(r, 401);

    // Afterwards nothing in the family works: not the original, not a successor.
    await expectProblem(await refresh(owner.refreshToken), 401);
    for (const s of successors) await expectProblem(await refresh(s), 401);
    const rows = await familyRows(owner.userId);
    expect(rows.length).toBe(1 + successors.length);
    expect(rows.every((r) => r.revoked_at !== null)).toBe(true);

    const entries = await auditEntries(owner);
    expect(entries.some((e) => e.action === 'auth.refresh_reuse_detected')).toBe(true);
  });
});
