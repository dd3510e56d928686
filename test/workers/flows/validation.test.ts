/**
 * Flow definitions are checked on save (POST /v1/flows, PUT /v1/flows/{id}) and by POST /v1/flows/validate,
 * which report EVERY problem with its path: duplicate ids, dangling edges, cycles (naming the cycle),
 * unknown node types, bad node config per type, invalid expressions, `when` on a non-condition edge and
 * unknown branches (unreachable). Run input is validated against the flow's input schema (422 with paths).
 */
import { describe, expect, it } from 'vitest';
import { eventually } from '../../support/shared/time';
import { signup, type TestTenant } from '../../support/workers/tenants';
import { api, approval, createFlow, edge, type Json, ok, transform } from './_engine-kit';

interface Problem {
  path: string;
  message: string;
  code: string;
}

async function validate(t: TestTenant, definition: unknown): Promise<{ valid: boolean; problems: Problem[] }> {
  return (await ok(t, 'POST', '/v1/flows/validate', { definition })) as { valid: boolean; problems: Problem[] };
}

/** POST /v1/flows must refuse the same definition with a 422 listing the same problems under `definition.`. */
async function expectRejected(t: TestTenant, definition: unknown, expected: Array<Partial<Problem>>): Promise<Json> {
  const v = await validate(t, definition);
  expect(v.valid).toBe(false);
  for (const p of expected) expect(v.problems, JSON.stringify(v.problems)).toContainEqual(expect.objectContaining(p));
  const res = await api(t, 'POST', '/v1/flows', { name: 'bad', definition });
  expect(res.status).toBe(422);
  expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  expect(res.body.code).toBe('validation_failed');
  const paths = (res.body.errors as Array<{ path: string }>).map((e) => e.path);
  for (const p of expected) if (p.path !== undefined) expect(paths).toContain(`definition.${p.path}`.replace('.[', '['));
  // One error per problem, the same list on both routes.
  expect(res.body.errors).toHaveLength(v.problems.length);
  return res.body;
}

const ok2 = { nodes: [transform('a', '1'), transform('b', 'nodes.a.output + 1')], edges: [edge('a', 'b')] };

describe('flow validation: graph problems', () => {
  it('a valid definition validates and saves', async () => {
    const t = await signup('val-ok');
    expect(await validate(t, ok2)).toEqual({ valid: true, problems: [] });
    await createFlow(t, ok2);
  });

  it('duplicate node ids: the second occurrence, naming the first', async () => {
    const t = await signup('val-dup');
    const body = await expectRejected(t, { nodes: [transform('a', '1'), transform('b', '2'), transform('a', '3')], edges: [] }, [
      { path: 'nodes[2].id', code: 'duplicate_id' },
    ]);
    expect(JSON.stringify(body.errors)).toContain('nodes[0]');
  });

  it('dangling edges: from and to unknown nodes', async () => {
    const t = await signup('val-dangle');
    await expectRejected(t, { nodes: [transform('a', '1')], edges: [edge('a', 'ghost'), edge('nobody', 'a')] }, [
      { path: 'edges[0].to', code: 'dangling_edge' },
      { path: 'edges[1].from', code: 'dangling_edge' },
    ]);
  });

  it('a cycle is reported with the nodes on it, in order', async () => {
    const t = await signup('val-cycle');
    const v = await validate(t, {
      nodes: [transform('start', '1'), transform('a', '1'), transform('b', '1'), transform('c', '1')],
      edges: [edge('start', 'a'), edge('a', 'b'), edge('b', 'c'), edge('c', 'a')],
    });
    const cycle = v.problems.find((p) => p.code === 'cycle');
    expect(cycle).toMatchObject({ path: 'edges' });
    expect(cycle!.message).toMatch(/a → b → c → a/);
    await expectRejected(t, { nodes: [transform('a', '1')], edges: [edge('a', 'a')] }, [{ path: 'edges[0]', code: 'cycle' }]);
  });

  it('unknown node types name the known ones', async () => {
    const t = await signup('val-type');
    const body = await expectRejected(t, { nodes: [transform('a', '1'), { id: 'x', type: 'teleport', config: {} }] }, [
      { path: 'nodes[1].type', code: 'unknown_type' },
    ]);
    expect(JSON.stringify(body.errors)).toMatch(/transform/);
  });

  it("'when' on an edge that does not leave a condition node", async () => {
    const t = await signup('val-when');
    await expectRejected(t, { nodes: [transform('a', '1'), transform('b', '2')], edges: [edge('a', 'b', 'true')] }, [
      { path: 'edges[0].when', code: 'invalid_edge' },
    ]);
  });

  it('an edge on a branch the condition never takes: its target is unreachable', async () => {
    const t = await signup('val-branch');
    const body = await expectRejected(
      t,
      {
        nodes: [
          { id: 'c', type: 'condition', config: { expression: 'input.x', branches: ['red', 'green'] } },
          transform('r', '1'),
          transform('b', '2'),
          transform('d', '3'),
        ],
        edges: [edge('c', 'r', 'red'), edge('c', 'b', 'blue'), edge('c', 'd', 'true')],
      },
      [
        { path: 'edges[1].when', code: 'unreachable' },
        { path: 'edges[2].when', code: 'unreachable' },
      ],
    );
    expect(JSON.stringify(body.errors)).toMatch(/'b' would be unreachable/);
  });
});

