// The UI message stream layer against the real `ai` package: run events → chunks → what ai@6 and ai@7 clients build.
import { describe, expect, it } from 'vitest';
import { initialMapperState, type MapperState, mapRunEvent } from '../../../src/chat/run-chunks';
import { forClient, MessageBuilder, type UIChunk } from '../../../src/chat/ui-message';
import type { RunEvent } from '../../../src/flows/run-model';
import { type AiVersion, collect, plain, sseOf, transportOf } from '../../support/shared/ai-client';

const NODE = 'assistant';
let seq = 0;
const ev = (type: string, data: unknown, nodeId: string | null = NODE): RunEvent => ({
  seq: ++seq,
  type,
  nodeId,
  data,
  at: new Date(0).toISOString(),
});

function mapAll(s: MapperState, events: RunEvent[]): UIChunk[] {
  return events.flatMap((e) => mapRunEvent(s, e, NODE).chunks);
}

/** The chunks as a client of `version` receives them, through that version's DefaultChatTransport. */
async function throughClient(chunks: UIChunk[], version: AiVersion, message?: Parameters<typeof collect>[2]) {
  const sent = chunks.map((c) => forClient(c, version)).filter((c) => c !== null);
  const transport = transportOf(version, {
    api: 'https://api.test/v1/chat',
    fetch: async () => new Response(sseOf(sent), { headers: { 'content-type': 'text/event-stream' } }),
  });
  const stream = await transport.sendMessages({
    chatId: 'c1',
    messages: [],
    trigger: 'submit-message',
    messageId: undefined,
    abortSignal: undefined,
  });
  return collect(stream as never, version, message);
}

function built(chunks: UIChunk[], id = 'msg_1') {
  const b = new MessageBuilder({ id, role: 'assistant', parts: [] });
  for (const c of chunks) b.apply(c);
  return plain(b.message);
}

const start = (messageId: string): UIChunk => ({ type: 'start', messageId, messageMetadata: { turnId: 'trn_1' } });
const usage = { inputTokens: 10, outputTokens: 5, costUsd: 0.001, provider: 'p', model: 'm' };

