/**
 * Agents as a versioned resource: create, read, new versions by PUT, the paged version list, delete,
 * audit entries, and validation that reports every problem with its path (including references to
 * tools, flows, agents and providers that do not exist in the tenant, and delegation cycles).
 */
import { describe, expect, it } from 'vitest';
import { call, expectJson, expectProblem } from '../../support/workers/http';
import { addMember, signup, type TestTenant } from '../../support/workers/tenants';

const BASE = { name: 'Planner', role: 'Plans the week', goal: 'A tidy task list', instructions: 'Be brief.' };

async function create(t: TestTenant, body: unknown) {
  return call('/v1/agents', { token: t.accessToken, body });
}

describe('agents resource', () => {
  it('creates version 1, PUT adds versions, GET reads latest or a given one, versions page with the cursor', async () => {
    const t = await signup('agents-crud');
    const created = await expectJson(await create(t, { ...BASE, tools: [{ type: 'builtin', name: 'createTask' }] }), 201);
    expect(created).toMatchObject({
      id: expect.stringMatching(/^agt_/),
      name: 'Planner',
      version: 1,
      maxSteps: 10,
      providers: [],
      tools: [{ type: 'builtin', name: 'createTask' }],
    });
    const id = created.id as string;
    for (const n of [2, 3]) {
      const put = await expectJson(await call(`/v1/agents/${id}`, { method: 'PUT', token: t.accessToken, body: { ...BASE, maxSteps: n } }));
      expect(put).toMatchObject({ id, version: n, maxSteps: n });
    }
    expect(await expectJson(await call(`/v1/agents/${id}`, { token: t.accessToken }))).toMatchObject({
      version: 3,
      latestVersion: 3,
      maxSteps: 3,
    });
    expect(await expectJson(await call(`/v1/agents/${id}?version=1`, { token: t.accessToken }))).toMatchObject({
      version: 1,
      latestVersion: 3,
      tools: [{ type: 'builtin', name: 'createTask' }],
    });
    const page1 = await expectJson(await call(`/v1/agents/${id}/versions?limit=2`, { token: t.accessToken }));
    expect(page1.data.map((v: any) => v.version)).toEqual([3, 2]);
    expect(page1.data[0].spec).toMatchObject({ name: 'Planner', maxSteps: 3 });
    const page2 = await expectJson(await call(`/v1/agents/${id}/versions?limit=2&cursor=${page1.nextCursor}`, { token: t.accessToken }));
    expect(page2).toMatchObject({ data: [{ version: 1 }], nextCursor: null });

    const list = await expectJson(await call('/v1/agents', { token: t.accessToken }));
    expect(list.data.map((a: any) => a.id)).toEqual([id]);

    await expectJson(await call(`/v1/agents/${id}`, { method: 'DELETE', token: t.accessToken }), 204);
    await expectProblem(await call(`/v1/agents/${id}`, { token: t.accessToken }), 404);
    expect((await expectJson(await call('/v1/agents', { token: t.accessToken }))).data).toEqual([]);

    const audit = await expectJson(await call('/v1/audit-log?limit=100', { token: t.accessToken }));
    const actions = audit.data.filter((e: any) => e.target?.id === id || e.targetId === id).map((e: any) => e.action);
    expect(actions.sort()).toEqual(['agent.created', 'agent.deleted', 'agent.updated', 'agent.updated']);
  });

  it('reports every problem with its path: shape errors, and references that do not exist in the tenant', async () => {
    const t = await signup('agents-validate');
    const shape = await expectProblem(
      await create(t, { ...BASE, maxSteps: 0, providers: ['main'], tools: [{ type: 'builtin', name: 'fly' }, { type: 'tool' }], extra: 1 }),
      422,
    );
    const shapePaths = shape.errors.map((e: any) => e.path).sort();
    expect(shapePaths).toEqual(expect.arrayContaining(['maxSteps', 'model', 'tools[0].name', 'tools[1].toolId']));
    expect(shapePaths.some((p: string) => p === '' || p === 'extra')).toBe(true);

    const refs = await expectProblem(
      await create(t, {
        ...BASE,
        providers: ['nope'],
        model: 'fast',
        outputSchema: { $ref: '#/$defs/missing' },
        tools: [
          { type: 'builtin', name: 'listTasks' },
          { type: 'tool', toolId: 'tol_missing' },
          { type: 'flow', flowId: 'flw_missing' },
          { type: 'agent', agentId: 'agt_missing' },
          { type: 'builtin', name: 'listTasks' },
        ],
      }),
      422,
    );
    expect(refs.errors.map((e: any) => [e.path, e.code]).sort()).toEqual(
      [
        ['outputSchema', 'invalid_schema'],
        ['providers[0]', 'not_found'],
        ['tools[1].toolId', 'not_found'],
        ['tools[2].flowId', 'not_found'],
        ['tools[3].agentId', 'not_found'],
        ['tools[4]', 'duplicate_tool_name'],
      ].sort(),
    );
    expect(refs.errors.find((e: any) => e.path === 'tools[3].agentId').pointer).toBe('/tools/3/agentId');
  });

  it('another tenant’s tool, flow and agent are unknown references; a delegation cycle is refused', async () => {
    const a = await signup('agents-ref-a');
    const b = await signup('agents-ref-b');
    const flowB = await expectJson(
      await call('/v1/flows', {
        token: b.accessToken,
        body: { name: 'f', definition: { nodes: [{ id: 'x', type: 'transform', config: { expression: '1' } }] } },
      }),
      201,
    );
    const agentB = await expectJson(await create(b, BASE), 201);
    const bad = await expectProblem(
      await create(a, {
        ...BASE,
        tools: [
          { type: 'flow', flowId: flowB.id },
          { type: 'agent', agentId: agentB.id },
        ],
      }),
      422,
    );
    expect(bad.errors.map((e: any) => e.path).sort()).toEqual(['tools[0].flowId', 'tools[1].agentId']);

    // worker ← manager; then worker → manager would close a cycle.
    const worker = await expectJson(await create(a, { ...BASE, name: 'Worker' }), 201);
    const manager = await expectJson(await create(a, { ...BASE, name: 'Manager', tools: [{ type: 'agent', agentId: worker.id }] }), 201);
    expect(manager.tools).toEqual([{ type: 'agent', agentId: worker.id }]);
    const cycle = await expectProblem(
      await call(`/v1/agents/${worker.id}`, {
        method: 'PUT',
        token: a.accessToken,
        body: { ...BASE, name: 'Worker', tools: [{ type: 'agent', agentId: manager.id }] },
      }),
      422,
    );
    expect(cycle.errors).toEqual([expect.objectContaining({ path: 'tools[0].agentId', code: 'cycle' })]);
    const self = await expectProblem(
      await call(`/v1/agents/${worker.id}`, {
        method: 'PUT',
        token: a.accessToken,
        body: { ...BASE, tools: [{ type: 'agent', agentId: worker.id }] },
      }),
      422,
    );
    expect(self.errors).toEqual([expect.objectContaining({ path: 'tools[0].agentId', code: 'cycle' })]);
  });

  it('an agent node in a flow definition is validated on save, every problem with its path', async () => {
    const t = await signup('agents-node-validate');
    const definition = {
      nodes: [
        { id: 'a', type: 'agent', config: { prompt: 'hi' } },
        { id: 'b', type: 'agent', config: { agent: { name: 'x', providers: ['p'], maxSteps: 99 }, prompt: 'ok' } },
        { id: 'c', type: 'agent', config: { agentId: 'agt_x', agent: { name: 'y' }, prompt: 'ok' } },
        { id: 'd', type: 'agent', config: { agent: { name: 'z' }, messages: 'input.messages[' } },
      ],
    };
    const res = await expectProblem(await call('/v1/flows', { token: t.accessToken, body: { name: 'bad', definition } }), 422);
    expect(res.errors.map((e: any) => e.path).sort()).toEqual(
      [
        'definition.nodes[0].config.agentId',
        'definition.nodes[1].config.agent.maxSteps',
        'definition.nodes[1].config.agent.model',
        'definition.nodes[2].config.agentId',
        'definition.nodes[3].config.messages',
      ].sort(),
    );
  });

  it('viewers read agents but cannot write them', async () => {
    const t = await signup('agents-viewer');
    const viewer = await addMember(t, 'viewer');
    const created = await expectJson(await create(t, BASE), 201);
    await expectJson(await call(`/v1/agents/${created.id}`, { token: viewer.accessToken }));
    await expectProblem(await create(viewer, BASE), 403);
    await expectProblem(await call(`/v1/agents/${created.id}`, { method: 'DELETE', token: viewer.accessToken }), 403);
  });
});
