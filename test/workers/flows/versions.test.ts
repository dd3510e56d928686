/** GET /v1/flows/{id}/versions pages with the standard cursor (`?limit=&cursor=` → `{ data, nextCursor }`). */
import { describe, expect, it } from 'vitest';
import { call, expectJson, expectProblem } from '../../support/workers/http';
import { signup } from '../../support/workers/tenants';
import { auditEntries } from '../identity/_support';

const definition = (n: number) => ({ nodes: [{ id: 'only', type: 'transform', config: { expression: `"v${n}"` } }] });

describe('flow versions', () => {
  it('pages newest first, every version once, and refuses a bad cursor with 422 naming it', async () => {
    const t = await signup('flow-versions');
    const { id } = await expectJson(
      await call('/v1/flows', { token: t.accessToken, body: { name: 'v1', definition: definition(1) } }),
      201,
    );
    for (let n = 2; n <= 5; n++)
      await expectJson(
        await call(`/v1/flows/${id}`, { method: 'PUT', token: t.accessToken, body: { name: `v${n}`, definition: definition(n) } }),
      );

    const seen: number[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const qs: string = cursor ? `limit=2&cursor=${cursor}` : 'limit=2';
      const page: { data: { version: number }[]; nextCursor: string | null } = await expectJson(
        await call(`/v1/flows/${id}/versions?${qs}`, { token: t.accessToken }),
      );
      expect(page.data.length).toBeLessThanOrEqual(2);
      seen.push(...page.data.map((v) => v.version));
      cursor = page.nextCursor;
      pages += 1;
    } while (cursor);
    expect(seen).toEqual([5, 4, 3, 2, 1]);
    expect(pages).toBe(3);

    const all = await expectJson(await call(`/v1/flows/${id}/versions`, { token: t.accessToken }));
    expect(all.data).toHaveLength(5);
    expect(all.nextCursor).toBeNull();

    const bad = await expectProblem(await call(`/v1/flows/${id}/versions?cursor=${btoa('x')}`, { token: t.accessToken }), 422);
    expect(bad.errors[0].path).toBe('cursor');
    const tooMany = await expectProblem(await call(`/v1/flows/${id}/versions?limit=1000`, { token: t.accessToken }), 422);
    expect(tooMany.errors[0].path).toBe('limit');
  });

  it('concurrent PUTs are each applied once or refused with 409: versions stay gapless, one audit entry per applied PUT; after DELETE everything is 404', async () => {
    const t = await signup('flow-put-race');
    const token = t.accessToken;
    const { id } = await expectJson(await call('/v1/flows', { token, body: { name: 'v1', definition: definition(1) } }), 201);
    const answers = await Promise.all(
      [2, 3, 4, 5].map((n) => call(`/v1/flows/${id}`, { method: 'PUT', token, body: { name: `v${n}`, definition: definition(n) } })),
    );
    let applied = 0;
    for (const res of answers) {
      if (res.status === 200) applied += 1;
      else expect((await expectProblem(res, 409)).detail).toBe(`Flow ${id} was changed concurrently; retry.`);
    }
    expect(applied).toBeGreaterThan(0);

    const latest = applied + 1;
    const all = await expectJson(await call(`/v1/flows/${id}/versions`, { token }));
    expect(all.data.map((v: { version: number }) => v.version)).toEqual(Array.from({ length: latest }, (_, i) => latest - i));
    expect((await expectJson(await call(`/v1/flows/${id}`, { token }))).version).toBe(latest);
    const updates = (await auditEntries(t)).filter((e) => e.targetId === id && e.action === 'flow.updated');
    expect(updates.map((e) => e.metadata.version).sort((a, b) => a - b)).toEqual(Array.from({ length: applied }, (_, i) => i + 2));

    expect((await call(`/v1/flows/${id}`, { method: 'DELETE', token })).status).toBe(204);
    await expectProblem(await call(`/v1/flows/${id}`, { method: 'PUT', token, body: { name: 'gone', definition: definition(9) } }), 404);
    await expectProblem(await call(`/v1/flows/${id}?version=1`, { token }), 404);
    await expectProblem(await call(`/v1/flows/${id}/versions`, { token }), 404);
    await expectProblem(await call(`/v1/flows/${id}`, { method: 'DELETE', token }), 404);
  });
});
