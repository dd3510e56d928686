/**
 * The bad input a Schemathesis run found (issue 13 item 8), each over real HTTP against the bundled
 * Worker: no 500, and every answer matches the schema /openapi.json publishes for it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api as request, signup } from '../support/node/api';
import { fetchOpenApi, type OpenApiDoc, responseSchema, schemaErrors } from '../support/node/contract';
import { type RunningWorker, startWorker } from '../support/node/worker';

type Json = Record<string, any>;
let worker: RunningWorker;
let doc: OpenApiDoc;
beforeAll(async () => {
  worker = await startWorker();
  doc = await fetchOpenApi(worker);
});
afterAll(() => worker?.dispose());

const api = (method: string, path: string, token: string | undefined, body?: unknown) => request(worker, method, path, token, body);

function expectDocumented(method: string, path: string, res: { status: number; body: unknown }): void {
  const schema = responseSchema(doc, method, path, res.status);
  expect(schema, `${method} ${path} ${res.status} has a documented schema`).not.toBeNull();
  expect(schemaErrors(doc, schema!, res.body), `${method} ${path} ${res.status}: ${JSON.stringify(res.body)}`).toEqual([]);
}

/** Sends raw bytes as a JSON body. */
async function rawPost(path: string, token: string, bytes: Uint8Array<ArrayBuffer> | string): Promise<{ status: number; body: Json }> {
  const res = await worker.fetch(path, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: bytes,
  });
  return { status: res.status, body: (await res.json()) as Json };
}

describe('fuzzing findings, fixed', () => {
  it('GET /v1/tasks?q= with a long term or many % answers 200, and % is matched literally', async () => {
    const t = await signup(worker, 'fuzz-q');
    const long = 'a'.repeat(60);
    await api('POST', '/v1/tasks', t.accessToken, { title: `x ${long} y` });
    await api('POST', '/v1/tasks', t.accessToken, { title: 'discount 50% off' });
    await api('POST', '/v1/tasks', t.accessToken, { title: 'discount 50 off' });
    for (const q of [long, '%'.repeat(40), '_'.repeat(40), `${'%_'.repeat(100)}`]) {
      const res = await api('GET', `/v1/tasks?q=${encodeURIComponent(q)}`, t.accessToken);
      expect(res.status, q).toBe(200);
      expectDocumented('GET', '/v1/tasks', res);
    }
    expect((await api('GET', `/v1/tasks?q=${long}`, t.accessToken)).body.data).toHaveLength(1);
    const pct = await api('GET', `/v1/tasks?q=${encodeURIComponent('50%')}`, t.accessToken);
    expect(pct.body.data.map((x: Json) => x.title)).toEqual(['discount 50% off']);
  });

  it('GET /v1/runs/{id}/ws without Upgrade answers 400 like the sync socket', async () => {
    const t = await signup(worker, 'fuzz-ws');
    for (const path of ['/v1/runs/run_00000000000000000000000000/ws', '/v1/sync/ws']) {
      const res = await api('GET', path, t.accessToken);
      expect(res.status, path).toBe(400);
      expect(res.body.type).toBe('https://edgecrew.dev/problems/bad-request');
    }
  });

  it('GET|PATCH /v1/tenant with an httpAllowlist answer bodies that match the published schema', async () => {
    const t = await signup(worker, 'fuzz-tenant');
    const patch = await api('PATCH', '/v1/tenant', t.accessToken, {
      settings: { httpAllowlist: ['api.example.com', '*.Example.org', '*'] },
    });
    expect(patch.status).toBe(200);
    expectDocumented('PATCH', '/v1/tenant', patch);
    const get = await api('GET', '/v1/tenant', t.accessToken);
    expectDocumented('GET', '/v1/tenant', get);
    const bad = await api('PATCH', '/v1/tenant', t.accessToken, { settings: { httpAllowlist: ['https://x.example.com/path'] } });
    expect(bad.status).toBe(422);
  });

  it('GET /v1/me answers per its schema for a user and for an API key', async () => {
    const t = await signup(worker, 'fuzz-me');
    const key = await api('POST', '/v1/api-keys', t.accessToken, { name: 'k', role: 'member' });
    for (const token of [t.accessToken, key.body.key as string]) {
      const me = await api('GET', '/v1/me', token);
      expect(me.status).toBe(200);
      expectDocumented('GET', '/v1/me', me);
    }
  });

  it('invalid UTF-8 and lone surrogates are refused with 400, nothing stored', async () => {
    const t = await signup(worker, 'fuzz-utf8');
    const invalid = new Uint8Array([...new TextEncoder().encode('{"title":"ab'), 0xff, 0xfe, ...new TextEncoder().encode('"}')]);
    const cases: Array<[string, Uint8Array<ArrayBuffer> | string]> = [
      ['/v1/tasks', invalid],
      ['/v1/tasks', '{"title":"\\ud800"}'],
      ['/v1/tasks', '{"title":"ok","labels":["\\udfff x"]}'],
      ['/v1/api-keys', '{"name":"\\ud83d","role":"member"}'],
      ['/v1/flows', '{"name":"f\\udc00"}'],
    ];
    for (const [path, body] of cases) {
      const res = await rawPost(path, t.accessToken, body);
      expect(res.status, `${path} ${String(body)}`).toBe(400);
      expect(res.body.type).toBe('https://edgecrew.dev/problems/malformed-json');
    }
    // A well-formed pair (an emoji, escaped) is fine.
    const ok = await rawPost('/v1/tasks', t.accessToken, '{"title":"\\ud83d\\ude00 party"}');
    expect(ok.status).toBe(201);
    expect(ok.body.title).toBe('😀 party');
    const list = await api('GET', '/v1/tasks', t.accessToken);
    expect(list.body.data.map((x: Json) => x.title)).toEqual(['😀 party']);
  });

  it('duplicate JSON keys are refused with 400 naming the key: {"role":"viewer","role":"admin"} creates nothing', async () => {
    const t = await signup(worker, 'fuzz-dup');
    const res = await rawPost('/v1/api-keys', t.accessToken, '{"name":"k","role":"viewer","role":"admin"}');
    expect(res.status).toBe(400);
    expect(res.body.detail).toContain("'role'");
    const escaped = await rawPost('/v1/api-keys', t.accessToken, '{"name":"k","role":"viewer","\\u0072ole":"admin"}');
    expect(escaped.status).toBe(400);
    const nested = await rawPost('/v1/tasks', t.accessToken, '{"title":"t","recurrence":{"rrule":"FREQ=DAILY","rrule":"FREQ=YEARLY"}}');
    expect(nested.status).toBe(400);
    expect(nested.body.detail).toContain('/recurrence');
    const keys = await api('GET', '/v1/api-keys', t.accessToken);
    expect(keys.body.data).toEqual([]);
    // The same key in sibling objects is not a duplicate.
    const siblings = await rawPost('/v1/tasks', t.accessToken, '{"title":"t","labels":["a"],"notes":"{\\"title\\":1}"}');
    expect(siblings.status).toBe(201);
  });
});
