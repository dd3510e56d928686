/**
 * Calls that park the agent node: approvals (granted and denied: a denial goes back to the model as
 * the tool's result), client-side tools (askUser), and what a signal may and may not answer.
 */
import { describe, expect, it } from 'vitest';
import { call, expectJson, expectProblem } from '../../support/workers/http';
import { signup } from '../../support/workers/tenants';
import {
  agentFlow,
  events,
  getRun,
  inline,
  newTag,
  ofType,
  received,
  runUntil,
  scriptedProvider,
  signal,
  startRun,
  tasks,
} from './_support';

async function taskTitled(t: Parameters<typeof tasks>[0], title: string) {
  return expectJson(await call('/v1/tasks', { token: t.accessToken, body: { title } }), 201);
}

describe('agent node: approvals', () => {
  it('deleteTask needs an approval: the run waits; approved, the task is deleted and the model gets the result', async () => {
    const t = await signup('agent-approve');
    const task = await taskTitled(t, 'Old junk');
    const tag = newTag();
    await scriptedProvider(t, tag, 'main', [
      { toolCalls: [{ id: 'd1', name: 'deleteTask', arguments: { taskId: task.id } }] },
      { text: 'Deleted.' },
    ]);
    const flowId = await agentFlow(t, { agent: inline('main', [{ type: 'builtin', name: 'deleteTask' }]), prompt: 'delete the junk' });
    const runId = (await startRun(t, flowId)).id;
    const parked = await runUntil(t, runId, ['waiting']);
    expect(parked.nodes[0].status).toBe('waiting');
    const ev = await events(runId);
    expect(ofType(ev, 'node.tool_call')[0]!.data).toMatchObject({ toolCallId: 'd1', requiresApproval: true, clientSide: false });
    expect(ofType(ev, 'node.waiting', 'agent').at(-1)!.data).toMatchObject({
      forSignal: true,
      toolCalls: [{ toolCallId: 'd1', toolName: 'deleteTask', kind: 'approval' }],
    });
    expect(ofType(ev, 'node.tool_result')).toEqual([]);
    expect((await tasks(t)).map((x) => x.id)).toEqual([task.id]);

    // A wrong call id or the wrong kind of answer is refused; the node keeps waiting.
    await expectProblem(await signal(t, runId, { toolCallId: 'nope', approved: true }), 409);
    const wrongKind = await expectProblem(await signal(t, runId, { toolCallId: 'd1', output: 'yes' }), 422);
    expect(wrongKind.errors[0].path).toBe('payload.approved');

    await expectJson(await signal(t, runId, { toolCallId: 'd1', approved: true }));
    await expectProblem(await signal(t, runId, { toolCallId: 'd1', approved: true }), 409);
    const done = await runUntil(t, runId);
    expect(done.status).toBe('succeeded');
    expect(done.nodes[0].output.text).toBe('Deleted.');
    expect(await tasks(t)).toEqual([]);
    const after = await events(runId);
    expect(ofType(after, 'node.signalled')[0]!.data).toMatchObject({
      toolCallId: 'd1',
      payload: { kind: 'approval', approved: true },
      by: { actorId: t.userId },
    });
    expect(ofType(after, 'node.tool_result')[0]!.data).toMatchObject({ toolCallId: 'd1', output: { deleted: true, taskId: task.id } });
    // The model call before the park was not repeated when the node ran again.
    expect(await received(tag, 'main')).toHaveLength(2);
    expect(ofType(after, 'node.started', 'agent').map((e) => e.data)).toEqual([{ attempt: 1 }, { attempt: 1, resumed: true }]);
  });

  it('denied: nothing is deleted and the denial (with its reason) is the tool result the model sees', async () => {
    const t = await signup('agent-deny');
    const task = await taskTitled(t, 'Keep me');
    const tag = newTag();
    await scriptedProvider(t, tag, 'main', [
      { toolCalls: [{ id: 'd2', name: 'deleteTask', arguments: { taskId: task.id } }] },
      { text: 'Understood, I kept it.' },
    ]);
    const flowId = await agentFlow(t, { agent: inline('main', [{ type: 'builtin', name: 'deleteTask' }]), prompt: 'delete it' });
    const runId = (await startRun(t, flowId)).id;
    await runUntil(t, runId, ['waiting']);
    await expectJson(await signal(t, runId, { toolCallId: 'd2', approved: false, reason: 'I still need it' }));
    const done = await runUntil(t, runId);
    expect(done.status).toBe('succeeded');
    expect((await tasks(t)).map((x) => x.id)).toEqual([task.id]);
    expect(ofType(await events(runId), 'node.tool_result')[0]!.data).toMatchObject({
      toolCallId: 'd2',
      denied: { reason: 'I still need it' },
    });
    const toolMessage = (await received(tag, 'main'))[1]!.body.messages.find((m: any) => m.role === 'tool');
    expect(JSON.parse(toolMessage.content)).toEqual({ denied: { reason: 'I still need it' } });
  });

  it('a step with one approved and one plain call: the plain one runs at once, the run continues when the parked one is answered', async () => {
    const t = await signup('agent-mixed');
    const task = await taskTitled(t, 'Gone soon');
    const tag = newTag();
    await scriptedProvider(t, tag, 'main', [
      {
        toolCalls: [
          { id: 'p1', name: 'createTask', arguments: { title: 'Replacement' } },
          { id: 'p2', name: 'deleteTask', arguments: { taskId: task.id } },
        ],
      },
      { text: 'Swapped.' },
    ]);
    const flowId = await agentFlow(t, {
      agent: inline('main', [
        { type: 'builtin', name: 'createTask' },
        { type: 'builtin', name: 'deleteTask' },
      ]),
      prompt: 'swap',
    });
    const runId = (await startRun(t, flowId)).id;
    await runUntil(t, runId, ['waiting']);
    expect((await tasks(t)).map((x) => x.title).sort()).toEqual(['Gone soon', 'Replacement']);
    await expectJson(await signal(t, runId, { toolCallId: 'p2', approved: true }));
    expect((await runUntil(t, runId)).status).toBe('succeeded');
    expect((await tasks(t)).map((x) => x.title)).toEqual(['Replacement']);
    // The plain call ran once (replayed, not repeated, after the signal).
    expect(
      ofType(await events(runId), 'node.tool_result')
        .map((e) => e.data.toolCallId)
        .sort(),
    ).toEqual(['p1', 'p2']);
  });
});

