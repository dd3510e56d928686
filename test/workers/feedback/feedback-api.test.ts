/**
 * Feedback through the public API: keys and their validation, one rating per (target, key, rater)
 * with upsert, value checks per key type naming the field, filters and cursor pages, edits and
 * deletes, the sync entity, and signed `feedback.*` webhooks verified with `standardwebhooks`.
 */
import { describe, expect, it } from 'vitest';
import { call, expectJson, expectProblem } from '../../support/workers/http';
import { createApiKey, signup } from '../../support/workers/tenants';
import { createHook, receivedAtLeast } from '../events/_support';
import { createKey, echoRun, get, type Json, post } from './_support';

const STARS = { key: 'stars', type: 'numeric', min: 1, max: 5, description: 'How good was the answer' };
const HELPFUL = { key: 'helpful', type: 'boolean' };
const TONE = { key: 'tone', type: 'categorical', categories: ['formal', 'casual', 'rude'], higherIsBetter: false };
const NOTE = { key: 'note', type: 'text' };

function fields(problem: Json): string[] {
  return (problem.errors ?? []).map((e: Json) => e.path);
}

describe('feedback keys', () => {
  it('creates each type, lists by name, patches, and deletes a key without ratings', async () => {
    const t = await signup('fb-keys');
    const stars = await createKey(t, STARS);
    expect(stars).toMatchObject({ key: 'stars', type: 'numeric', min: 1, max: 5, categories: null, higherIsBetter: true, drift: null });
    await createKey(t, HELPFUL);
    await createKey(t, TONE);
    await createKey(t, NOTE);
    const page = await get(t, '/v1/feedback-keys?limit=3');
    expect(page.data.map((k: Json) => k.key)).toEqual(['helpful', 'note', 'stars']);
    const rest = await get(t, `/v1/feedback-keys?limit=3&cursor=${page.nextCursor}`);
    expect(rest).toMatchObject({ data: [{ key: 'tone' }], nextCursor: null });

    const patched = await expectJson(
      await call('/v1/feedback-keys/stars', {
        method: 'PATCH',
        token: t.accessToken,
        body: { description: 'Stars', max: 10, drift: { window: '1d', margin: 0.5 } },
      }),
    );
    expect(patched).toMatchObject({ max: 10, description: 'Stars', drift: { window: '1d', margin: 0.5, minSamples: 20 } });
    expect((await call('/v1/feedback-keys/note', { method: 'DELETE', token: t.accessToken })).status).toBe(204);
    await expectProblem(await call('/v1/feedback-keys/note', { token: t.accessToken }), 404);
    await expectProblem(await call('/v1/feedback-keys', { token: t.accessToken, body: HELPFUL }), 409);
  });

  it('refuses shapes that do not fit the type, naming the field (422)', async () => {
    const t = await signup('fb-keys-422');
    const cases: Array<[Json, string]> = [
      [{ key: 'n', type: 'numeric', min: 1 }, 'max'],
      [{ key: 'n', type: 'numeric', min: 5, max: 1 }, 'max'],
      [{ key: 'c', type: 'categorical' }, 'categories'],
      [{ key: 'c', type: 'categorical', categories: ['a', 'a'] }, 'categories'],
      [{ key: 'b', type: 'boolean', categories: ['x'] }, 'categories'],
      [{ key: 't', type: 'text', min: 0 }, 'min'],
      [{ key: 'Bad Key', type: 'text' }, 'key'],
      [{ key: 'd', type: 'boolean', drift: { window: '3w', margin: 0.1 } }, 'drift.window'],
      [{ key: 'x', type: 'stars' }, 'type'],
      [{ key: 'x', type: 'text', extra: 1 }, 'extra'],
    ];
    for (const [body, field] of cases) {
      const p = await expectProblem(await call('/v1/feedback-keys', { token: t.accessToken, body }), 422);
      expect({ body, fields: fields(p) }).toMatchObject({ body, fields: expect.arrayContaining([field]) });
    }
  });

  it('keys are admin resources: a member reads them but cannot create one', async () => {
    const t = await signup('fb-keys-role');
    const key = await createApiKey(t, 'member');
    await expectProblem(await call('/v1/feedback-keys', { token: key.key, body: HELPFUL }), 403);
    await createKey(t, HELPFUL);
    expect((await get(key.key, '/v1/feedback-keys')).data).toHaveLength(1);
  });
});

