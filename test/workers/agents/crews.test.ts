/**
 * Crews and durability: a manager agent delegating to two agents at once (every step of every agent
 * in the run's events), a flow as a tool (a child run the node waits for), eviction mid-loop (the
 * node resumes from its last persisted step and never repeats a successful tool call), another
 * tenant's agent, and provider failover in the middle of a streamed tool call.
 */
import { abortAllDurableObjects } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { eventually } from '../../support/shared/time';
import { call, expectJson } from '../../support/workers/http';
import { signup } from '../../support/workers/tenants';
import {
  agentFlow,
  createAgent,
  events,
  inline,
  MODELS,
  newTag,
  ofType,
  received,
  runUntil,
  scriptedProvider,
  startRun,
  tasks,
} from './_support';

describe('crews', () => {
  it('a manager delegates to two agents concurrently; every step of every agent is in the run events', async () => {
    const t = await signup('crew-manager');
    const tag = newTag();
    await scriptedProvider(t, tag, 'mgr', [
      {
        text: 'Splitting the work.',
        toolCalls: [
          { id: 'r', name: 'Researcher', arguments: { task: 'Find two facts' } },
          { id: 'w', name: 'Writer', arguments: { task: 'Draft the post' } },
        ],
      },
      { text: 'Report: facts found, draft written.' },
    ]);
    // Both delegates' first calls wait at one barrier: only concurrent delegation gets past it.
    await scriptedProvider(t, tag, 'res', [{ barrier: 'both', parties: 2, text: 'Facts: A and B.' }]);
    await scriptedProvider(t, tag, 'wri', [
      { barrier: 'both', parties: 2, toolCalls: [{ id: 'wt', name: 'createTask', arguments: { title: 'Publish draft' } }] },
      { text: 'Draft written; publishing is on the list.' },
    ]);
    const researcher = await createAgent(t, { name: 'Researcher', goal: 'Find facts', providers: ['res'], model: 'fast' });
    const writer = await createAgent(t, {
      name: 'Writer',
      goal: 'Write posts',
      providers: ['wri'],
      model: 'fast',
      tools: [{ type: 'builtin', name: 'createTask' }],
    });
    const manager = await createAgent(t, {
      name: 'Manager',
      goal: 'Deliver a post',
      providers: ['mgr'],
      model: 'fast',
      tools: [
        { type: 'agent', agentId: researcher.id },
        { type: 'agent', agentId: writer.id },
      ],
    });
    const flowId = await agentFlow(t, { agentId: manager.id, prompt: 'Write about {{ input.topic }}', timeoutMs: 5000 });
    const run = await runUntil(t, (await startRun(t, flowId, { topic: 'edges' })).id);

    expect(run.status, JSON.stringify(run.nodes[0].error)).toBe('succeeded');
    expect(run.nodes[0].output).toMatchObject({ text: 'Report: facts found, draft written.', steps: 2 });
    expect((await tasks(t)).map((x) => x.title)).toEqual(['Publish draft']);

    const ev = await events(run.id);
    const modelSteps = ofType(ev, 'node.step', 'agent').filter((e) => e.data.kind === 'model' && e.data.status === 'finished');
    expect(modelSteps.map((e) => [e.data.via ?? 'manager', e.data.step]).sort()).toEqual(
      [
        ['manager', 1],
        ['manager', 2],
        ['r', 1],
        ['w', 1],
        ['w', 2],
      ].sort(),
    );
    expect(ofType(ev, 'node.tool_call').map((e) => [e.data.toolCallId, e.data.toolName, e.data.via ?? null])).toEqual([
      ['r', 'Researcher', null],
      ['w', 'Writer', null],
      ['w>wt', 'createTask', 'w'],
    ]);
    expect(
      ofType(ev, 'node.tool_result')
        .map((e) => e.data.toolCallId)
        .sort(),
    ).toEqual(['r', 'w', 'w>wt']);
    // A delegate's text streams with `via`, so a chat shows only the manager's own words as its answer.
    const own = ofType(ev, 'node.delta', 'agent').filter((e) => e.data.via === undefined);
    expect(own.map((e) => e.data.text).join('')).toBe('Splitting the work.Report: facts found, draft written.');
    expect(ofType(ev, 'node.delta', 'agent').some((e) => e.data.via === 'r')).toBe(true);

    // The delegates' answers are the manager's tool results.
    const toolMessages = (await received(tag, 'mgr'))[1]!.body.messages.filter((m: any) => m.role === 'tool');
    expect(toolMessages.map((m: any) => [m.tool_call_id, JSON.parse(m.content).output.text])).toEqual([
      ['r', 'Facts: A and B.'],
      ['w', 'Draft written; publishing is on the list.'],
    ]);
    // Every model call of the crew is costed in the node and the run.
    const usage = modelSteps.reduce((s, e) => s + e.data.usage.inputTokens, 0);
    expect(run.nodes[0].usage.inputTokens).toBe(usage);
    expect(run.usage.inputTokens).toBe(usage);
    expect(run.nodes[0].output.usage.inputTokens).toBe(usage);
  });

  it("a delegate's approval parks the manager's node under a qualified call id; answered, the crew finishes without repeating a call", async () => {
    const t = await signup('crew-nested-approval');
    const task = await expectJson(await call('/v1/tasks', { token: t.accessToken, body: { title: 'Stale' } }), 201);
    const tag = newTag();
    await scriptedProvider(t, tag, 'mgr', [
      { toolCalls: [{ id: 'c', name: 'Cleaner', arguments: { task: 'remove stale tasks' } }] },
      { text: 'Cleaned.' },
    ]);
    await scriptedProvider(t, tag, 'cln', [
      { toolCalls: [{ id: 'd1', name: 'deleteTask', arguments: { taskId: task.id } }] },
      { text: 'Removed one.' },
    ]);
    const cleaner = await createAgent(t, {
      name: 'Cleaner',
      providers: ['cln'],
      model: 'fast',
      tools: [{ type: 'builtin', name: 'deleteTask' }],
    });
    const manager = await createAgent(t, {
      name: 'Manager',
      providers: ['mgr'],
      model: 'fast',
      tools: [{ type: 'agent', agentId: cleaner.id }],
    });
    const runId = (await startRun(t, await agentFlow(t, { agentId: manager.id, prompt: 'tidy up' }))).id;
    await runUntil(t, runId, ['waiting']);
    expect(ofType(await events(runId), 'node.waiting', 'agent').at(-1)!.data.toolCalls).toEqual([
      { toolCallId: 'c>d1', toolName: 'deleteTask', kind: 'approval' },
    ]);
    await expectJson(
      await call(`/v1/runs/${runId}/signal`, {
        token: t.accessToken,
        body: { node: 'agent', payload: { toolCallId: 'c>d1', approved: true } },
      }),
    );
    const run = await runUntil(t, runId);
    expect(run.status).toBe('succeeded');
    expect(run.nodes[0].output.text).toBe('Cleaned.');
    expect(await tasks(t)).toEqual([]);
    expect((await received(tag, 'cln')).length).toBe(2);
    expect((await received(tag, 'mgr')).length).toBe(2);
    const result = ofType(await events(runId), 'node.tool_result').map((e) => [e.data.toolCallId, e.data.via ?? null]);
    expect(result).toEqual([
      ['c>d1', 'c'],
      ['c', null],
    ]);
  });

  it('a sequential crew is a chain of agent nodes: the second reads the first one’s answer', async () => {
    const t = await signup('crew-chain');
    const tag = newTag();
    await scriptedProvider(t, tag, 'one', [{ text: 'Outline: intro, body.' }]);
    await scriptedProvider(t, tag, 'two', [{ text: 'Final text.' }]);
    const definition = {
      nodes: [
        { id: 'plan', type: 'agent', config: { agent: inline('one', []), prompt: 'Plan it' } },
        { id: 'write', type: 'agent', config: { agent: inline('two', []), prompt: 'Write from: {{ nodes.plan.output.text }}' } },
      ],
      edges: [{ from: 'plan', to: 'write' }],
    };
    const flowId = (await expectJson(await call('/v1/flows', { token: t.accessToken, body: { name: 'chain', definition } }), 201)).id;
    const run = await runUntil(t, (await startRun(t, flowId)).id);
    expect(run.status).toBe('succeeded');
    expect(run.output.write.text).toBe('Final text.');
    expect((await received(tag, 'two'))[0]!.body.messages.at(-1)).toEqual({ role: 'user', content: 'Write from: Outline: intro, body.' });
  });

  it('a flow as a tool runs as a child run; the node waits for it and the model gets its output', async () => {
    const t = await signup('crew-flow-tool');
    const tag = newTag();
    const definition = {
      input: { type: 'object', properties: { n: { type: 'number' } }, required: ['n'] },
      nodes: [{ id: 'double', type: 'transform', config: { expression: 'input.n * 2' } }],
    };
    const child = await expectJson(
      await call('/v1/flows', { token: t.accessToken, body: { name: 'Doubler', description: 'Doubles n', definition } }),
      201,
    );
    await scriptedProvider(t, tag, 'main', [{ toolCalls: [{ id: 'f1', name: 'Doubler', arguments: { n: 21 } }] }, { text: 'It is 42.' }]);
    const flowId = await agentFlow(t, { agent: inline('main', [{ type: 'flow', flowId: child.id }]), prompt: 'double 21' });
    const runId = (await startRun(t, flowId)).id;
    const run = await runUntil(t, runId);
    expect(run.status, JSON.stringify(run.nodes[0].error)).toBe('succeeded');
    const first = (await received(tag, 'main'))[0]!;
    expect(first.body.tools[0].function).toMatchObject({ name: 'Doubler', description: 'Doubles n', parameters: definition.input });
    const tool = (await received(tag, 'main'))[1]!.body.messages.find((m: any) => m.role === 'tool');
    expect(JSON.parse(tool.content)).toEqual({ output: { double: 42 } });
    const children = (await expectJson(await call('/v1/runs?limit=100', { token: t.accessToken }))).data.filter(
      (r: any) => r.parentRunId === runId,
    );
    expect(children).toEqual([expect.objectContaining({ flowId: child.id, status: 'succeeded' })]);
    expect(ofType(await events(runId), 'node.waiting', 'agent')[0]!.data.runs).toEqual([{ key: 't:f1', runId: children[0].id }]);
  });

  it("another tenant's agent is not found: the node fails and nothing of it runs", async () => {
    const a = await signup('crew-iso-a');
    const b = await signup('crew-iso-b');
    const tag = newTag();
    await scriptedProvider(b, tag, 'main', [{ text: 'B speaking' }]);
    const theirs = await createAgent(b, { providers: ['main'], model: 'fast' });
    const flowId = await agentFlow(a, { agentId: theirs.id, prompt: 'hi' });
    const run = await runUntil(a, (await startRun(a, flowId)).id);
    expect(run.status).toBe('failed');
    expect(run.nodes[0].error.message).toMatch(new RegExp(`agent ${theirs.id} not found`));
    expect(await received(tag)).toEqual([]);
  });
});

