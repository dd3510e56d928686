/** Helpers for knowledge-base tests: create a base, upload, wait for indexing, query. */
import { eventually } from '../../support/shared/time';
import { call, expectJson } from '../../support/workers/http';
import type { TestTenant } from '../../support/workers/tenants';

export type Json = Record<string, any>;

export async function createKb(t: TestTenant, body: Json = {}): Promise<Json> {
  return expectJson(
    await call('/v1/knowledge-bases', { token: t.accessToken, body: { name: 'kb', chunking: { maxTokens: 60, overlap: 10 }, ...body } }),
    201,
  );
}

export async function upload(t: TestTenant, kbId: string, doc: Json): Promise<{ documentId: string; version: number }> {
  return expectJson(await call(`/v1/knowledge-bases/${kbId}/documents`, { token: t.accessToken, body: doc }), 202);
}

export async function getDoc(t: TestTenant, kbId: string, docId: string): Promise<Json> {
  return expectJson(await call(`/v1/knowledge-bases/${kbId}/documents/${docId}`, { token: t.accessToken }));
}

/** Waits (through the real EVENTS consumer) until `version` of the document is indexed or failed. */
export async function settled(t: TestTenant, kbId: string, docId: string, version = 1): Promise<Json> {
  return eventually(
    async () => {
      const d = await getDoc(t, kbId, docId);
      return d.version === version && d.status !== 'queued' ? d : undefined;
    },
    { timeoutMs: 15_000, what: `document ${docId} v${version} settled` },
  );
}

export async function query(t: TestTenant, kbId: string, body: Json): Promise<Json[]> {
  return ((await expectJson(await call(`/v1/knowledge-bases/${kbId}/query`, { token: t.accessToken, body }))) as Json).results as Json[];
}

export const DOCS = [
  {
    source: 'handbook/refunds.md',
    title: 'Refund policy',
    contentType: 'markdown',
    metadata: { team: 'billing', year: 2026 },
    content:
      '# Refunds\n\nCustomers can ask for a refund within 30 days of purchase. Refunds go back to the original payment card within five business days. Error code ERR_REFUND_4471 means the card was closed.',
  },
  {
    source: 'handbook/security.html',
    title: 'Password rules',
    contentType: 'html',
    metadata: { team: 'security', year: 2025 },
    content:
      '<html><body><h1>Passwords</h1><p>Passwords need at least twelve characters.</p><script>var refund = 1;</script><p>Rotate the vault master key every ninety days.</p></body></html>',
  },
  {
    source: 'ops/oncall.json',
    title: 'On-call rota',
    contentType: 'json',
    metadata: { team: 'ops', year: 2026, public: true },
    content: JSON.stringify({
      rota: { primary: 'Ada Lovelace', secondary: 'Grace Hopper' },
      escalation: 'page the incident commander after fifteen minutes',
    }),
  },
];