describe('ratings', () => {
  it('one record per (target, key, rater): the same caller rating again updates it; another caller adds one', async () => {
    const t = await signup('fb-upsert');
    await createKey(t, STARS);
    const run = await echoRun(t);
    const target = { type: 'run', id: run.id };
    const first = await post(t, '/v1/feedback', { target, key: 'stars', score: 2, comment: 'meh' });
    expect(first).toMatchObject({
      target,
      key: 'stars',
      score: 2,
      value: null,
      comment: 'meh',
      source: 'user',
      actor: { type: 'user', id: t.userId },
      attributes: { runId: run.id, flowId: run.flowId, flowVersion: 1, provider: null },
    });
    const again = await post(t, '/v1/feedback', { target, key: 'stars', score: 5, correction: { answer: 'better' } }, 200);
    expect(again).toMatchObject({ id: first.id, score: 5, comment: 'meh', correction: { answer: 'better' }, createdAt: first.createdAt });

    const apiKey = await createApiKey(t, 'member');
    const byKey = await post(apiKey.key, '/v1/feedback', { target, key: 'stars', score: 4 });
    expect(byKey).toMatchObject({ source: 'api', actor: { type: 'api_key', id: apiKey.id } });
    expect(byKey.id).not.toBe(first.id);
    const list = await get(t, `/v1/feedback?targetId=${run.id}`);
    expect(list.data.map((f: Json) => f.id)).toEqual([byKey.id, first.id]);
  });

  it('a value that does not fit its key is a 422 naming the field', async () => {
    const t = await signup('fb-422');
    for (const k of [STARS, HELPFUL, TONE, NOTE]) await createKey(t, k);
    const run = await echoRun(t);
    const target = { type: 'run', id: run.id };
    const cases: Array<[Json, string]> = [
      [{ key: 'stars', score: 6 }, 'score'],
      [{ key: 'stars', score: 0.5 }, 'score'],
      [{ key: 'stars' }, 'score'],
      [{ key: 'stars', value: 'five' }, 'value'],
      [{ key: 'helpful', score: 2 }, 'score'],
      [{ key: 'tone', value: 'angry' }, 'value'],
      [{ key: 'tone', score: 1 }, 'score'],
      [{ key: 'note', score: 3 }, 'score'],
      [{ key: 'nope', score: 1 }, 'key'],
      [{ key: 'stars', score: 'x' }, 'score'],
    ];
    for (const [body, field] of cases) {
      const p = await expectProblem(await call('/v1/feedback', { token: t.accessToken, body: { target, ...body } }), 422);
      expect({ body, fields: fields(p) }).toEqual({ body, fields: [field] });
    }
    // Targets: a node target names its node; a run target does not; a chat message names its chat, nothing else does.
    const bad: Array<[Json, string]> = [
      [{ type: 'node', id: run.id }, 'target.nodeId'],
      [{ type: 'run', id: run.id, nodeId: 'echo' }, 'target.nodeId'],
      [{ type: 'chat_message', id: 'msg_1' }, 'target.chatId'],
      [{ type: 'run', id: run.id, chatId: 'c1' }, 'target.chatId'],
      [{ type: 'bogus', id: run.id }, 'target.type'],
    ];
    for (const [tgt, field] of bad) {
      const p = await expectProblem(
        await call('/v1/feedback', { token: t.accessToken, body: { target: tgt, key: 'helpful', score: true } }),
        422,
      );
      expect({ tgt, fields: fields(p) }).toEqual({ tgt, fields: [field] });
    }
    // Each type accepts its own shape.
    await post(t, '/v1/feedback', { target, key: 'helpful', score: true });
    await post(t, '/v1/feedback', { target, key: 'tone', value: 'casual' });
    await post(t, '/v1/feedback', { target, key: 'note', value: 'Too long' });
    const ratings = await get(t, `/v1/feedback?targetId=${run.id}&limit=10`);
    expect(ratings.data.map((f: Json) => [f.key, f.score, f.value])).toEqual([
      ['note', null, 'Too long'],
      ['tone', null, 'casual'],
      ['helpful', 1, null],
    ]);
  });

  it('node and tool-invocation targets; unknown ids are 404', async () => {
    const t = await signup('fb-targets');
    await createKey(t, HELPFUL);
    const run = await echoRun(t);
    const node = await post(t, '/v1/feedback', { target: { type: 'node', id: run.id, nodeId: 'echo' }, key: 'helpful', score: false });
    expect(node).toMatchObject({ target: { type: 'node', id: run.id, nodeId: 'echo' }, attributes: { runId: run.id, nodeId: 'echo' } });
    await expectProblem(
      await call('/v1/feedback', {
        token: t.accessToken,
        body: { target: { type: 'node', id: run.id, nodeId: 'ghost' }, key: 'helpful', score: true },
      }),
      404,
    );
    await expectProblem(
      await call('/v1/feedback', {
        token: t.accessToken,
        body: { target: { type: 'run', id: 'run_01hzy0000000000000000000000' }, key: 'helpful', score: true },
      }),
      404,
    );
    await expectProblem(
      await call('/v1/feedback', {
        token: t.accessToken,
        body: { target: { type: 'tool_invocation', id: 'inv_01hzy0000000000000000000000' }, key: 'helpful', score: true },
      }),
      404,
    );
  });

  it('lists with filters and cursor pages; PATCH re-checks against the key; DELETE removes', async () => {
    const t = await signup('fb-list');
    await createKey(t, STARS);
    await createKey(t, HELPFUL);
    const runs = [await echoRun(t, { n: 1 }), await echoRun(t, { n: 2 }), await echoRun(t, { n: 3 })];
    const ids: string[] = [];
    for (const r of runs) {
      ids.push((await post(t, '/v1/feedback', { target: { type: 'run', id: r.id }, key: 'stars', score: 3 })).id);
      ids.push((await post(t, '/v1/feedback', { target: { type: 'run', id: r.id }, key: 'helpful', score: true, source: 'model' })).id);
    }
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page: Json = await get(t, `/v1/feedback?limit=4${cursor ? `&cursor=${cursor}` : ''}`);
      seen.push(...page.data.map((f: Json) => f.id));
      cursor = page.nextCursor;
    } while (cursor);
    expect(seen).toEqual([...ids].reverse());
    expect((await get(t, '/v1/feedback?key=stars')).data).toHaveLength(3);
    expect((await get(t, '/v1/feedback?source=model')).data.map((f: Json) => f.key)).toEqual(['helpful', 'helpful', 'helpful']);
    expect((await get(t, `/v1/feedback?targetType=run&targetId=${runs[1]!.id}&key=helpful`)).data.map((f: Json) => f.id)).toEqual([ids[3]]);
    const future = new Date(Date.now() + 3600_000).toISOString();
    expect((await get(t, `/v1/feedback?from=${future}`)).data).toEqual([]);
    expect((await get(t, `/v1/feedback?to=${future}`)).data).toHaveLength(6);
    await expectProblem(await call('/v1/feedback?from=yesterday', { token: t.accessToken }), 422);

    const edited = await expectJson(
      await call(`/v1/feedback/${ids[0]}`, { method: 'PATCH', token: t.accessToken, body: { score: 1, comment: 'worse' } }),
    );
    expect(edited).toMatchObject({ id: ids[0], score: 1, comment: 'worse' });
    const p = await expectProblem(await call(`/v1/feedback/${ids[0]}`, { method: 'PATCH', token: t.accessToken, body: { score: 9 } }), 422);
    expect(fields(p)).toEqual(['score']);
    expect((await call(`/v1/feedback/${ids[0]}`, { method: 'DELETE', token: t.accessToken })).status).toBe(204);
    await expectProblem(await call(`/v1/feedback/${ids[0]}`, { token: t.accessToken }), 404);
    // A key with ratings can change its wording, not its shape, and cannot be deleted.
    await expectProblem(await call('/v1/feedback-keys/stars', { method: 'PATCH', token: t.accessToken, body: { max: 10 } }), 409);
    await expectJson(await call('/v1/feedback-keys/stars', { method: 'PATCH', token: t.accessToken, body: { description: 'ok' } }));
    await expectProblem(await call('/v1/feedback-keys/stars', { method: 'DELETE', token: t.accessToken }), 409);
  });

  it('viewers read ratings but cannot rate', async () => {
    const t = await signup('fb-viewer');
    await createKey(t, HELPFUL);
    const run = await echoRun(t);
    const viewer = await createApiKey(t, 'viewer');
    await expectProblem(
      await call('/v1/feedback', { token: viewer.key, body: { target: { type: 'run', id: run.id }, key: 'helpful', score: true } }),
      403,
    );
    expect((await get(viewer.key, '/v1/feedback')).data).toEqual([]);
  });
});

