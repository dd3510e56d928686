/**
 * /v1/llm/providers: CRUD, the key never leaving the server (responses, lists, the D1 row), name
 * uniqueness, validation, roles, and tenant isolation.
 */
import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import { llmKeyBox } from '../../../src/flows/llm/key-box';
import { addMember, createApiKey } from '../../support/workers/tenants';
import { addFakeProvider, api, expectStatus, FAKE_KEY, MODELS, newTag, seedTenant } from './llm-fixtures';

const PROBLEM = /^application\/problem\+json/;

async function row(id: string): Promise<Record<string, any> | null> {
  return env.DB.prepare('SELECT * FROM llm_providers WHERE id = ?1').bind(id).first<Record<string, any>>();
}

describe('llm providers: CRUD', () => {
  it('creates, gets, lists and deletes an openai provider; the key is shown only as a 4-character hint', async () => {
    const t = await seedTenant();
    const created = await addFakeProvider(t, 'main', newTag(), 'ok');
    expect(created).toMatchObject({ name: 'main', kind: 'openai', models: MODELS, keyHint: FAKE_KEY.slice(-4), createdBy: t.userId });
    expect(created.id).toMatch(/^llm_/);
    expect(created.baseUrl).toMatch(/\/v1$/);

    const got = await expectStatus(await api(`/v1/llm/providers/${created.id}`, { token: t.accessToken }), 200);
    expect(got).toEqual(created);
    const list = await expectStatus(await api('/v1/llm/providers', { token: t.accessToken }), 200);
    expect(list.data.map((p: { id: string }) => p.id)).toEqual([created.id]);
    expect(list.nextCursor).toBeNull();

    for (const body of [created, got, list]) {
      const text = JSON.stringify(body);
      expect(text).not.toContain(FAKE_KEY);
      expect(text).not.toMatch(/apiKey/);
    }

    expect((await api(`/v1/llm/providers/${created.id}`, { method: 'DELETE', token: t.accessToken })).status).toBe(204);
    await expectStatus(await api(`/v1/llm/providers/${created.id}`, { token: t.accessToken }), 404);
    await expectStatus(await api(`/v1/llm/providers/${created.id}`, { method: 'DELETE', token: t.accessToken }), 404);
    expect(await row(created.id)).toBeNull();
  });

  it('stores the key encrypted: no plaintext in the row, and the sealed value opens only for its own tenant and id', async () => {
    const t = await seedTenant();
    const created = await addFakeProvider(t, 'sealed', newTag(), 'ok');
    const stored = (await row(created.id))!;
    expect(JSON.stringify(stored)).not.toContain(FAKE_KEY);
    expect(JSON.stringify(stored)).not.toContain(FAKE_KEY.slice(3, 20));
    expect(stored.api_key_enc).toMatch(/^v1\.[\w-]+\.[\w-]+\.[\w-]+$/);
    expect(stored.key_hint).toBe(FAKE_KEY.slice(-4));

    const box = llmKeyBox(env);
    expect(await box.open(t.tenantId, created.id, stored.api_key_enc)).toBe(FAKE_KEY);
    // Bound to tenant and row: copying the ciphertext elsewhere does not open it.
    await expect(box.open('tnt_other', created.id, stored.api_key_enc)).rejects.toThrow();
    await expect(box.open(t.tenantId, 'llm_other', stored.api_key_enc)).rejects.toThrow();
    // A different deployment secret cannot open it either.
    await expect(
      llmKeyBox({ LLM_KEY_SECRET: 'another-secret-0123456789abcdef0123456789' }).open(t.tenantId, created.id, stored.api_key_enc),
    ).rejects.toThrow();
  });

  it('creates a workers-ai provider (no URL, no key) and an openai one without a key', async () => {
    const t = await seedTenant();
    const ai = await expectStatus(
      await api('/v1/llm/providers', {
        token: t.accessToken,
        body: { name: 'cf', kind: 'workers-ai', models: { fast: { model: '@cf/meta/llama-3.1-8b-instruct' } } },
      }),
      201,
    );
    expect(ai).toMatchObject({ kind: 'workers-ai', baseUrl: null, keyHint: null });
    expect((await row(ai.id))!.api_key_enc).toBeNull();
    const local = await expectStatus(
      await api('/v1/llm/providers', {
        token: t.accessToken,
        body: { name: 'local', kind: 'openai', baseUrl: 'http://127.0.0.1:11434/v1/', models: MODELS },
      }),
      201,
    );
    expect(local).toMatchObject({ keyHint: null, baseUrl: 'http://127.0.0.1:11434/v1' });
  });

  it('a short key gets no hint', async () => {
    const t = await seedTenant();
    const p = await expectStatus(
      await api('/v1/llm/providers', {
        token: t.accessToken,
        body: { name: 'short', kind: 'openai', baseUrl: 'https://llm.example.com/v1', apiKey: 'abc12345', models: MODELS },
      }),
      201,
    );
    expect(p.keyHint).toBeNull();
  });

  it('paginates with a cursor', async () => {
    const t = await seedTenant();
    const tag = newTag();
    const ids = [];
    for (const name of ['a', 'b', 'c']) ids.push((await addFakeProvider(t, name, tag, 'ok')).id);
    const first = await expectStatus(await api('/v1/llm/providers?limit=2', { token: t.accessToken }), 200);
    expect(first.data).toHaveLength(2);
    const second = await expectStatus(await api(`/v1/llm/providers?limit=2&cursor=${first.nextCursor}`, { token: t.accessToken }), 200);
    expect([...first.data, ...second.data].map((p: { id: string }) => p.id).sort()).toEqual(ids.sort());
    expect(second.nextCursor).toBeNull();
  });
});