describe('run events → UI chunks', () => {
  it('a text answer: both client versions validate every chunk and build the message the server stores', async () => {
    const s = initialMapperState('msg_1');
    const chunks = [
      start('msg_1'),
      ...mapAll(s, [
        ev('run.started', {}, null),
        ev('node.started', { attempt: 1 }),
        ev('node.step', { step: 1, kind: 'model', status: 'started' }),
        ev('node.delta', { text: 'Hello ' }),
        ev('node.delta', { text: 'there.' }),
        ev('node.step', { step: 1, kind: 'model', status: 'finished', usage }),
        ev('node.succeeded', { attempt: 1, output: {} }),
        ev('run.completed', { status: 'succeeded', error: null, output: {} }, null),
      ]),
    ];
    expect(chunks.map((c) => c.type)).toEqual([
      'start',
      'start-step',
      'text-start',
      'text-delta',
      'text-delta',
      'text-end',
      'message-metadata',
      'finish-step',
      'finish',
    ]);
    for (const v of [6, 7] as const) {
      const client = await throughClient(chunks, v);
      expect(plain(client.message), `ai@${v}`).toEqual(built(chunks));
    }
    expect(built(chunks).parts).toEqual([{ type: 'step-start' }, { type: 'text', text: 'Hello there.', state: 'done' }]);
    expect(built(chunks).metadata).toMatchObject({ usage: { inputTokens: 10, outputTokens: 5, costUsd: 0.001 }, status: 'completed' });
  });

  it('an approval: the request, the park, then the answer and the result continue the same message', async () => {
    const s = initialMapperState('msg_2');
    const first = [
      start('msg_2'),
      ...mapAll(s, [
        ev('node.step', { step: 1, kind: 'model', status: 'started' }),
        ev('node.delta', { text: 'Deleting it.' }),
        ev('node.tool_call', {
          step: 1,
          toolCallId: 'c1',
          toolName: 'deleteTask',
          input: { taskId: 'tsk_1' },
          requiresApproval: true,
          clientSide: false,
        }),
        ev('node.step', { step: 1, kind: 'model', status: 'finished', usage }),
        ev('node.waiting', { forSignal: true, toolCalls: [{ toolCallId: 'c1', toolName: 'deleteTask', kind: 'approval' }] }),
      ]),
    ];
    expect(first.slice(-3).map((c) => c.type)).toEqual(['message-metadata', 'finish-step', 'finish']);
    expect(first).toContainEqual({ type: 'tool-approval-request', approvalId: 'apr_c1', toolCallId: 'c1' });
    const second = [
      { type: 'start', messageId: 'msg_2' } as UIChunk,
      { type: 'tool-approval-response', approvalId: 'apr_c1', approved: true } as UIChunk,
      ...mapAll(s, [
        ev('node.tool_result', { step: 1, toolCallId: 'c1', toolName: 'deleteTask', output: { deleted: true } }),
        ev('node.step', { step: 1, kind: 'tools', status: 'finished' }),
        ev('node.step', { step: 2, kind: 'model', status: 'started' }),
        ev('node.delta', { text: 'Done.' }),
        ev('run.completed', { status: 'succeeded', error: null, output: {} }, null),
      ]),
    ];
    for (const v of [6, 7] as const) {
      const one = await throughClient(first, v);
      expect(one.message?.parts[2]).toMatchObject({ type: 'tool-deleteTask', state: 'approval-requested', approval: { id: 'apr_c1' } });
      // The client marks its answer, as addToolApprovalResponse does, then the continuation streams into the same message.
      const answered = structuredClone(one.message!);
      Object.assign(answered.parts[2]!, { state: 'approval-responded', approval: { id: 'apr_c1', approved: true } });
      const two = await throughClient(second, v, answered);
      expect(plain(two.message), `ai@${v}`).toEqual(built([...first, ...second]));
    }
    expect(built([...first, ...second]).parts).toEqual([
      { type: 'step-start' },
      { type: 'text', text: 'Deleting it.', state: 'done' },
      {
        type: 'tool-deleteTask',
        toolCallId: 'c1',
        state: 'output-available',
        input: { taskId: 'tsk_1' },
        output: { deleted: true },
        approval: { id: 'apr_c1', approved: true },
      },
      { type: 'step-start' },
      { type: 'text', text: 'Done.', state: 'done' },
    ]);
  });

  it('a provider failover: ai@7 clients drop the failed text (reset-step); ai@6 clients validate the stream and are told (data-reset-step)', async () => {
    const s = initialMapperState('msg_3');
    const chunks = [
      start('msg_3'),
      ...mapAll(s, [
        ev('node.step', { step: 1, kind: 'model', status: 'started' }),
        ev('node.delta', { text: 'Half an ans' }),
        ev('node.delta', { reset: true, reason: 'provider_error', provider: 'backup' }),
        ev('node.delta', { text: 'A whole answer.' }),
        ev('run.completed', { status: 'succeeded', error: null, output: {} }, null),
      ]),
    ];
    expect(chunks.map((c) => c.type)).toContain('reset-step');
    const v7 = await throughClient(chunks, 7);
    expect(plain(v7.message)).toEqual(built(chunks));
    expect(built(chunks).parts).toEqual([{ type: 'step-start' }, { type: 'text', text: 'A whole answer.', state: 'done' }]);
    const v6 = await throughClient(chunks, 6);
    expect(v6.chunks.map((c) => c.type)).not.toContain('reset-step');
    expect(v6.chunks).toContainEqual(expect.objectContaining({ type: 'data-reset-step', transient: true }));
  });

  it('ai@6 refuses the ai@7-only chunks, which is why they are gated', async () => {
    const call: UIChunk[] = [
      start('m'),
      { type: 'start-step' },
      { type: 'tool-input-available', toolCallId: 'c1', toolName: 'deleteTask', input: {} },
      { type: 'tool-approval-request', approvalId: 'apr_c1', toolCallId: 'c1' },
    ];
    for (const chunk of [{ type: 'reset-step' }, { type: 'tool-approval-response', approvalId: 'apr_c1', approved: true }] as UIChunk[]) {
      const sequence = [...call, chunk, { type: 'finish' } as UIChunk];
      const feed = (v: AiVersion) =>
        transportOf(v, {
          api: 'https://api.test/v1/chat',
          fetch: async () => new Response(sseOf(sequence), { headers: { 'content-type': 'text/event-stream' } }),
        }).sendMessages({ chatId: 'c', messages: [], trigger: 'submit-message', messageId: undefined, abortSignal: undefined });
      await expect(collect((await feed(7)) as never, 7)).resolves.toBeDefined();
      await expect(collect((await feed(6)) as never, 6), chunk.type).rejects.toThrow();
    }
  });

  it('a retried attempt or an evicted step streams its text again: the open step is reset, a replayed tool call is not repeated', () => {
    const s = initialMapperState('msg_4');
    const chunks = [
      start('msg_4'),
      ...mapAll(s, [
        ev('node.step', { step: 1, kind: 'model', status: 'started' }),
        ev('node.tool_call', { step: 1, toolCallId: 'c1', toolName: 'listTasks', input: {}, requiresApproval: false, clientSide: false }),
        ev('node.tool_result', { step: 1, toolCallId: 'c1', toolName: 'listTasks', output: [] }),
        ev('node.step', { step: 1, kind: 'tools', status: 'finished' }),
        ev('node.step', { step: 2, kind: 'model', status: 'started' }),
        ev('node.delta', { text: 'Nothing is op' }),
        ev('node.started', { attempt: 1, resumed: true }),
        ev('node.tool_call', { step: 1, toolCallId: 'c1', toolName: 'listTasks', input: {}, requiresApproval: false, clientSide: false }),
        ev('node.step', { step: 2, kind: 'model', status: 'started' }),
        ev('node.delta', { text: 'Nothing is open.' }),
        ev('run.completed', { status: 'succeeded', error: null, output: {} }, null),
      ]),
    ];
    const parts = built(chunks).parts;
    expect(parts.filter((p) => p.type === 'tool-listTasks')).toHaveLength(1);
    expect(parts.filter((p) => p.type === 'text')).toEqual([{ type: 'text', text: 'Nothing is open.', state: 'done' }]);
  });

  it("a delegated agent's steps stay inside its caller's call, except the calls the user must answer", () => {
    const s = initialMapperState('m');
    const chunks = mapAll(s, [
      ev('node.step', { step: 1, kind: 'model', status: 'started' }),
      ev('node.tool_call', {
        step: 1,
        toolCallId: 'd1',
        toolName: 'cleaner',
        input: { task: 'tidy' },
        requiresApproval: false,
        clientSide: false,
      }),
      ev('node.step', { step: 1, kind: 'model', status: 'started', via: 'd1' }),
      ev('node.delta', { text: 'thinking aloud', via: 'd1' }),
      ev('node.tool_call', {
        step: 1,
        toolCallId: 'd1>x',
        toolName: 'listTasks',
        input: {},
        requiresApproval: false,
        clientSide: false,
        via: 'd1',
      }),
      ev('node.tool_result', { step: 1, toolCallId: 'd1>x', toolName: 'listTasks', output: [], via: 'd1' }),
      ev('node.tool_call', {
        step: 2,
        toolCallId: 'd1>y',
        toolName: 'deleteTask',
        input: { taskId: 't' },
        requiresApproval: true,
        clientSide: false,
        via: 'd1',
      }),
      ev('node.waiting', { forSignal: true, toolCalls: [{ toolCallId: 'd1>y', toolName: 'deleteTask', kind: 'approval' }] }),
    ]);
    const parts = built([start('m'), ...chunks], 'm').parts;
    expect(parts.map((p) => p.type)).toEqual(['step-start', 'tool-cleaner', 'tool-deleteTask']);
    expect(parts[2]).toMatchObject({ state: 'approval-requested', approval: { id: 'apr_d1>y' } });
    expect(chunks.map((c) => c.type)).not.toContain('text-delta');
  });

  it('a failed run ends with error then finish; a cancelled one with abort', () => {
    const s = initialMapperState('m');
    const failed = mapAll(s, [
      ev('node.delta', { text: 'x' }),
      ev('run.failed', { status: 'failed', error: 'provider down', output: {} }, null),
    ]);
    expect(failed.slice(-2)).toEqual([
      { type: 'error', errorText: 'provider down' },
      { type: 'finish', finishReason: 'error', messageMetadata: expect.objectContaining({ status: 'failed' }) },
    ]);
    const c = initialMapperState('m');
    const cancelled = mapAll(c, [
      ev('node.delta', { text: 'x' }),
      ev('run.cancelled', { status: 'cancelled', error: 'stop', output: {} }, null),
    ]);
    expect(cancelled.at(-1)).toEqual({ type: 'abort', reason: 'stop' });
    expect(cancelled.map((x) => x.type)).toContain('text-end');
  });
});