describe('flow validation: node config per type', () => {
  const cases: Array<{ name: string; node: Json; path: string }> = [
    { name: 'transform without expression', node: { id: 'n', type: 'transform', config: {} }, path: 'nodes[0].config.expression' },
    {
      name: 'transform with an unknown key',
      node: { id: 'n', type: 'transform', config: { expression: '1', extra: true } },
      path: 'nodes[0].config',
    },
    {
      name: 'condition with no branches',
      node: { id: 'n', type: 'condition', config: { expression: 'true', branches: [] } },
      path: 'nodes[0].config.branches',
    },
    {
      name: 'http with a bad method',
      node: { id: 'n', type: 'http', config: { url: 'https://example.com', method: 'FETCH' } },
      path: 'nodes[0].config.method',
    },
    {
      name: 'http with a timeout too small',
      node: { id: 'n', type: 'http', config: { url: 'https://example.com', timeoutMs: 1 } },
      path: 'nodes[0].config.timeoutMs',
    },
    {
      name: 'delay with both ms and until',
      node: { id: 'n', type: 'delay', config: { ms: 10, until: 'input.at' } },
      path: 'nodes[0].config',
    },
    { name: 'delay with negative ms', node: { id: 'n', type: 'delay', config: { ms: -1 } }, path: 'nodes[0].config.ms' },
    {
      name: 'approval with a timeout below 1 s',
      node: { id: 'n', type: 'approval', config: { timeoutMs: 5 } },
      path: 'nodes[0].config.timeoutMs',
    },
    { name: 'subflow without flowId', node: { id: 'n', type: 'subflow', config: {} }, path: 'nodes[0].config.flowId' },
    {
      name: 'map with concurrency 0',
      node: { id: 'n', type: 'map', config: { items: 'input.list', flowId: 'flw_x', concurrency: 0 } },
      path: 'nodes[0].config.concurrency',
    },
  ];
  it.each(cases)('$name → $path', async ({ node, path }) => {
    const t = await signup('val-cfg');
    await expectRejected(t, { nodes: [node] }, [{ path, code: expect.any(String) as unknown as string }]);
  });
});

describe('flow validation: expressions', () => {
  it('unparseable expressions and templates are reported where they are, naming the expression', async () => {
    const t = await signup('val-expr');
    const body = await expectRejected(
      t,
      {
        nodes: [
          transform('a', 'input.('),
          {
            id: 'h',
            type: 'http',
            config: { url: 'https://example.com/{{ nodes.a.output + }}', headers: { 'x-token': 'Bearer {{ $$$( }}' } },
          },
          { id: 'c', type: 'condition', config: { expression: '>> nope' } },
        ],
        edges: [edge('a', 'h'), edge('h', 'c')],
      },
      [
        { path: 'nodes[0].config.expression', code: 'invalid_expression' },
        { path: 'nodes[1].config.url', code: 'invalid_expression' },
        { path: 'nodes[1].config.headers.x-token', code: 'invalid_expression' },
        { path: 'nodes[2].config.expression', code: 'invalid_expression' },
      ],
    );
    expect(JSON.stringify(body.errors)).toContain('input.(');
  });
});