describe('llm providers: conflicts and validation', () => {
  it('a second provider with the same name answers 409; another tenant may reuse the name', async () => {
    const t = await seedTenant();
    const tag = newTag();
    await addFakeProvider(t, 'dup', tag, 'ok');
    const res = await api('/v1/llm/providers', { token: t.accessToken, body: { name: 'dup', kind: 'workers-ai', models: MODELS } });
    expect(res.headers.get('content-type')).toMatch(PROBLEM);
    expect((await expectStatus(res, 409)).code).toBe('conflict');
    const other = await seedTenant();
    await addFakeProvider(other, 'dup', tag, 'ok');
  });

  it.each([
    ['no models', { name: 'x', kind: 'openai', baseUrl: 'https://a.example/v1', models: {} }, 'models'],
    ['unknown kind', { name: 'x', kind: 'anthropic', baseUrl: 'https://a.example/v1', models: MODELS }, 'kind'],
    ['openai without baseUrl', { name: 'x', kind: 'openai', models: MODELS }, 'baseUrl'],
    ['not a URL', { name: 'x', kind: 'openai', baseUrl: 'api.example.com', models: MODELS }, 'baseUrl'],
    ['ftp URL', { name: 'x', kind: 'openai', baseUrl: 'ftp://a.example/v1', models: MODELS }, 'baseUrl'],
    ['credentials in URL', { name: 'x', kind: 'openai', baseUrl: 'https://user:pw@a.example/v1', models: MODELS }, 'baseUrl'],
    ['workers-ai with a key', { name: 'x', kind: 'workers-ai', apiKey: 'sk-zzzzzzzzzzzzzzzz', models: MODELS }, 'apiKey'],
    ['bad name', { name: 'has space', kind: 'workers-ai', models: MODELS }, 'name'],
    [
      'negative cost',
      { name: 'x', kind: 'workers-ai', models: { fast: { model: 'm', inputCostPer1M: -1 } } },
      'models.fast.inputCostPer1M',
    ],
    ['model entry without model', { name: 'x', kind: 'workers-ai', models: { fast: {} } }, 'models.fast.model'],
  ])('%s → 422 naming the field', async (_label, body, path) => {
    const t = await seedTenant();
    const problem = await expectStatus(await api('/v1/llm/providers', { token: t.accessToken, body }), 422);
    expect(problem.code).toBe('validation_failed');
    expect(problem.errors.map((e: { path: string }) => e.path)).toContain(path);
    expect(JSON.stringify(problem)).not.toContain('sk-zzzz');
  });

  it('staging/production refuse plain http and private hosts', async () => {
    const t = await seedTenant();
    const deployed = { ...env, ENVIRONMENT: 'production' } as Env;
    for (const baseUrl of ['http://api.example.com/v1', 'https://127.0.0.1/v1', 'https://10.1.2.3/v1', 'https://localhost/v1']) {
      const problem = await expectStatus(
        await api('/v1/llm/providers', {
          token: t.accessToken,
          env: deployed,
          body: { name: 'p', kind: 'openai', baseUrl, models: MODELS },
        }),
        422,
      );
      expect(problem.errors[0].path).toBe('baseUrl');
    }
    await expectStatus(
      await api('/v1/llm/providers', {
        token: t.accessToken,
        env: deployed,
        body: { name: 'p', kind: 'openai', baseUrl: 'https://api.example.com/v1', models: MODELS },
      }),
      201,
    );
  });

  it('without LLM_KEY_SECRET a provider with a key is refused (500, no row), never stored in plaintext', async () => {
    const t = await seedTenant();
    const bare = { ...env, LLM_KEY_SECRET: '' } as Env;
    const res = await api('/v1/llm/providers', {
      token: t.accessToken,
      env: bare,
      body: { name: 'nokey', kind: 'openai', baseUrl: 'https://api.example.com/v1', apiKey: FAKE_KEY, models: MODELS },
    });
    const problem = await expectStatus(res, 500);
    expect(JSON.stringify(problem)).not.toContain(FAKE_KEY);
    const rows = await env.DB.prepare('SELECT COUNT(*) AS n FROM llm_providers WHERE tenant_id = ?1')
      .bind(t.tenantId)
      .first<{ n: number }>();
    expect(rows?.n).toBe(0);
  });
});