describe('feedback on the sync stream and as webhooks', () => {
  it('ratings are a sync entity: upserts and deletes on the change log, current ones in the snapshot', async () => {
    const t = await signup('fb-sync');
    await createKey(t, HELPFUL);
    const run = await echoRun(t);
    const { version: since } = await get(t, '/v1/sync?since=0&limit=1000').then(async (p) => {
      let page = p;
      while (page.hasMore) page = await get(t, `/v1/sync?since=${page.version}&limit=1000`);
      return page;
    });
    const f = await post(t, '/v1/feedback', { target: { type: 'run', id: run.id }, key: 'helpful', score: true });
    const gone = await post(t, '/v1/feedback', { target: { type: 'node', id: run.id, nodeId: 'echo' }, key: 'helpful', score: false });
    expect((await call(`/v1/feedback/${gone.id}`, { method: 'DELETE', token: t.accessToken })).status).toBe(204);
    const changes = (await get(t, `/v1/sync?since=${since}`)).changes.filter((c: Json) => c.entity === 'feedback');
    expect(changes.map((c: Json) => [c.entityId, c.op])).toEqual([
      [f.id, 'upsert'],
      [gone.id, 'upsert'],
      [gone.id, 'delete'],
    ]);
    expect(changes[0].data).toEqual(f);
    const snapshot = await get(t, '/v1/sync/snapshot?limit=100');
    expect(snapshot.data.filter((i: Json) => i.entity === 'feedback')).toEqual([{ entity: 'feedback', entityId: f.id, data: f }]);
    // Paging the snapshot one item at a time walks tasks, notifications, then feedback.
    const first = await get(t, '/v1/sync/snapshot?limit=1');
    expect(first.data).toHaveLength(1);
  });

  it('feedback.created / updated / deleted are delivered as signed webhooks (verified with standardwebhooks)', async () => {
    const t = await signup('fb-hooks');
    await createKey(t, STARS);
    const hook = await createHook(t, { tag: 'fb', eventTypes: ['feedback.*'] });
    const run = await echoRun(t);
    const target = { type: 'run', id: run.id };
    const f = await post(t, '/v1/feedback', { target, key: 'stars', score: 4 });
    await post(t, '/v1/feedback', { target, key: 'stars', score: 5 }, 200);
    expect((await call(`/v1/feedback/${f.id}`, { method: 'DELETE', token: t.accessToken })).status).toBe(204);
    const got = await receivedAtLeast(hook.name, 3, 20_000);
    for (const r of got) expect(r.verifiedWith).toEqual([0]);
    const payloads = [...got].sort((a, b) => a.payload!.sequence - b.payload!.sequence).map((r) => r.payload!);
    expect(payloads.map((p) => p.type)).toEqual(['feedback.created', 'feedback.updated', 'feedback.deleted']);
    expect(payloads[0]!.data.feedback).toMatchObject({ id: f.id, score: 4, target });
    expect(payloads[1]!.data.feedback).toMatchObject({ id: f.id, score: 5 });
    expect(payloads[2]!.data).toEqual({ feedbackId: f.id, target, key: 'stars' });
  });
});