describe('flow validation: every problem at once', () => {
  it('graph, type, config and expression problems in one definition are all reported', async () => {
    const t = await signup('val-all');
    const v = await validate(t, {
      nodes: [
        transform('a', '1'),
        transform('a', '2'),
        { id: 'z', type: 'nope', config: {} },
        transform('e', ')('),
        { id: 'd', type: 'delay', config: {} },
      ],
      edges: [edge('a', 'ghost'), edge('e', 'd'), edge('d', 'e'), edge('a', 'e', 'yes')],
    });
    const codes = v.problems.map((p) => `${p.code}@${p.path}`);
    expect(codes).toEqual(
      expect.arrayContaining([
        'duplicate_id@nodes[1].id',
        'unknown_type@nodes[2].type',
        'invalid_expression@nodes[3].config.expression',
        'dangling_edge@edges[0].to',
        'invalid_edge@edges[3].when',
        'cycle@edges',
      ]),
    );
    expect(codes.some((c) => c.endsWith('@nodes[4].config'))).toBe(true);
  });

  it('a structural problem (bad retry policy) does not hide the graph problems next to it', async () => {
    const t = await signup('val-struct');
    const v = await validate(t, {
      nodes: [transform('a', '1', { retry: { maxAttempts: 0 } }), transform('b', '1')],
      edges: [edge('a', 'ghost')],
    });
    const codes = v.problems.map((p) => p.path);
    expect(codes).toContain('nodes[0].retry.maxAttempts');
    // The brief: validation on save reports EVERY problem with its path.
    expect(codes).toContain('edges[0].to');
  });

  it('shape errors carry paths too (no nodes, bad id, bad policy)', async () => {
    const t = await signup('val-shape');
    await expectRejected(t, { nodes: [] }, [{ path: 'nodes' }]);
    await expectRejected(t, { nodes: [transform('1bad id', '1')] }, [{ path: 'nodes[0].id' }]);
    await expectRejected(t, { nodes: [transform('a', '1')], policy: { onFailure: 'explode' } }, [{ path: 'policy.onFailure' }]);
  });

  it('PUT /v1/flows/{id} validates the new version the same way and keeps the old one', async () => {
    const t = await signup('val-put');
    const id = await createFlow(t, ok2);
    const res = await api(t, 'PUT', `/v1/flows/${id}`, {
      name: 'v2',
      definition: { nodes: [transform('a', '1')], edges: [edge('a', 'b')] },
    });
    expect(res.status).toBe(422);
    expect(res.body.errors).toContainEqual(expect.objectContaining({ path: 'definition.edges[0].to', code: 'dangling_edge' }));
    const flow = await ok(t, 'GET', `/v1/flows/${id}`);
    expect(flow.version).toBe(1);
  });
});

describe('run input is validated against the flow input schema', () => {
  it('422 with the path of every bad field; a good input starts', async () => {
    const t = await signup('val-input');
    const flowId = await createFlow(t, {
      input: { type: 'object', properties: { n: { type: 'number' }, tags: { type: 'array', items: { type: 'string' } } }, required: ['n'] },
      nodes: [approval('gate')],
    });
    const bad = await api(t, 'POST', `/v1/flows/${flowId}/runs`, { input: { n: 'four', tags: ['x', 3] } });
    expect(bad.status).toBe(422);
    expect(bad.body.code).toBe('validation_failed');
    const paths = (bad.body.errors as Array<{ path: string; pointer: string }>).map((e) => e.path);
    expect(paths).toEqual(expect.arrayContaining(['input.n', 'input.tags.1']));
    const missing = await api(t, 'POST', `/v1/flows/${flowId}/runs`, { input: {} });
    expect(missing.status).toBe(422);
    expect(JSON.stringify(missing.body.errors)).toMatch(/n/);
    // Nothing was started by the refused inputs.
    expect((await ok(t, 'GET', `/v1/runs?flowId=${flowId}`)).data).toHaveLength(0);
    const good = await api(t, 'POST', `/v1/flows/${flowId}/runs`, { input: { n: 4, tags: ['x'] } });
    expect(good.status).toBe(201);
    // The run index is written by the run itself, off the start's path (docs/flows.md): listed shortly after.
    const listed = await eventually(
      async () => {
        const { data } = await ok(t, 'GET', `/v1/runs?flowId=${flowId}`);
        return data.length > 0 ? data : undefined;
      },
      { what: 'the run to be listed' },
    );
    expect(listed.map((r: { id: string }) => r.id)).toEqual([good.body.id]);
  });
});
