/**
 * Knowledge in flows and agents: the `retrieve` node over an expression, and an agent's
 * `{ type: "knowledge" }` tool (validated on save, called by a scripted model, passages returned).
 */
import { describe, expect, it } from 'vitest';
import { call, expectJson, expectProblem } from '../../support/workers/http';
import { signup } from '../../support/workers/tenants';
import { agentFlow, createAgent, events, inline, newTag, ofType, received, runUntil, scriptedProvider, startRun } from '../agents/_support';
import { createKb, DOCS, settled, upload } from './_support';

describe('knowledge in flows and agents', () => {
  it('a retrieve node searches with its query expression and outputs the results', async () => {
    const t = await signup('kb-node');
    const kb = await createKb(t);
    const ids: string[] = [];
    for (const d of DOCS) ids.push((await upload(t, kb.id, d)).documentId);
    for (const id of ids) await settled(t, kb.id, id);
    const definition = {
      nodes: [
        { id: 'find', type: 'retrieve', config: { knowledgeBaseId: kb.id, query: 'input.question', topK: 2, mode: 'hybrid' } },
        { id: 'answer', type: 'transform', config: { expression: 'nodes.find.output.results[0].title' } },
      ],
      edges: [{ from: 'find', to: 'answer' }],
    };
    const flowId = (await expectJson(await call('/v1/flows', { token: t.accessToken, body: { name: 'rag', definition } }), 201)).id;
    const run = await runUntil(t, (await startRun(t, flowId, { question: 'How long do refunds take to reach the card?' })).id);
    expect(run.status).toBe('succeeded');
    const find = run.nodes.find((n: any) => n.id === 'find');
    expect(find.output.results.length).toBeGreaterThan(0);
    expect(find.output.results.length).toBeLessThanOrEqual(2);
    expect(find.output.results[0]).toMatchObject({ documentId: ids[0], source: 'handbook/refunds.md' });
    expect(run.nodes.find((n: any) => n.id === 'answer').output).toBe('Refund policy');

    // Another tenant's knowledge base id fails the node (not found), never reads it.
    const other = await signup('kb-node-other');
    const otherFlow = (await expectJson(await call('/v1/flows', { token: other.accessToken, body: { name: 'rag', definition } }), 201)).id;
    const failed = await runUntil(other, (await startRun(other, otherFlow, { question: 'refunds' })).id);
    expect(failed.status).toBe('failed');
    expect(JSON.stringify(failed.nodes[0].error)).toContain('not found');
  });

  it('an agent calls its knowledge tool and gets passages with their sources', async () => {
    const t = await signup('kb-agent');
    const kb = await createKb(t, { name: 'Handbook' });
    const d = await upload(t, kb.id, DOCS[0]!);
    await settled(t, kb.id, d.documentId);
    // References are validated on save: a knowledge base of nobody is a problem at its path.
    const bad = await expectProblem(
      await call('/v1/agents', { token: t.accessToken, body: { name: 'a', tools: [{ type: 'knowledge', knowledgeBaseId: 'kb_nope' }] } }),
      422,
    );
    expect(JSON.stringify(bad)).toContain('tools[0].knowledgeBaseId');
    await createAgent(t, { tools: [{ type: 'knowledge', knowledgeBaseId: kb.id }] });

    const tag = newTag();
    await scriptedProvider(t, tag, 'main', [
      { toolCalls: [{ id: 'call_k1', name: 'search_Handbook', arguments: { query: 'refund card closed', topK: 2 } }] },
      { text: 'Refunds take five business days [handbook/refunds.md].' },
    ]);
    const flowId = await agentFlow(t, { agent: inline('main', [{ type: 'knowledge', knowledgeBaseId: kb.id }]), prompt: '{{ input.q }}' });
    const run = await runUntil(t, (await startRun(t, flowId, { q: 'How do refunds work?' })).id);
    expect(run.status).toBe('succeeded');
    const result = ofType(await events(run.id), 'node.tool_result', 'agent')[0]!;
    expect(result.data.toolName).toBe('search_Handbook');
    expect(result.data.output.results[0]).toMatchObject({
      documentId: d.documentId,
      source: 'handbook/refunds.md',
      title: 'Refund policy',
    });
    expect(result.data.output.results[0].text).toContain('ERR_REFUND_4471');
    // The model saw the tool with its input schema, and the passages in the tool message.
    const sent = await received(tag, 'main');
    expect(sent[0]!.body.tools[0].function).toMatchObject({ name: 'search_Handbook', parameters: { required: ['query'] } });
    expect(JSON.stringify(sent[1]!.body.messages)).toContain('handbook/refunds.md');
  });
});