describe('durability', () => {
  it('evicted mid-loop: the node resumes from its last persisted step and does not repeat the tool call', async () => {
    const t = await signup('agent-evict');
    const tag = newTag();
    await scriptedProvider(t, tag, 'main', [
      { toolCalls: [{ id: 'e1', name: 'createTask', arguments: { title: 'Exactly once' } }] },
      { step: 'hang' },
      { text: 'Created it.' },
    ]);
    const flowId = await agentFlow(t, { agent: inline('main', [{ type: 'builtin', name: 'createTask' }]), prompt: 'add it' });
    const runId = (await startRun(t, flowId)).id;
    // The second model call is in flight (the tool call before it succeeded) when the object dies.
    await eventually(async () => ((await received(tag, 'main')).length >= 2 ? true : undefined), { what: 'the second model call' });
    await abortAllDurableObjects();
    const run = await runUntil(t, runId);

    expect(run.status).toBe('succeeded');
    expect(run.nodes[0].output.text).toBe('Created it.');
    const all = await tasks(t);
    expect(all.map((x) => x.title)).toEqual(['Exactly once']);
    const ev = await events(runId);
    expect(ofType(ev, 'node.tool_result').map((e) => e.data.toolCallId)).toEqual(['e1']);
    expect(ofType(ev, 'node.started', 'agent').some((e) => e.data.resumed === true)).toBe(true);
    // The interrupted model step starts over: consumers discard what it had streamed.
    expect(ofType(ev, 'node.delta', 'agent').some((e) => e.data.reset === true && e.data.reason === 'retry')).toBe(true);
    // Three model requests (the first is replayed from storage): the resumed one carries the stored result.
    const reqs = await received(tag, 'main');
    expect(reqs).toHaveLength(3);
    const tool = reqs[2]!.body.messages.find((m: any) => m.role === 'tool');
    expect(JSON.parse(tool.content).output.id).toBe(all[0]!.id);
    expect(reqs[2]!.headers['idempotency-key']).toBe(reqs[1]!.headers['idempotency-key']);
  });

  it('a provider failing mid-stream fails over to the next: the tool call comes from the one that finished', async () => {
    const t = await signup('agent-failover');
    const tag = newTag();
    await scriptedProvider(t, tag, 'flaky', [
      { step: 'drop', text: 'Let me', toolCalls: [{ id: 'x1', name: 'createTask', arguments: { title: 'Dropped' } }] },
      { step: '503' },
    ]);
    await scriptedProvider(t, tag, 'steady', [
      { text: 'Adding.', toolCalls: [{ id: 'y1', name: 'createTask', arguments: { title: 'Kept' } }] },
      { text: 'Done.' },
    ]);
    const flowId = await agentFlow(t, {
      agent: { ...inline('flaky', [{ type: 'builtin', name: 'createTask' }]), providers: ['flaky', 'steady'] },
      prompt: 'add',
    });
    const run = await runUntil(t, (await startRun(t, flowId)).id);
    expect(run.status, JSON.stringify(run.nodes[0].error)).toBe('succeeded');
    expect((await tasks(t)).map((x) => x.title)).toEqual(['Kept']);
    const ev = await events(run.id);
    expect(ofType(ev, 'node.delta', 'agent').some((e) => e.data.reset === true && e.data.provider === 'steady')).toBe(true);
    expect(ofType(ev, 'node.step').find((e) => e.data.status === 'finished')!.data.usage).toMatchObject({
      provider: 'steady',
      model: MODELS.fast.model,
    });
  });
});
