/**
 * Knowledge bases end to end inside workerd: upload → the real EVENTS consumer indexes → query in
 * three modes; re-upload replaces, delete is immediate, FTS syntax in queries is inert, metadata
 * filters, redelivered and stale jobs change nothing, a failing embedder is retried and resumes.
 */
import { env } from 'cloudflare:workers';
import { and, eq } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { getDb } from '../../../src/db/client';
import { eventOutbox, knowledgeDocuments } from '../../../src/db/schema';
import { TenantScope } from '../../../src/db/tenant-scope';
import { runIndexJob } from '../../../src/knowledge/index-job';
import { uploadDocument } from '../../../src/knowledge/knowledge-service';
import { REQUEUE_AFTER_MS, requeueKnowledgeDocuments } from '../../../src/knowledge/sweep';
import type { ServiceCtx } from '../../../src/lib/context';
import { knowledgeShardStub } from '../../../src/lib/stubs';
import { eventually } from '../../support/shared/time';
import { call, expectJson, expectProblem } from '../../support/workers/http';
import { signup } from '../../support/workers/tenants';
import { runBatch } from '../events/_support';
import { addFakeProvider, newTag, received } from '../flows/llm-fixtures';
import { createKb, DOCS, getDoc, type Json, query, settled, upload } from './_support';

async function indexedEvents(tenantId: string, documentId: string): Promise<Json[]> {
  const rows = await getDb(env.DB)
    .select()
    .from(eventOutbox)
    .where(and(eq(eventOutbox.tenantId, tenantId), eq(eventOutbox.type, 'kb.document.indexed')))
    .all();
  return rows.filter((r) => (r.data as Json).documentId === documentId).map((r) => r.data as Json);
}

