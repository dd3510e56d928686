/**
 * Approvals record who approved, from the credential (issue 13 item 7): `config.approvers` limits who
 * may signal by role or by member/key id; anyone else gets a 403 problem and the node keeps waiting;
 * the approver (actor, role) is in the node's output and its `node.signalled` event, never the payload's claim.
 */
import { describe, expect, it } from 'vitest';
import { addMember, createApiKey, signup } from '../../support/workers/tenants';
import { api, approval, createFlow, edge, events, node, ofType, ok, startRun, transform, waitFor } from './_engine-kit';

describe('approval approvers', () => {
  it('roles: a member is refused with 403 and the node keeps waiting; an admin approves and is recorded', async () => {
    const t = await signup('appr-roles');
    const member = await addMember(t, 'member');
    const flowId = await createFlow(t, {
      nodes: [approval('review', { approvers: { roles: ['admin'] } }), transform('after', 'nodes.review.output.approvedBy.actorId')],
      edges: [edge('review', 'after')],
    });
    const run = await startRun(t, flowId);
    await waitFor(t, run.id, ['waiting']);

    const refused = await api(member, 'POST', `/v1/runs/${run.id}/signal`, { payload: { approved: true, by: t.userId } });
    expect(refused.status).toBe(403);
    expect(refused.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(refused.body.detail).toContain('review');
    expect(node((await api(t, 'GET', `/v1/runs/${run.id}`)).body, 'review').status).toBe('waiting');

    // The payload's own claim (`approvedBy`) is replaced by what the credential says.
    await ok(t, 'POST', `/v1/runs/${run.id}/signal`, { payload: { approved: true, approvedBy: { actorId: member.userId } } });
    const done = await waitFor(t, run.id);
    expect(done.status).toBe('succeeded');
    const by = { actorType: 'user', actorId: t.userId, role: 'admin' };
    expect(node(done, 'review').output).toEqual({ approved: true, approvedBy: by });
    expect(node(done, 'after').output).toBe(t.userId);
    const [signalled] = ofType(await events(run.id), 'node.signalled', 'review');
    expect(signalled!.data).toMatchObject({ by });
  });

  it('members: only a listed member or API key id may approve, whatever its role', async () => {
    const t = await signup('appr-members');
    const alice = await addMember(t, 'member', 'alice');
    const bob = await addMember(t, 'member', 'bob');
    const key = await createApiKey(t, 'member');
    const flowId = await createFlow(t, {
      nodes: [
        approval('a', { approvers: { members: [alice.userId] } }),
        approval('b', { approvers: { members: [key.id], roles: ['viewer'] } }),
      ],
      edges: [],
    });
    const run = await startRun(t, flowId);
    await waitFor(t, run.id, ['waiting']);
    for (const who of [t, bob]) expect((await api(who, 'POST', `/v1/runs/${run.id}/signal`, { node: 'a', payload: 'x' })).status).toBe(403);
    expect((await api(alice, 'POST', `/v1/runs/${run.id}/signal`, { node: 'b', payload: 'x' })).status).toBe(403);
    await ok(alice, 'POST', `/v1/runs/${run.id}/signal`, { node: 'a', payload: 'yes' });
    await ok({ accessToken: key.key } as never, 'POST', `/v1/runs/${run.id}/signal`, { node: 'b', payload: 'yes' });
    const done = await waitFor(t, run.id);
    expect(done.status).toBe('succeeded');
    const signalled = ofType(await events(run.id), 'node.signalled');
    expect(signalled.map((e) => [e.nodeId, (e.data as any).by])).toEqual([
      ['a', { actorType: 'user', actorId: alice.userId, role: 'member' }],
      ['b', { actorType: 'api_key', actorId: key.id, role: 'member' }],
    ]);
  });

  it('a viewer cannot approve (data:write), and approvers that name nobody are refused at flow creation', async () => {
    const t = await signup('appr-viewer');
    const viewer = await addMember(t, 'viewer');
    const flowId = await createFlow(t, { nodes: [approval('x', { approvers: { roles: ['viewer'] } })], edges: [] });
    const run = await startRun(t, flowId);
    await waitFor(t, run.id, ['waiting']);
    expect((await api(viewer, 'POST', `/v1/runs/${run.id}/signal`, { payload: 1 })).status).toBe(403);
    const bad = await api(t, 'POST', '/v1/flows', { name: 'bad', definition: { nodes: [approval('x', { approvers: {} })], edges: [] } });
    expect(bad.status).toBe(422);
  });
});
