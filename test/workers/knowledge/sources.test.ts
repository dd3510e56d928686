/**
 * A knowledge tool's results reach the assistant's stream as `source-document` parts (one per
 * document), which the real AI SDK (ai@6 and ai@7) accepts and folds into the message exactly as
 * our own MessageBuilder stores it.
 */
import { describe, expect, it } from 'vitest';
import { initialMapperState, mapRunEvent } from '../../../src/chat/run-chunks';
import { MessageBuilder, type UIChunk } from '../../../src/chat/ui-message';
import { type AnyChunk, collect, plain } from '../../support/shared/ai-client';

const results = [
  { documentId: 'kdoc_a', chunkId: 'kdoc_a:1:0', title: 'Refund policy', source: 'handbook/refunds.md', text: 'Refunds…', score: 0.03 },
  { documentId: 'kdoc_a', chunkId: 'kdoc_a:1:1', title: 'Refund policy', source: 'handbook/refunds.md', text: 'More…', score: 0.02 },
  { documentId: 'kdoc_b', chunkId: 'kdoc_b:2:0', title: 'Cards', source: 'cards.md', text: 'Cards…', score: 0.01 },
];

function turn(): UIChunk[] {
  const s = initialMapperState('msg_1');
  const ev = (seq: number, type: string, data: unknown) => ({ seq, type, nodeId: 'agent', data, at: '2026-12-03T00:00:00.000Z' });
  const chunks: UIChunk[] = [{ type: 'start', messageId: 'msg_1' }];
  for (const e of [
    ev(1, 'node.step', { step: 1, kind: 'model', status: 'started' }),
    ev(2, 'node.tool_call', { step: 1, toolCallId: 'c1', toolName: 'search_Handbook', input: { query: 'refunds' } }),
    ev(3, 'node.tool_result', { step: 1, toolCallId: 'c1', toolName: 'search_Handbook', output: { results } }),
    ev(4, 'node.delta', { text: 'See the refund policy.' }),
    { seq: 5, type: 'run.completed', nodeId: null, data: {}, at: '2026-12-03T00:00:01.000Z' },
  ])
    chunks.push(...mapRunEvent(s, e, 'agent').chunks);
  return chunks;
}

describe('knowledge sources in the assistant stream', () => {
  it('maps a knowledge tool result to one source-document part per document', () => {
    const sources = turn().filter((c) => c.type === 'source-document');
    expect(sources).toEqual([
      { type: 'source-document', sourceId: 'kdoc_a', mediaType: 'text/plain', title: 'Refund policy', filename: 'handbook/refunds.md' },
      { type: 'source-document', sourceId: 'kdoc_b', mediaType: 'text/plain', title: 'Cards', filename: 'cards.md' },
    ]);
  });

  it.each([6, 7] as const)('ai@%i validates the chunks and builds the same message as ours', async (version) => {
    const chunks = turn();
    const ours = new MessageBuilder({ id: 'msg_1', role: 'assistant', parts: [] });
    for (const c of chunks) ours.apply(c);
    const stream = new ReadableStream<AnyChunk>({
      start(c) {
        for (const x of chunks) c.enqueue(x as AnyChunk);
        c.close();
      },
    });
    const { message } = await collect(stream, version);
    expect(message!.parts.filter((p) => p.type === 'source-document')).toEqual(
      plain(ours.message.parts.filter((p) => p.type === 'source-document')),
    );
    expect(message!.parts.filter((p) => p.type === 'source-document')).toHaveLength(2);
  });
});