describe('knowledge bases', () => {
  it('creates, lists, patches and validates knowledge bases', async () => {
    const t = await signup('kb-crud');
    const kb = await createKb(t, { name: 'Handbook' });
    expect(kb).toMatchObject({
      name: 'Handbook',
      embedding: { provider: 'local', dimensions: 256 },
      chunking: { maxTokens: 60, overlap: 10 },
      shards: 1,
    });
    const list = await expectJson(await call('/v1/knowledge-bases', { token: t.accessToken }));
    expect(list.data.map((k: Json) => k.id)).toContain(kb.id);
    const patched = await expectJson(
      await call(`/v1/knowledge-bases/${kb.id}`, { method: 'PATCH', token: t.accessToken, body: { name: 'Renamed' } }),
    );
    expect(patched.name).toBe('Renamed');
    const bad = await expectProblem(
      await call('/v1/knowledge-bases', { token: t.accessToken, body: { name: 'x', chunking: { maxTokens: 50, overlap: 50 } } }),
      422,
    );
    expect(JSON.stringify(bad.errors)).toContain('chunking.overlap');
    await expectProblem(await call(`/v1/knowledge-bases/${kb.id}/query`, { token: t.accessToken, body: { query: 'x', topK: 51 } }), 422);
    await expectProblem(
      await call(`/v1/knowledge-bases/${kb.id}/documents`, {
        token: t.accessToken,
        body: { source: 'a', contentType: 'json', content: '{nope' },
      }),
      422,
    );
  });

  it('indexes uploads asynchronously and answers keyword, vector and hybrid queries', async () => {
    const t = await signup('kb-modes');
    const kb = await createKb(t);
    const ids: string[] = [];
    for (const d of DOCS) {
      const accepted = await upload(t, kb.id, d);
      expect(accepted).toMatchObject({ version: 1, status: 'queued' });
      ids.push(accepted.documentId);
    }
    for (const id of ids) expect(await settled(t, kb.id, id)).toMatchObject({ status: 'indexed', indexedVersion: 1 });
    const [refunds, security, oncall] = ids;
    const docs = await expectJson(await call(`/v1/knowledge-bases/${kb.id}/documents`, { token: t.accessToken }));
    expect(docs.data).toHaveLength(3);
    expect(docs.data.every((d: Json) => d.chunks >= 1)).toBe(true);

    const kw = await query(t, kb.id, { query: 'ERR_REFUND_4471', mode: 'keyword' });
    expect(kw[0]).toMatchObject({ documentId: refunds, title: 'Refund policy', source: 'handbook/refunds.md' });
    expect(kw[0]!.scores.bm25).toBeGreaterThan(0);
    expect(kw[0]!.scores.vector).toBeNull();

    const vec = await query(t, kb.id, { query: 'rotate vault master key', mode: 'vector', topK: 1 });
    expect(vec).toHaveLength(1);
    expect(vec[0]!.documentId).toBe(security);
    expect(vec[0]!.scores.vector).toBeGreaterThan(0.2);

    const hybrid = await query(t, kb.id, { query: 'who is the primary on call?', topK: 3 });
    expect(hybrid[0]!.documentId).toBe(oncall);
    expect(hybrid[0]!.text).toContain('rota.primary: Ada Lovelace');

    // HTML scripts are not content.
    expect(await query(t, kb.id, { query: 'var', mode: 'keyword' })).toEqual([]);

    // kb.document.indexed went through the outbox with the usage it counted.
    const events = await indexedEvents(t.tenantId, refunds!);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ knowledgeBaseId: kb.id, version: 1, usage: { embeddingTokens: expect.any(Number) } });
  });

  it('filters by metadata', async () => {
    const t = await signup('kb-filter');
    const kb = await createKb(t);
    const ids = [];
    for (const d of DOCS) ids.push((await upload(t, kb.id, d)).documentId);
    for (const id of ids) await settled(t, kb.id, id);
    const all = await query(t, kb.id, { query: 'refund passwords rota', topK: 10 });
    expect(new Set(all.map((r) => r.documentId)).size).toBe(3);
    const y2026 = await query(t, kb.id, { query: 'refund passwords rota', topK: 10, filter: { metadata: { year: 2026 } } });
    expect(new Set(y2026.map((r) => r.documentId))).toEqual(new Set([ids[0], ids[2]]));
    const ops = await query(t, kb.id, {
      query: 'refund passwords rota',
      mode: 'keyword',
      topK: 10,
      filter: { metadata: { team: 'ops', public: true } },
    });
    expect(ops.map((r) => r.documentId)).toEqual([ids[2]]);
    expect(await query(t, kb.id, { query: 'refund', mode: 'vector', filter: { metadata: { team: 'nobody' } } })).toEqual([]);
  });

  it('replaces a re-uploaded source and removes a deleted document at once', async () => {
    const t = await signup('kb-replace');
    const kb = await createKb(t);
    const first = await upload(t, kb.id, { source: 'faq.md', content: 'The office parrot is called Zanzibar.' });
    await settled(t, kb.id, first.documentId);
    const second = await upload(t, kb.id, { source: 'faq.md', content: 'The office parrot is called Quetzal.', metadata: { rev: 2 } });
    expect(second).toMatchObject({ documentId: first.documentId, version: 2 });
    const doc = await settled(t, kb.id, first.documentId, 2);
    expect(doc).toMatchObject({ status: 'indexed', indexedVersion: 2, metadata: { rev: 2 } });
    expect(await query(t, kb.id, { query: 'Zanzibar', mode: 'keyword' })).toEqual([]);
    const now = await query(t, kb.id, { query: 'Quetzal parrot', mode: 'hybrid' });
    expect(now).toHaveLength(1);
    expect(now[0]).toMatchObject({ documentId: first.documentId, metadata: { rev: 2 } });
    expect(now[0]!.chunkId).toContain(':2:');
    const list = await expectJson(await call(`/v1/knowledge-bases/${kb.id}/documents`, { token: t.accessToken }));
    expect(list.data).toHaveLength(1);

    await expectJson(
      await call(`/v1/knowledge-bases/${kb.id}/documents/${first.documentId}`, { method: 'DELETE', token: t.accessToken }),
      204,
    );
    for (const mode of ['hybrid', 'vector', 'keyword']) expect(await query(t, kb.id, { query: 'Quetzal parrot', mode })).toEqual([]);
    await expectProblem(await call(`/v1/knowledge-bases/${kb.id}/documents/${first.documentId}`, { token: t.accessToken }), 404);
    expect(await knowledgeShardStub(env, t.tenantId, kb.id, 0).stats()).toEqual({ chunks: 0, documents: 0 });
  });

  it('treats FTS syntax in queries as words and never returns another tenant\u2019s chunks', async () => {
    const a = await signup('kb-fts-a');
    const b = await signup('kb-fts-b');
    const kbA = await createKb(a);
    const kbB = await createKb(b);
    const da = await upload(a, kbA.id, { source: 's', content: 'alpha NEAR beta AND gamma OR delta title: secret-a' });
    const db = await upload(b, kbB.id, { source: 's', content: 'alpha NEAR beta AND gamma OR delta title: secret-b' });
    await settled(a, kbA.id, da.documentId);
    await settled(b, kbB.id, db.documentId);
    const nasty = [
      '"',
      '""',
      '*',
      'alpha*',
      'NEAR(alpha beta)',
      '-alpha',
      'alpha AND',
      'OR',
      'NOT',
      '(',
      ')',
      'title:secret',
      '^alpha',
      '{text}: x',
      "'; DROP TABLE chunks; --",
      '\u0000',
      '🦜',
      'a'.repeat(4000),
    ];
    for (const q of nasty) {
      for (const mode of ['keyword', 'hybrid', 'vector']) {
        const res = await call(`/v1/knowledge-bases/${kbA.id}/query`, { token: a.accessToken, body: { query: q, mode } });
        const body = await expectJson(res);
        for (const r of body.results as Json[]) expect(r.documentId).toBe(da.documentId);
      }
    }
    const hits = await query(a, kbA.id, { query: 'NEAR(alpha beta) AND "secret"', mode: 'keyword' });
    expect(hits.map((r) => r.documentId)).toEqual([da.documentId]);
    expect(hits[0]!.text).toContain('secret-a');
    // B cannot query, read or delete A's knowledge base.
    await expectProblem(await call(`/v1/knowledge-bases/${kbA.id}/query`, { token: b.accessToken, body: { query: 'alpha' } }), 404);
    await expectProblem(await call(`/v1/knowledge-bases/${kbA.id}/documents/${da.documentId}`, { token: b.accessToken }), 404);
    await expectProblem(await call(`/v1/knowledge-bases/${kbB.id}/documents/${da.documentId}`, { token: b.accessToken }), 404);
  });

  it('redelivered and stale jobs change nothing', async () => {
    const t = await signup('kb-redeliver');
    const kb = await createKb(t);
    const v1 = await upload(t, kb.id, { source: 'r.md', content: 'first words about otters' });
    await settled(t, kb.id, v1.documentId);
    const job = { kind: 'kb_index', tenantId: t.tenantId, knowledgeBaseId: kb.id, documentId: v1.documentId, version: 1 };
    const r1 = await runBatch([job, job]);
    expect(r1.explicitAcks).toHaveLength(2);
    expect(await knowledgeShardStub(env, t.tenantId, kb.id, 0).stats()).toEqual({ chunks: 1, documents: 1 });
    expect(await indexedEvents(t.tenantId, v1.documentId)).toHaveLength(1);

    const v2 = await upload(t, kb.id, { source: 'r.md', content: 'second words about beavers' });
    await settled(t, kb.id, v2.documentId, 2);
    // The version-1 job arriving late neither resurrects otters nor emits anything.
    await runBatch([job]);
    expect(await query(t, kb.id, { query: 'otters', mode: 'keyword' })).toEqual([]);
    expect((await query(t, kb.id, { query: 'beavers', mode: 'keyword' })).length).toBe(1);
    expect(await indexedEvents(t.tenantId, v1.documentId)).toHaveLength(2);
    expect((await getDoc(t, kb.id, v1.documentId)).indexedVersion).toBe(2);
  });

  it('embeds through an OpenAI-compatible provider, retries a failing one and marks permanent failures', async () => {
    const t = await signup('kb-openai');
    const tag = newTag();
    await addFakeProvider(t, 'emb-ok', tag, 'ok');
    await addFakeProvider(t, 'emb-flaky', tag, '503,ok');
    await addFakeProvider(t, 'emb-bad', tag, '400');
    const ok = await createKb(t, { embedding: { provider: 'emb-ok', model: 'fast', dimensions: 64 } });
    const doc = await upload(t, ok.id, DOCS[0]!);
    expect(await settled(t, ok.id, doc.documentId)).toMatchObject({ status: 'indexed' });
    const hits = await query(t, ok.id, { query: 'refund card', mode: 'vector' });
    expect(hits[0]!.documentId).toBe(doc.documentId);
    const events = await indexedEvents(t.tenantId, doc.documentId);
    // The fake reports prompt_tokens = words; the title is embedded with each chunk.
    expect(events[0]!.usage.embeddingTokens).toBeGreaterThan(10);

    // A 503 is retried inside the job; the next answer succeeds.
    const flaky = await createKb(t, { embedding: { provider: 'emb-flaky', model: 'fast', dimensions: 64 } });
    const fd = await upload(t, flaky.id, { source: 'f', content: 'flaky but fine' });
    expect(await settled(t, flaky.id, fd.documentId)).toMatchObject({ status: 'indexed' });

    const bad = await createKb(t, { embedding: { provider: 'emb-bad', model: 'fast', dimensions: 64 } });
    const bd = await upload(t, bad.id, { source: 'b', content: 'never embedded' });
    const failed = await settled(t, bad.id, bd.documentId);
    expect(failed).toMatchObject({ status: 'failed', indexedVersion: null });
    expect(failed.error).toContain('400');
    const missing = await createKb(t, { embedding: { provider: 'nobody', model: 'm', dimensions: 64 } });
    const md = await upload(t, missing.id, { source: 'm', content: 'no provider' });
    expect((await settled(t, missing.id, md.documentId)).error).toContain('not found');
  });

  it('resumes an ingest interrupted mid-way: the staged text survives and the redelivery finishes it', async () => {
    const t = await signup('kb-resume');
    const tag = newTag();
    const down = await addFakeProvider(t, 'emb', tag, '503');
    const kb = await createKb(t, { embedding: { provider: 'emb', model: 'fast', dimensions: 64 } });
    const d = await upload(t, kb.id, { source: 'x', content: 'the ingest that was interrupted' });
    // The real consumer's delivery meets the outage (three attempts inside the job), throws, and the
    // queue holds the message for a later redelivery; the document stays queued, its text staged.
    await eventually(async () => ((await received(tag)).length >= 3 ? true : undefined), { what: 'three embedding attempts' });
    expect(await getDoc(t, kb.id, d.documentId)).toMatchObject({ status: 'queued', indexedVersion: null });
    expect(await knowledgeShardStub(env, t.tenantId, kb.id, 0).pending(d.documentId, 1)).toMatchObject({ status: 'pending' });
    // The provider recovers (same name, healthy endpoint); the redelivered job finishes the ingest.
    await expectJson(await call(`/v1/llm/providers/${down.id}`, { method: 'DELETE', token: t.accessToken }), 204);
    await addFakeProvider(t, 'emb', tag, 'ok');
    const job = { kind: 'kb_index' as const, tenantId: t.tenantId, knowledgeBaseId: kb.id, documentId: d.documentId, version: 1 };
    expect(await runIndexJob(env, job, { attempt: 2, lastAttempt: false })).toBe('indexed');
    expect(await getDoc(t, kb.id, d.documentId)).toMatchObject({ status: 'indexed', chunks: 1 });
    expect((await query(t, kb.id, { query: 'interrupted ingest', mode: 'keyword' }))[0]!.documentId).toBe(d.documentId);
  });

  it('a delivery that died between the shard commit and the D1 update is finished by the redelivery, once', async () => {
    const t = await signup('kb-half');
    const kb = await createKb(t);
    // Staged by hand (no job sent), so only the deliveries below run.
    const docId = `kdoc_${crypto.randomUUID().replaceAll('-', '').slice(0, 26)}`;
    const now = new Date().toISOString();
    await getDb(env.DB).insert(knowledgeDocuments).values({
      id: docId,
      tenantId: t.tenantId,
      knowledgeBaseId: kb.id,
      source: 'half',
      title: 'half',
      contentType: 'text',
      metadata: {},
      status: 'queued',
      version: 1,
      bytes: 10,
      createdAt: now,
      updatedAt: now,
    });
    const shard = knowledgeShardStub(env, t.tenantId, kb.id, 0);
    await shard.stage({
      docId,
      version: 1,
      source: 'half',
      title: 'half',
      metadata: {},
      contentType: 'text',
      text: 'halfway indexed words',
      now,
    });
    const job = { kind: 'kb_index' as const, tenantId: t.tenantId, knowledgeBaseId: kb.id, documentId: docId, version: 1 };
    // D1 fails on the status update (after the shard committed): the delivery throws for a retry.
    const failingBatch = new Proxy(env.DB, {
      get: (target, prop) =>
        prop === 'batch' ? () => Promise.reject(new Error('D1_ERROR: Network connection lost.')) : Reflect.get(target, prop, target),
    });
    await expect(runIndexJob({ ...env, DB: failingBatch }, job, { attempt: 1, lastAttempt: false })).rejects.toThrow(
      /Network connection lost/,
    );
    expect(await getDoc(t, kb.id, docId)).toMatchObject({ status: 'queued', indexedVersion: null });
    expect((await query(t, kb.id, { query: 'halfway', mode: 'keyword' }))[0]!.documentId).toBe(docId);
    // The redelivery finds the version committed and finishes the D1 side with the real chunk count; a third changes nothing.
    expect(await runIndexJob(env, job, { attempt: 2, lastAttempt: false })).toBe('indexed');
    expect(await runIndexJob(env, job, { attempt: 3, lastAttempt: false })).toBe('indexed');
    expect(await getDoc(t, kb.id, docId)).toMatchObject({ status: 'indexed', indexedVersion: 1, chunks: 1 });
    expect(await indexedEvents(t.tenantId, docId)).toHaveLength(1);
  });

  it('an upload whose queue send failed after staging is re-enqueued by the sweeper and indexed', async () => {
    const t = await signup('kb-requeue');
    const kb = await createKb(t);
    // The fault: the EVENTS send fails after the row is written and the text staged.
    const brokenQueue = { send: () => Promise.reject(new Error('Queue send failed: Network connection lost.')) };
    const db = getDb(env.DB);
    const ctx = {
      env: { ...env, EVENTS: brokenQueue },
      db,
      now: new Date(),
      tenantId: t.tenantId,
      scope: new TenantScope(db, t.tenantId),
    } as unknown as ServiceCtx;
    await expect(
      uploadDocument(ctx, {
        knowledgeBaseId: kb.id,
        source: 'lost',
        contentType: 'text',
        metadata: {},
        content: 'the lost lighthouse keeper',
      }),
    ).rejects.toThrow(/Queue send failed/);
    const doc = await db
      .select()
      .from(knowledgeDocuments)
      .where(and(eq(knowledgeDocuments.tenantId, t.tenantId), eq(knowledgeDocuments.source, 'lost')))
      .get();
    expect(doc).toMatchObject({ tenantId: t.tenantId, status: 'queued', version: 1 });
    // Not yet overdue: the sweep leaves it (its job may still be on the way).
    await requeueKnowledgeDocuments.run(env, new Date(Date.now() + REQUEUE_AFTER_MS - 60_000));
    expect(await getDoc(t, kb.id, doc!.id)).toMatchObject({ status: 'queued' });
    // Overdue: re-sent, and the real consumer indexes it.
    const later = new Date(Date.now() + REQUEUE_AFTER_MS + 60_000);
    expect((await requeueKnowledgeDocuments.run(env, later)).requeued).toBeGreaterThanOrEqual(1);
    expect(await settled(t, kb.id, doc!.id)).toMatchObject({ status: 'indexed', indexedVersion: 1, chunks: 1 });
    expect((await query(t, kb.id, { query: 'lighthouse keeper', mode: 'keyword' }))[0]!.documentId).toBe(doc!.id);
    // Once indexed it is never sent again, and a duplicate of the job changes nothing.
    const again = await requeueKnowledgeDocuments.run(env, new Date(later.getTime() + REQUEUE_AFTER_MS + 60_000));
    expect(again.requeued ?? 0).toBe(0);
    const job = { kind: 'kb_index' as const, tenantId: t.tenantId, knowledgeBaseId: kb.id, documentId: doc!.id, version: 1 };
    expect(await runIndexJob(env, job, { attempt: 1, lastAttempt: false })).toBe('indexed');
    expect(await indexedEvents(t.tenantId, doc!.id)).toHaveLength(1);
  });

  it('spreads documents over shards and merges their answers', async () => {
    const t = await signup('kb-shards');
    const kb = await createKb(t, { shards: 4 });
    const ids: string[] = [];
    for (let i = 0; i < 12; i++)
      ids.push(
        (await upload(t, kb.id, { source: `doc-${i}`, content: `document number ${i} mentions widget${i} and the shared word lighthouse` }))
          .documentId,
      );
    for (const id of ids) await settled(t, kb.id, id);
    const per = await Promise.all([0, 1, 2, 3].map((s) => knowledgeShardStub(env, t.tenantId, kb.id, s).stats()));
    expect(per.reduce((n, s) => n + s.documents, 0)).toBe(12);
    expect(per.filter((s) => s.documents > 0).length).toBeGreaterThan(1);
    const all = await query(t, kb.id, { query: 'lighthouse', mode: 'keyword', topK: 50 });
    expect(new Set(all.map((r) => r.documentId))).toEqual(new Set(ids));
    const one = await query(t, kb.id, { query: 'widget7', topK: 1 });
    expect(one[0]!.documentId).toBe(ids[7]);
    await expectJson(await call(`/v1/knowledge-bases/${kb.id}`, { method: 'DELETE', token: t.accessToken }), 204);
    await expectProblem(await call(`/v1/knowledge-bases/${kb.id}/query`, { token: t.accessToken, body: { query: 'lighthouse' } }), 404);
    expect((await knowledgeShardStub(env, t.tenantId, kb.id, 0).stats()).chunks).toBe(0);
  });
});
