// The tool node: a flow invokes a registered tool (Python and JavaScript) in the real tool runner.
import { describe, expect, it } from 'vitest';
import { call } from '../../support/workers/http';
import { signup } from '../../support/workers/tenants';
import { createTool, JS_HELLO } from '../tools/_support';
import { createFlow, node, startRun, waitFor } from './_support';

describe('tool node', () => {
  it('runs a Python tool and a pinned JavaScript tool version from a flow, wiring input by expression', async () => {
    const owner = await signup('toolnode');
    const py = await createTool(owner);
    const js = await createTool(owner, { runtime: 'node', code: JS_HELLO });
    const flowId = await createFlow(owner, {
      input: { type: 'object', properties: { who: { type: 'string' } }, required: ['who'] },
      nodes: [
        { id: 'py', type: 'tool', config: { toolId: py.id, input: '{"name": input.who}' } },
        { id: 'js', type: 'tool', config: { toolId: js.id, version: 1, input: '{"name": nodes.py.output.greeting}' } },
      ],
      edges: [{ from: 'py', to: 'js' }],
    });
    const done = await waitFor(owner, (await startRun(owner, flowId, { who: 'Ana' })).id, undefined, 30_000);
    expect(done.status).toBe('succeeded');
    expect(node(done, 'py').output).toEqual({ greeting: 'Hello, Ana!' });
    expect(node(done, 'js').output).toEqual({ greeting: 'Hello, Hello, Ana!!' });
  });

  it('an output that breaks the tool outputSchema fails the node as invalid_output, after its retries', async () => {
    const owner = await signup('toolbad');
    const bad = await createTool(owner, { code: 'def main(input):\n    return {"nope": 1}\n' });
    const flowId = await createFlow(owner, {
      nodes: [{ id: 't', type: 'tool', config: { toolId: bad.id, input: '{"name": "x"}' }, retry: { maxAttempts: 2, backoffMs: 10 } }],
      edges: [],
    });
    const done = await waitFor(owner, (await startRun(owner, flowId)).id, undefined, 30_000);
    expect(done.status).toBe('failed');
    expect(node(done, 't')).toMatchObject({ status: 'failed', attempts: 2, error: { kind: 'invalid_output' } });
  });

  it('a tool of another tenant cannot be used', async () => {
    const a = await signup('toolA');
    const b = await signup('toolB');
    const tool = await createTool(a);
    const flowId = await createFlow(b, {
      nodes: [{ id: 't', type: 'tool', config: { toolId: tool.id, input: '{"name": "x"}' } }],
      edges: [],
    });
    const done = await waitFor(b, (await startRun(b, flowId)).id, undefined, 30_000);
    expect(done.status).toBe('failed');
    expect(node(done, 't').error.message).toMatch(/not found/i);
    expect((await call(`/v1/tools/${tool.id}`, { token: b.accessToken })).status).toBe(404);
  });
});