describe('agent node: cancel while parked', () => {
  it('cancelling a parked run ends it; the parked call is never made and later answers are refused', async () => {
    const t = await signup('agent-cancel');
    const task = await taskTitled(t, 'Survivor');
    const tag = newTag();
    await scriptedProvider(t, tag, 'main', [{ toolCalls: [{ id: 'k1', name: 'deleteTask', arguments: { taskId: task.id } }] }]);
    const flowId = await agentFlow(t, { agent: inline('main', [{ type: 'builtin', name: 'deleteTask' }]), prompt: 'delete' });
    const runId = (await startRun(t, flowId)).id;
    await runUntil(t, runId, ['waiting']);
    await expectJson(await call(`/v1/runs/${runId}/cancel`, { token: t.accessToken, body: { reason: 'changed my mind' } }));
    expect((await getRun(t, runId)).status).toBe('cancelled');
    await expectProblem(await signal(t, runId, { toolCallId: 'k1', approved: true }), 409);
    expect((await tasks(t)).map((x) => x.id)).toEqual([task.id]);
  });
});

describe('agent node: client-side tools', () => {
  it('askUser parks for the client; its answer is the tool result', async () => {
    const t = await signup('agent-ask');
    const tag = newTag();
    await scriptedProvider(t, tag, 'main', [
      { toolCalls: [{ id: 'q1', name: 'askUser', arguments: { question: 'Which one?', options: ['Milk', 'Bread'] } }] },
      { toolCalls: [{ id: 'q2', name: 'createTask', arguments: { title: 'Bread' } }] },
      { text: 'Added Bread.' },
    ]);
    const flowId = await agentFlow(t, {
      agent: inline('main', [
        { type: 'builtin', name: 'askUser' },
        { type: 'builtin', name: 'createTask' },
      ]),
      prompt: 'add the thing',
    });
    const runId = (await startRun(t, flowId)).id;
    await runUntil(t, runId, ['waiting']);
    const ev = await events(runId);
    expect(ofType(ev, 'node.tool_call')[0]!.data).toMatchObject({
      toolCallId: 'q1',
      toolName: 'askUser',
      clientSide: true,
      requiresApproval: false,
    });
    expect(ofType(ev, 'node.waiting', 'agent').at(-1)!.data.toolCalls).toEqual([{ toolCallId: 'q1', toolName: 'askUser', kind: 'client' }]);
    await expectProblem(await signal(t, runId, { toolCallId: 'q1', approved: true }), 422);
    await expectJson(await signal(t, runId, { toolCallId: 'q1', output: { answer: 'Bread' } }));
    const done = await runUntil(t, runId);
    expect(done.status).toBe('succeeded');
    expect((await tasks(t)).map((x) => x.title)).toEqual(['Bread']);
    const second = (await received(tag, 'main'))[1]!;
    expect(JSON.parse(second.body.messages.find((m: any) => m.role === 'tool').content)).toEqual({ output: { answer: 'Bread' } });
    expect((await getRun(t, runId)).nodes[0].output.messages.map((m: any) => m.role)).toEqual([
      'user',
      'assistant',
      'tool',
      'assistant',
      'tool',
      'assistant',
    ]);
  });
});
