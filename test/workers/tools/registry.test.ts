// The tool registry through the API: create, list, get, PATCH (versions), DELETE, validation, permissions.
import { describe, expect, it } from 'vitest';
import { call, expectJson } from '../../support/workers/http';
import { addMember, createApiKey, signup } from '../../support/workers/tenants';
import { createTool, GREETING_SCHEMA, JS_HELLO, NAME_SCHEMA, PY_HELLO, toolName } from './_support';

describe('tool registry', () => {
  it('registers a Python and a JavaScript tool as version 1', async () => {
    const t = await signup('tools-reg');
    const py = await createTool(t, { description: 'greets' });
    expect(py).toMatchObject({
      version: 1,
      runtime: 'python3',
      code: PY_HELLO,
      inputSchema: NAME_SCHEMA,
      outputSchema: GREETING_SCHEMA,
      timeoutMs: 5_000,
      memoryMb: 128,
      network: 'none',
      description: 'greets',
      createdBy: t.userId,
    });
    expect(py.id).toMatch(/^tol_[0-9a-z]{26}$/);
    const js = await createTool(t, {
      runtime: 'node',
      code: JS_HELLO,
      outputSchema: undefined,
      network: { allow: ['api.example.com', '*.example.org:8443'] },
    });
    expect(js).toMatchObject({
      runtime: 'node',
      outputSchema: null,
      network: { allow: ['api.example.com', '*.example.org:8443'] },
      timeoutMs: 5_000,
    });
    const got = await expectJson(await call(`/v1/tools/${py.id}`, { token: t.accessToken }), 200);
    expect(got).toEqual(py);
  });

  it('lists tools newest first, without code or schemas, with a cursor', async () => {
    const t = await signup('tools-list');
    const ids = [];
    for (let i = 0; i < 3; i++) ids.push((await createTool(t)).id);
    const first = await expectJson(await call('/v1/tools?limit=2', { token: t.accessToken }), 200);
    expect(first.data.map((x: { id: string }) => x.id)).toEqual([ids[2], ids[1]]);
    expect(first.data[0]).not.toHaveProperty('code');
    expect(first.data[0]).not.toHaveProperty('inputSchema');
    expect(first.data[0]).toMatchObject({ version: 1, runtime: 'python3' });
    const second = await expectJson(await call(`/v1/tools?limit=2&cursor=${first.nextCursor}`, { token: t.accessToken }), 200);
    expect(second).toMatchObject({ data: [{ id: ids[0] }], nextCursor: null });
  });

  it('names are unique per tenant (409) but free across tenants', async () => {
    const a = await signup('tools-name-a');
    const b = await signup('tools-name-b');
    const name = toolName('dup');
    await createTool(a, { name });
    const dup = await call('/v1/tools', { token: a.accessToken, body: { name, runtime: 'node', code: JS_HELLO, inputSchema: true } });
    const problem = await expectJson(dup, 409);
    expect(problem).toMatchObject({ code: 'conflict', errors: [{ path: 'name' }] });
    await createTool(b, { name });
  });

  it('validates inputSchema/outputSchema as JSON Schema on save (422 with paths)', async () => {
    const t = await signup('tools-schema');
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ inputSchema: { type: 'strin' } }, 'inputSchema.type'],
      [{ inputSchema: { type: 'object', properties: { a: { minLength: -1 } } } }, 'inputSchema.properties.a.minLength'],
      [{ inputSchema: { type: 'object', required: 'name' } }, 'inputSchema.required'],
      [{ inputSchema: { type: 'string', pattern: '(' } }, 'inputSchema.pattern'],
      [{ inputSchema: { $ref: 'https://evil.example/schema.json' } }, 'inputSchema.$ref'],
      [{ inputSchema: { $ref: '#/$defs/missing' } }, 'inputSchema'],
      [{ outputSchema: { type: 'object', properties: { x: { type: 7 } } } }, 'outputSchema.properties.x.type'],
    ];
    for (const [patch, path] of cases) {
      const res = await call('/v1/tools', {
        token: t.accessToken,
        body: { name: toolName(), runtime: 'python3', code: PY_HELLO, inputSchema: NAME_SCHEMA, ...patch },
      });
      const problem = await expectJson(res, 422);
      expect(problem.code, JSON.stringify(patch)).toBe('validation_failed');
      expect(
        problem.errors.map((e: { path: string }) => e.path),
        JSON.stringify(patch),
      ).toContain(path);
    }
  });

  it('rejects bad fields and limits with 422', async () => {
    const t = await signup('tools-fields');
    const base = { name: toolName(), runtime: 'python3', code: PY_HELLO, inputSchema: true };
    const bad: Array<[Record<string, unknown>, string]> = [
      [{ runtime: 'ruby' }, 'runtime'],
      [{ timeoutMs: 60_001 }, 'timeoutMs'],
      [{ memoryMb: 4096 }, 'memoryMb'],
      [{ code: '' }, 'code'],
      [{ name: 'has space' }, 'name'],
      [{ network: { allow: ['HTTP://x'] } }, 'network'],
      [{ network: 'all' }, 'network'],
      [{ tenantId: 'tnt_x' }, 'tenantId'],
    ];
    for (const [patch, path] of bad) {
      const problem = await expectJson(await call('/v1/tools', { token: t.accessToken, body: { ...base, ...patch } }), 422);
      expect(
        problem.errors.map((e: { path: string }) => e.path.split('.')[0]),
        JSON.stringify(patch),
      ).toContain(path);
    }
  });

  it('PATCH of name/description changes the tool in place; of code, schemas or limits adds a version', async () => {
    const t = await signup('tools-patch');
    const tool = await createTool(t);
    const path = `/v1/tools/${tool.id}`;
    const renamed = await expectJson(
      await call(path, { method: 'PATCH', token: t.accessToken, body: { description: 'now described', name: toolName('renamed') } }),
      200,
    );
    expect(renamed).toMatchObject({ version: 1, description: 'now described' });
    const same = await expectJson(await call(path, { method: 'PATCH', token: t.accessToken, body: { timeoutMs: 5_000 } }), 200);
    expect(same.version).toBe(1); // an unchanged value is not a new version
    const v2 = await expectJson(
      await call(path, { method: 'PATCH', token: t.accessToken, body: { code: PY_HELLO.replace('Hello', 'Hi') } }),
      200,
    );
    expect(v2).toMatchObject({ version: 2, timeoutMs: 5_000, description: 'now described' });
    const v3 = await expectJson(
      await call(path, { method: 'PATCH', token: t.accessToken, body: { memoryMb: 256, outputSchema: null } }),
      200,
    );
    expect(v3).toMatchObject({ version: 3, memoryMb: 256, outputSchema: null, code: v2.code });
    const versions = await expectJson(await call(`${path}/versions?limit=2`, { token: t.accessToken }), 200);
    expect(versions.data.map((v: { version: number }) => v.version)).toEqual([3, 2]);
    const older = await expectJson(await call(`${path}/versions?limit=2&cursor=${versions.nextCursor}`, { token: t.accessToken }), 200);
    expect(older.data).toEqual([
      expect.objectContaining({ toolId: tool.id, version: 1, code: PY_HELLO, memoryMb: 128, outputSchema: GREETING_SCHEMA }),
    ]);
    expect(await expectJson(await call(path, { method: 'PATCH', token: t.accessToken, body: {} }), 422)).toMatchObject({
      code: 'validation_failed',
    });
    expect(
      await expectJson(await call(path, { method: 'PATCH', token: t.accessToken, body: { inputSchema: { type: 'nope' } } }), 422),
    ).toMatchObject({ code: 'validation_failed' });
  });

  it('PATCH to a name another tool has → 409; DELETE removes tool and versions → 404 after', async () => {
    const t = await signup('tools-del');
    const a = await createTool(t);
    const b = await createTool(t);
    await expectJson(await call(`/v1/tools/${b.id}`, { method: 'PATCH', token: t.accessToken, body: { name: a.name } }), 409);
    expect((await call(`/v1/tools/${a.id}`, { method: 'DELETE', token: t.accessToken })).status).toBe(204);
    for (const p of [`/v1/tools/${a.id}`, `/v1/tools/${a.id}/versions`]) await expectJson(await call(p, { token: t.accessToken }), 404);
    await expectJson(await call(`/v1/tools/${a.id}`, { method: 'DELETE', token: t.accessToken }), 404);
    // The name is free again.
    await createTool(t, { name: a.name });
  });

  it('viewers read, members write, unauthenticated callers get 401', async () => {
    const owner = await signup('tools-perm');
    const viewer = await addMember(owner, 'viewer');
    const member = await addMember(owner, 'member');
    const viewerKey = await createApiKey(owner, 'viewer');
    const tool = await createTool(owner);
    await expectJson(await call(`/v1/tools/${tool.id}`, { token: viewer.accessToken }), 200);
    await expectJson(await call('/v1/tools', { token: viewerKey.key }), 200);
    await expectJson(
      await call('/v1/tools', {
        token: viewer.accessToken,
        body: { name: toolName(), runtime: 'node', code: JS_HELLO, inputSchema: true },
      }),
      403,
    );
    await expectJson(await call(`/v1/tools/${tool.id}`, { method: 'PATCH', token: viewerKey.key, body: { description: 'x' } }), 403);
    await expectJson(await call(`/v1/tools/${tool.id}/invoke`, { token: viewer.accessToken, body: { input: { name: 'v' } } }), 403);
    await expectJson(await call(`/v1/tools/${tool.id}`, { method: 'DELETE', token: viewer.accessToken }), 403);
    await createTool(member, { runtime: 'node', code: JS_HELLO });
    await expectJson(await call('/v1/tools'), 401);
  });
});
