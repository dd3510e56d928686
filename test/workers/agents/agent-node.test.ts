/**
 * The agent node in real runs against the scripted fake provider: built-in task tools through the task
 * service (a created task appears in GET /v1/tasks), events per step and call, usage per step, node and
 * run, what the provider receives (tools, tool_calls, tool results), maxSteps, and the initiator's role.
 */
import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import { initiatorOf, loadVersion, startRun as startRunInternal } from '../../../src/flows/runs-service';
import { addMember, signup } from '../../support/workers/tenants';
import { createTool } from '../tools/_support';
import { agentFlow, events, getRun, inline, newTag, ofType, received, runUntil, scriptedProvider, startRun, tasks } from './_support';

describe('agent node: tools', () => {
  it('createTask through the task service: the task is in GET /v1/tasks, every step is in the run events', async () => {
    const t = await signup('agent-create');
    const tag = newTag();
    await scriptedProvider(t, tag, 'main', [
      { text: 'Adding it.', toolCalls: [{ id: 'call_a1', name: 'createTask', arguments: { title: 'Buy milk', priority: 2 } }] },
      { text: 'Added "Buy milk".' },
    ]);
    const flowId = await agentFlow(t, {
      agent: inline('main', [{ type: 'builtin', name: 'createTask' }]),
      prompt: 'Remind me: {{ input.what }}',
    });
    const run = await runUntil(t, (await startRun(t, flowId, { what: 'buy milk' })).id);

    expect(run.status).toBe('succeeded');
    const out = run.nodes[0].output;
    expect(out).toMatchObject({ text: 'Added "Buy milk".', steps: 2 });
    expect(out.messages.map((m: any) => m.role)).toEqual(['user', 'assistant', 'tool', 'assistant']);
    expect(out.messages[0]).toEqual({ role: 'user', content: 'Remind me: buy milk' });
    const created = JSON.parse(out.messages[2].content).output;
    expect(created).toMatchObject({ title: 'Buy milk', priority: 2, status: 'open' });
    expect((await tasks(t)).map((x) => [x.id, x.title])).toEqual([[created.id, 'Buy milk']]);

    // Usage per step (node.step finished), summed per node and per run.
    const ev = await events(run.id);
    const stepUsage = ofType(ev, 'node.step', 'agent')
      .filter((e) => e.data.kind === 'model' && e.data.status === 'finished')
      .map((e) => e.data.usage);
    expect(stepUsage).toHaveLength(2);
    const sum = (k: string) => stepUsage.reduce((s: number, u: any) => s + u[k], 0);
    expect(sum('inputTokens')).toBeGreaterThan(0);
    expect(run.nodes[0].usage).toEqual({
      inputTokens: sum('inputTokens'),
      outputTokens: sum('outputTokens'),
      costUsd: expect.closeTo(sum('costUsd'), 9),
    });
    expect(run.usage).toEqual(run.nodes[0].usage);
    expect(out.usage).toEqual(run.nodes[0].usage);

    const kinds = ev.filter(
      (e) => e.nodeId === 'agent' && e.type.startsWith('node.') && e.type !== 'node.delta' && e.type !== 'node.usage',
    );
    expect(kinds.map((e) => [e.type, e.data?.kind ?? e.data?.toolName ?? null, e.data?.status ?? null])).toEqual([
      ['node.started', null, null],
      ['node.step', 'model', 'started'],
      ['node.step', 'model', 'finished'],
      ['node.tool_call', 'createTask', null],
      ['node.step', 'tools', 'started'],
      ['node.tool_result', 'createTask', null],
      ['node.step', 'tools', 'finished'],
      ['node.step', 'model', 'started'],
      ['node.step', 'model', 'finished'],
      ['node.succeeded', null, null],
    ]);
    expect(ofType(ev, 'node.tool_call')[0]!.data).toEqual({
      step: 1,
      toolCallId: 'call_a1',
      toolName: 'createTask',
      input: { title: 'Buy milk', priority: 2 },
      requiresApproval: false,
      clientSide: false,
    });
    expect(ofType(ev, 'node.tool_result')[0]!.data).toMatchObject({ step: 1, toolCallId: 'call_a1', output: { id: created.id } });
    expect(
      ofType(ev, 'node.delta', 'agent')
        .map((e) => e.data.text)
        .join(''),
    ).toBe('Adding it.Added "Buy milk".');

    // On the wire: the tools offered, the assistant's call and the tool's result in the second request.
    const [first, second] = await received(tag, 'main');
    expect(first!.body.tools.map((x: any) => x.function.name)).toEqual(['createTask']);
    expect(first!.body.tools[0].function.parameters).toMatchObject({ type: 'object', required: ['title'] });
    expect(first!.body.messages[0]).toMatchObject({ role: 'system' });
    expect(second!.body.messages.slice(2)).toEqual([
      {
        role: 'assistant',
        content: 'Adding it.',
        tool_calls: [{ id: 'call_a1', type: 'function', function: { name: 'createTask', arguments: '{"title":"Buy milk","priority":2}' } }],
      },
      { role: 'tool', tool_call_id: 'call_a1', content: expect.stringContaining('"title":"Buy milk"') },
    ]);
    expect(first!.headers['idempotency-key']).toBe(`${run.id}:agent:m1`);
  });

  it('parallel tool calls of one step: both run, both results go back in call order', async () => {
    const t = await signup('agent-parallel');
    const tag = newTag();
    await scriptedProvider(t, tag, 'main', [
      {
        toolCalls: [
          { id: 'c1', name: 'createTask', arguments: { title: 'First' } },
          { id: 'c2', name: 'createTask', arguments: { title: 'Second' } },
          { id: 'c3', name: 'listTasks', arguments: { q: 'nothing-matches-this' } },
        ],
      },
      { text: 'Both added.' },
    ]);
    const flowId = await agentFlow(t, {
      agent: inline('main', [
        { type: 'builtin', name: 'createTask' },
        { type: 'builtin', name: 'listTasks' },
      ]),
      prompt: 'Add two',
    });
    const run = await runUntil(t, (await startRun(t, flowId)).id);
    expect(run.status).toBe('succeeded');
    expect((await tasks(t)).map((x) => x.title).sort()).toEqual(['First', 'Second']);
    const second = (await received(tag, 'main'))[1]!;
    expect(second.body.messages.filter((m: any) => m.role === 'tool').map((m: any) => m.tool_call_id)).toEqual(['c1', 'c2', 'c3']);
    const ev = await events(run.id);
    expect(
      ofType(ev, 'node.tool_result')
        .map((e) => e.data.toolCallId)
        .sort(),
    ).toEqual(['c1', 'c2', 'c3']);
    // All three calls were announced before any result (one step, not three).
    const firstResult = ev.findIndex((e) => e.type === 'node.tool_result');
    expect(ev.filter((e, i) => e.type === 'node.tool_call' && i < firstResult)).toHaveLength(3);
  });

  it('a bad call (unknown tool, invalid input) is an error result the model sees, not a failed node', async () => {
    const t = await signup('agent-badcall');
    const tag = newTag();
    await scriptedProvider(t, tag, 'main', [
      {
        toolCalls: [
          { id: 'u1', name: 'launchRocket', arguments: {} },
          { id: 'u2', name: 'createTask', arguments: { priority: 9 } },
          { id: 'u3', name: 'createTask', arguments: '{not json' },
        ],
      },
      { text: 'Sorry.' },
    ]);
    const flowId = await agentFlow(t, { agent: inline('main', [{ type: 'builtin', name: 'createTask' }]), prompt: 'x' });
    const run = await runUntil(t, (await startRun(t, flowId)).id);
    expect(run.status).toBe('succeeded');
    const results = ofType(await events(run.id), 'node.tool_result').map((e) => [e.data.toolCallId, e.data.error?.kind]);
    expect(results.sort()).toEqual([
      ['u1', 'unknown_tool'],
      ['u2', 'invalid_input'],
      ['u3', 'invalid_input'],
    ]);
    expect(await tasks(t)).toEqual([]);
  });

  it('a tenant tool runs in the sandbox: the model sees its schema and gets its output; a non-object schema is wrapped', async () => {
    const t = await signup('agent-tenant-tool');
    const greet = await createTool(t, { name: 'greet', description: 'Greets someone' });
    const shout = await createTool(t, {
      name: 'shout.it',
      code: 'def main(input):\n    return input.upper()\n',
      inputSchema: { type: 'string' },
      outputSchema: null,
    });
    const tag = newTag();
    await scriptedProvider(t, tag, 'main', [
      {
        toolCalls: [
          { id: 'g1', name: 'greet', arguments: { name: 'Ana' } },
          { id: 's1', name: 'shout_it', arguments: { input: 'hey' } },
        ],
      },
      { text: 'Greeted.' },
    ]);
    const flowId = await agentFlow(t, {
      agent: inline('main', [
        { type: 'tool', toolId: greet.id },
        { type: 'tool', toolId: shout.id, version: 1 },
      ]),
      prompt: 'greet Ana',
    });
    const run = await runUntil(t, (await startRun(t, flowId)).id);
    expect(run.status, JSON.stringify(run.nodes[0].error)).toBe('succeeded');
    const [first, second] = await received(tag, 'main');
    expect(first!.body.tools.map((x: any) => x.function)).toEqual([
      { name: 'greet', description: 'Greets someone', parameters: greet.inputSchema },
      { name: 'shout_it', description: '', parameters: { type: 'object', properties: { input: { type: 'string' } }, required: ['input'] } },
    ]);
    const results = second!.body.messages.filter((m: any) => m.role === 'tool').map((m: any) => JSON.parse(m.content));
    expect(results).toEqual([{ output: { greeting: 'Hello, Ana!' } }, { output: 'HEY' }]);
  });

  it('maxSteps bounds the loop: a model that keeps calling tools fails the node', async () => {
    const t = await signup('agent-maxsteps');
    const tag = newTag();
    const again = { toolCalls: [{ name: 'listTasks', arguments: {} }] };
    await scriptedProvider(t, tag, 'main', [again, again, again]);
    const flowId = await agentFlow(t, { agent: inline('main', [{ type: 'builtin', name: 'listTasks' }], { maxSteps: 2 }), prompt: 'loop' });
    const run = await runUntil(t, (await startRun(t, flowId)).id);
    expect(run.status).toBe('failed');
    expect(run.nodes[0].error.message).toMatch(/maxSteps \(2\)/);
    expect(await received(tag, 'main')).toHaveLength(2);
  });

  it('the node timeout bounds the whole loop: a model call that never answers fails the node as timeout', async () => {
    const t = await signup('agent-timeout');
    const tag = newTag();
    await scriptedProvider(t, tag, 'main', [{ toolCalls: [{ name: 'listTasks', arguments: {} }] }, { step: 'hang' }]);
    const flowId = await agentFlow(
      t,
      { agent: inline('main', [{ type: 'builtin', name: 'listTasks' }]), prompt: 'x' },
      { timeoutMs: 1500 },
    );
    const run = await runUntil(t, (await startRun(t, flowId)).id);
    expect(run.status).toBe('failed');
    expect(run.nodes[0].error).toMatchObject({ kind: 'timeout' });
    // The first step was recorded before the deadline: its usage counts.
    expect(run.usage.inputTokens).toBeGreaterThan(0);
  });

  it('a viewer-initiated run cannot write: the tool result is forbidden and nothing changes', async () => {
    const t = await signup('agent-viewer');
    const viewer = await addMember(t, 'viewer');
    const tag = newTag();
    await scriptedProvider(t, tag, 'main', [
      { toolCalls: [{ id: 'v1', name: 'createTask', arguments: { title: 'Sneaky' } }] },
      { text: 'I could not.' },
    ]);
    const flowId = await agentFlow(t, { agent: inline('main', [{ type: 'builtin', name: 'createTask' }]), prompt: 'add' });
    // A viewer cannot start runs over HTTP; the assistant starts turns for any member with their role.
    const version = (await loadVersion(env, t.tenantId, flowId))!;
    const caller = { actor: { type: 'user' as const, id: viewer.userId }, role: 'viewer' as const, credential: { id: 'cred' } };
    const started = await startRunInternal(env, {
      tenantId: t.tenantId,
      createdBy: viewer.userId,
      version,
      input: {},
      initiator: initiatorOf(caller),
    });
    if ('code' in started) throw new Error('start failed');
    const run = await runUntil(t, started.runId);
    expect(run.status).toBe('succeeded');
    expect(ofType(await events(run.id), 'node.tool_result')[0]!.data).toMatchObject({ toolCallId: 'v1', error: { kind: 'forbidden' } });
    expect(await tasks(t)).toEqual([]);
    expect((await getRun(t, run.id)).nodes[0].output.text).toBe('I could not.');
  });
});
