/** Issue 13: compare-and-set where two requests race (tenant settings merge) and audit entries that commit with their change. */
import { describe, expect, it } from 'vitest';
import { call, expectJson } from '../../support/workers/http';
import { addMember, signup } from '../../support/workers/tenants';
import { createTool } from '../tools/_support';
import { auditEntries, invite } from './_support';

describe('races and audit batches', () => {
  it('concurrent PATCHes of different settings keys both land (the merge is a compare-and-set)', async () => {
    const owner = await signup('settings-race');
    for (let round = 1; round <= 4; round++) {
      const [a, b] = await Promise.all([
        call('/v1/tenant', { method: 'PATCH', token: owner.accessToken, body: { settings: { maxActiveRuns: round } } }),
        call('/v1/tenant', { method: 'PATCH', token: owner.accessToken, body: { name: `Round ${round}` } }),
      ]);
      expect([a.status, b.status]).toEqual([200, 200]);
      const both = await Promise.all(
        // Two values within the free plan's ceiling on maxActiveRuns (src/flows/ceilings.ts).
        [{ maxActiveRuns: 2 + round }, { maxActiveRuns: 6 + round }].map((settings) =>
          call('/v1/tenant', { method: 'PATCH', token: owner.accessToken, body: { settings } }),
        ),
      );
      expect(both.map((r) => r.status)).toEqual([200, 200]);
      const tenant = await expectJson(await call('/v1/tenant', { token: owner.accessToken }), 200);
      expect(tenant.name).toBe(`Round ${round}`);
      expect([2 + round, 6 + round]).toContain(tenant.settings.maxActiveRuns);
    }
    const updates = (await auditEntries(owner)).filter((e) => e.action === 'tenant.updated');
    expect(updates).toHaveLength(16); // one entry per applied PATCH, none for a lost compare-and-set
  });

  it('role changes, removals and invitation revocations are audited exactly once, in their batch', async () => {
    const owner = await signup('audit-batch');
    const m = await addMember(owner, 'member', 'audit-batch-m');
    const role = await Promise.all(
      [0, 1].map(() => call(`/v1/members/${m.userId}`, { method: 'PATCH', token: owner.accessToken, body: { role: 'viewer' } })),
    );
    expect(role.map((r) => r.status)).toEqual([200, 200]);
    const removed = await Promise.all([0, 1].map(() => call(`/v1/members/${m.userId}`, { method: 'DELETE', token: owner.accessToken })));
    expect(removed.map((r) => r.status).sort()).toEqual([204, 404]);
    const inv = await invite(owner, 'revoke-race@example.com', 'viewer');
    const revoked = await Promise.all([0, 1].map(() => call(`/v1/invitations/${inv.id}`, { method: 'DELETE', token: owner.accessToken })));
    expect(revoked.map((r) => r.status).sort()).toEqual([204, 409]);
    const actions = (await auditEntries(owner)).map((e) => e.action);
    expect(actions.filter((a) => a === 'member.role_changed')).toHaveLength(1);
    expect(actions.filter((a) => a === 'member.removed')).toHaveLength(1);
    expect(actions.filter((a) => a === 'invitation.revoked')).toHaveLength(1);
  });
});

describe('resource changes are audited', () => {
  it('LLM providers, tools and flows: create, update and delete each leave one entry with the actor', async () => {
    const owner = await signup('audit-resources');
    const token = owner.accessToken;
    const provider = await expectJson(
      await call('/v1/llm/providers', {
        token,
        body: { name: 'cf', kind: 'workers-ai', models: { fast: { model: '@cf/meta/llama-3.1-8b-instruct' } } },
      }),
      201,
    );
    expect((await call(`/v1/llm/providers/${provider.id}`, { method: 'DELETE', token })).status).toBe(204);
    expect((await call(`/v1/llm/providers/${provider.id}`, { method: 'DELETE', token })).status).toBe(404);

    const tool = await createTool(owner);
    expect((await call(`/v1/tools/${tool.id}`, { method: 'PATCH', token, body: { description: 'now described' } })).status).toBe(200);
    expect((await call(`/v1/tools/${tool.id}`, { method: 'DELETE', token })).status).toBe(204);

    const definition = { nodes: [{ id: 'a', type: 'transform', config: { expression: '1' } }], edges: [] };
    const flow = await expectJson(await call('/v1/flows', { token, body: { name: 'f', definition } }), 201);
    expect((await call(`/v1/flows/${flow.id}`, { method: 'PUT', token, body: { name: 'f2', definition } })).status).toBe(200);
    expect((await call(`/v1/flows/${flow.id}`, { method: 'DELETE', token })).status).toBe(204);

    const entries = await auditEntries(owner);
    const actionsFor = (id: string) =>
      entries
        .filter((e) => e.targetId === id)
        .map((e) => e.action)
        .sort();
    expect(actionsFor(provider.id)).toEqual(['llm_provider.created', 'llm_provider.deleted']);
    expect(actionsFor(tool.id)).toEqual(['tool.created', 'tool.deleted', 'tool.updated']);
    expect(actionsFor(flow.id)).toEqual(['flow.created', 'flow.deleted', 'flow.updated']);
    expect(entries.filter((e) => e.targetType !== 'tenant' && e.targetType !== 'user').every((e) => e.actorId === owner.userId)).toBe(true);
  });
});
