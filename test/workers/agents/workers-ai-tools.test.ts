/**
 * Workers AI function calling through the adapter, over a scripted `run` (the AI binding exists only
 * remotely): tools sent in the traditional `{ name, description, parameters }` shape without
 * streaming, tool calls read from both answer shapes, and the conversation's calls and results sent back.
 */
import { describe, expect, it } from 'vitest';
import { failoverDriver } from '../../../src/agents/drivers';
import { type AiRunner, workersAiClient } from '../../../src/flows/llm/workers-ai';

const TOOL = {
  name: 'createTask',
  description: 'Create a task.',
  inputSchema: { type: 'object', properties: { title: { type: 'string' } } },
};
const MODELS = { fast: { model: '@cf/meta/llama-3.3-70b-instruct-fp8-fast', inputCostPer1M: 100, outputCostPer1M: 200 } };

function driver(answer: unknown, calls: unknown[]) {
  const ai: AiRunner = {
    run: async (model, inputs) => {
      calls.push([model, inputs]);
      return answer;
    },
  };
  return failoverDriver([{ name: 'wai', client: workersAiClient(ai), models: MODELS }], 'fast', 1000, "agent 'a'");
}

const signal = new AbortController().signal;

describe('Workers AI function calling', () => {
  it('sends tools without streaming and reads traditional tool_calls [{ name, arguments }]', async () => {
    const calls: unknown[] = [];
    const d = driver(
      {
        response: null,
        tool_calls: [{ name: 'createTask', arguments: { title: 'Milk' } }],
        usage: { prompt_tokens: 40, completion_tokens: 9 },
      },
      calls,
    );
    const reply = await d.next({ messages: [{ role: 'user', content: 'add milk' }], tools: [TOOL], signal, onDelta: () => {} });
    expect(calls).toEqual([
      [
        MODELS.fast.model,
        {
          messages: [{ role: 'user', content: 'add milk' }],
          stream: false,
          tools: [{ name: 'createTask', description: 'Create a task.', parameters: TOOL.inputSchema }],
        },
      ],
    ]);
    expect(reply).toEqual({
      text: '',
      toolCalls: [{ id: '', name: 'createTask', input: { title: 'Milk' } }],
      usage: { inputTokens: 40, outputTokens: 9, costUsd: (40 * 100 + 9 * 200) / 1e6 },
      provider: 'wai',
      model: MODELS.fast.model,
    });
  });

  it('reads OpenAI-shaped answers (choices[0].message.tool_calls with JSON text arguments) and sends calls and results back', async () => {
    const calls: Array<[string, Record<string, any>]> = [];
    const answer = {
      choices: [
        {
          message: {
            content: '',
            tool_calls: [{ id: 'chatcmpl-tool-1', type: 'function', function: { name: 'createTask', arguments: '{"title":"Bread"}' } }],
          },
          finish_reason: 'tool_calls',
        },
      ],
    };
    const d = driver(answer, calls);
    const reply = await d.next({
      messages: [
        { role: 'user', content: 'add milk, then bread' },
        { role: 'assistant', content: '', toolCalls: [{ id: 'c1', name: 'createTask', input: { title: 'Milk' } }] },
        { role: 'tool', toolCallId: 'c1', content: '{"output":{"id":"tsk_1"}}' },
      ],
      tools: [TOOL],
      signal,
      onDelta: () => {},
    });
    expect(reply.toolCalls).toEqual([{ id: 'chatcmpl-tool-1', name: 'createTask', input: { title: 'Bread' } }]);
    expect(calls[0]![1].messages).toEqual([
      { role: 'user', content: 'add milk, then bread' },
      {
        role: 'assistant',
        content: '',
        tool_calls: [{ id: 'c1', type: 'function', function: { name: 'createTask', arguments: '{"title":"Milk"}' } }],
      },
      { role: 'tool', name: 'createTask', tool_call_id: 'c1', content: '{"output":{"id":"tsk_1"}}' },
    ]);
  });

  it('a text answer with tools offered is the final answer', async () => {
    const deltas: string[] = [];
    const d = driver({ response: 'All done.' }, []);
    const reply = await d.next({ messages: [{ role: 'user', content: 'x' }], tools: [TOOL], signal, onDelta: (t) => deltas.push(t) });
    expect(reply).toMatchObject({ text: 'All done.', toolCalls: [] });
    expect(deltas).toEqual(['All done.']);
  });
});
