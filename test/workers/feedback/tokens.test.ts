/**
 * Rating without an API key: the presigned token on GET /v1/runs/{id} (and minted by
 * POST /v1/feedback/tokens) rates its target with no credential (201, then 200 on a second rating),
 * refuses another target (403), altered or foreign tokens (404, no oracle) and expired ones (410).
 */
import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config';
import { FEEDBACK_TOKEN_TTL_MS, signFeedbackToken, verifyFeedbackToken } from '../../../src/feedback/tokens';
import { fromB64, toB64Url } from '../../../src/identity/encoding';
import { call, expectJson, expectProblem } from '../../support/workers/http';
import { signup } from '../../support/workers/tenants';
import { createKey, echoRun, get, type Json, post } from './_support';

const pepper = () => loadConfig(env).TOKEN_PEPPER!;

/** A rating with no Authorization header, from a browser. */
function rate(token: string, body: Json) {
  return call(`/v1/feedback/by-token/${encodeURIComponent(token)}`, { body, headers: { origin: 'https://app.example' } });
}

describe('feedback tokens', () => {
  it('GET /v1/runs/{id} carries a token valid at least 7 days; an end user rates with it and no credential, and rates again to change it', async () => {
    const t = await signup('fbt-flow');
    await createKey(t, { key: 'helpful', type: 'boolean' });
    const run = await echoRun(t);
    const { token, expiresAt } = run.feedbackToken;
    expect(token).toMatch(/^fbt_/);
    // At least 7 days, to the end of a UTC day (one token per run per day).
    const ttl = Date.parse(expiresAt) - Date.now();
    expect(ttl).toBeGreaterThan(FEEDBACK_TOKEN_TTL_MS);
    expect(ttl).toBeLessThanOrEqual(FEEDBACK_TOKEN_TTL_MS + 86_400_000);
    expect(expiresAt).toMatch(/T00:00:00\.000Z$/);

    const first = await expectJson(await rate(token, { key: 'helpful', score: false, comment: 'wrong city' }), 201);
    expect(first).toMatchObject({
      target: { type: 'run', id: run.id },
      score: 0,
      source: 'user',
      actor: { type: 'token', id: `run:${run.id}` },
      attributes: { runId: run.id, flowId: run.flowId },
    });
    const second = await expectJson(await rate(token, { key: 'helpful', score: true, target: { type: 'run', id: run.id } }), 200);
    expect(second).toMatchObject({ id: first.id, score: 1, comment: 'wrong city' });
    // The tenant sees it like any rating.
    expect((await get(t, `/v1/feedback?targetId=${run.id}`)).data.map((f: Json) => f.id)).toEqual([first.id]);
    // The token is limited to its tenant's keys and checks values like any rating.
    const p = await expectProblem(await rate(token, { key: 'stars', score: 3 }), 422);
    expect(p.errors.map((e: Json) => e.path)).toEqual(['key']);
  });

  it('cannot rate anything else: another target is 403, even one of the same tenant', async () => {
    const t = await signup('fbt-target');
    await createKey(t, { key: 'helpful', type: 'boolean' });
    const a = await echoRun(t, { n: 1 });
    const b = await echoRun(t, { n: 2 });
    await expectProblem(await rate(a.feedbackToken.token, { key: 'helpful', score: true, target: { type: 'run', id: b.id } }), 403);
    await expectProblem(
      await rate(a.feedbackToken.token, { key: 'helpful', score: true, target: { type: 'node', id: a.id, nodeId: 'echo' } }),
      403,
    );
    expect((await get(t, '/v1/feedback')).data).toEqual([]);
  });

  it('unknown, altered and cross-tenant tokens are 404 alike; expired ones are 410', async () => {
    const a = await signup('fbt-a');
    const b = await signup('fbt-b');
    await createKey(a, { key: 'helpful', type: 'boolean' });
    await createKey(b, { key: 'helpful', type: 'boolean' });
    const run = await echoRun(a);
    const token: string = run.feedbackToken.token;

    // Rewrite the claims to name tenant B (keeping A's signature): refused before anything in them is believed.
    const [payload, sig] = token.slice(4).split('.') as [string, string];
    const claims = JSON.parse(new TextDecoder().decode(fromB64(payload)));
    const forged = `fbt_${toB64Url(new TextEncoder().encode(JSON.stringify({ ...claims, t: b.tenantId })))}.${sig}`;
    const flipped = `${token.slice(0, -1)}${token.endsWith('0') ? '1' : '0'}`;
    const unknown = await expectProblem(await rate('fbt_nothing-here.0000', { key: 'helpful', score: true }), 404);
    for (const bad of [forged, flipped]) {
      const p = await expectProblem(await rate(bad, { key: 'helpful', score: true }), 404);
      expect(p.detail).toBe(unknown.detail);
    }
    // A genuine token of A's names A's run: B's keys and runs are out of its reach.
    expect((await get(b, '/v1/feedback')).data).toEqual([]);

    const expired = await signFeedbackToken(pepper(), {
      tenantId: a.tenantId,
      target: { type: 'run', id: run.id },
      expiresAt: Date.now() - 1000,
    });
    await expectProblem(await rate(expired, { key: 'helpful', score: true }), 410);
    // A credential on the request changes nothing: the token is the authority.
    const withAuth = await call(`/v1/feedback/by-token/${token}`, { token: b.accessToken, body: { key: 'helpful', score: true } });
    expect(withAuth.status).toBe(201);
    expect((await get(b, '/v1/feedback')).data).toEqual([]);
    expect((await get(a, '/v1/feedback')).data).toHaveLength(1);
  });

  it('POST /v1/feedback/tokens mints tokens per end-user subject (each keeps its own rating); foreign targets are 404', async () => {
    const t = await signup('fbt-mint');
    const other = await signup('fbt-mint-other');
    await createKey(t, { key: 'stars', type: 'numeric', min: 1, max: 5 });
    const run = await echoRun(t);
    const target = { type: 'node', id: run.id, nodeId: 'echo' };
    const alice = await post(t, '/v1/feedback/tokens', { target, subject: 'alice' });
    const bob = await post(t, '/v1/feedback/tokens', { target, subject: 'bob' });
    await expectJson(await rate(alice.token, { key: 'stars', score: 5 }), 201);
    await expectJson(await rate(bob.token, { key: 'stars', score: 2 }), 201);
    await expectJson(await rate(alice.token, { key: 'stars', score: 4 }), 200);
    const list = await get(t, `/v1/feedback?targetType=node&targetId=${run.id}`);
    expect(list.data.map((f: Json) => [f.actor.id, f.score])).toEqual([
      ['sub:bob', 2],
      ['sub:alice', 4],
    ]);
    await expectProblem(await call('/v1/feedback/tokens', { token: other.accessToken, body: { target } }), 404);
  });

  it('verifies exactly what it signed (pure check with the clock passed in)', async () => {
    const claims = { tenantId: 'tnt_x', target: { type: 'node' as const, id: 'run_y', nodeId: 'n' }, subject: 's', expiresAt: 2_000 };
    const token = await signFeedbackToken('pepper-1', claims);
    expect(await verifyFeedbackToken('pepper-1', token, 1_999)).toEqual({ ok: true, claims });
    expect(await verifyFeedbackToken('pepper-1', token, 2_000)).toEqual({ ok: false, reason: 'expired' });
    expect(await verifyFeedbackToken('pepper-2', token, 0)).toEqual({ ok: false, reason: 'invalid' });
  });
});