describe('llm providers: roles', () => {
  it('members and viewers read; only admins (and admin API keys) write', async () => {
    const t = await seedTenant();
    const p = await addFakeProvider(t, 'ro', newTag(), 'ok');
    const member = await addMember(t, 'member');
    const viewer = await addMember(t, 'viewer');
    const adminKey = await createApiKey(t, 'admin');
    const memberKey = await createApiKey(t, 'member');
    for (const token of [member.accessToken, viewer.accessToken, memberKey.key]) {
      await expectStatus(await api(`/v1/llm/providers/${p.id}`, { token }), 200);
      await expectStatus(await api('/v1/llm/providers', { token }), 200);
      await expectStatus(await api('/v1/llm/providers', { token, body: { name: 'nope', kind: 'workers-ai', models: MODELS } }), 403);
      await expectStatus(await api(`/v1/llm/providers/${p.id}`, { method: 'DELETE', token }), 403);
    }
    await expectStatus(
      await api('/v1/llm/providers', { token: adminKey.key, body: { name: 'bykey', kind: 'workers-ai', models: MODELS } }),
      201,
    );
    await expectStatus(await api('/v1/llm/providers'), 401);
  });
});

describe('llm providers: tenant isolation', () => {
  it("another tenant's provider id answers 404 to GET and DELETE, exactly like an unknown id, and stays intact", async () => {
    const a = await seedTenant('iso-a');
    const b = await seedTenant('iso-b');
    const p = await addFakeProvider(a, 'secret', newTag(), 'ok');
    const unknown = `${p.id.slice(0, -4)}zzzz`;
    for (const method of ['GET', 'DELETE']) {
      const theirs = await expectStatus(await api(`/v1/llm/providers/${p.id}`, { method, token: b.accessToken }), 404);
      const none = await expectStatus(await api(`/v1/llm/providers/${unknown}`, { method, token: b.accessToken }), 404);
      const strip = (x: Record<string, any>, id: string) =>
        JSON.parse(JSON.stringify({ ...x, requestId: undefined, instance: undefined }).replaceAll(id, '<id>'));
      expect(strip(theirs, p.id)).toEqual(strip(none, unknown));
    }
    const bList = await expectStatus(await api('/v1/llm/providers', { token: b.accessToken }), 200);
    expect(JSON.stringify(bList)).not.toContain(p.id);
    expect(await expectStatus(await api(`/v1/llm/providers/${p.id}`, { token: a.accessToken }), 200)).toEqual(p);
  });
});
