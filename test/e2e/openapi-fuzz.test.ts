/**
 * Property-based fuzzing from /openapi.json (issue 13 item 8), against the bundled Worker over HTTP:
 * every operation gets bodies, path and query parameters generated from its published schemas, some
 * valid and some not. Properties: no answer is a 5xx, every status is documented for the operation,
 * and every JSON answer validates against the schema documented for its status.
 * Bounded: FUZZ_RUNS cases of each kind per operation (default 10) within FUZZ_BUDGET_MS (default 90 s);
 * FUZZ_SEED reproduces a run (the seed is printed with any failure).
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api as request, signup } from '../support/node/api';
import { fetchOpenApi, isDocumented, type OpenApiDoc, responseSchema, schemaErrors } from '../support/node/contract';
import { invalidArb, validArb } from '../support/node/schema-arbitrary';
import { type RunningWorker, startWorker } from '../support/node/worker';

type Json = Record<string, any>;
const SEED = Number(process.env.FUZZ_SEED ?? 1312);
const RUNS = Number(process.env.FUZZ_RUNS ?? 10);
const BUDGET_MS = Number(process.env.FUZZ_BUDGET_MS ?? 90_000);
const METHODS = ['get', 'post', 'put', 'patch', 'delete'];

let worker: RunningWorker;
let doc: OpenApiDoc;
let token: string;
/** Real ids for path parameters, so valid cases reach real resources (not only 404s). */
const fixtures: Record<string, string> = {};

beforeAll(async () => {
  worker = await startWorker({ echoLogs: 'none' });
  doc = await fetchOpenApi(worker);
  const owner = await signup(worker, 'fuzz');
  // The pro plan's budget, so the fuzzer measures the API rather than its rate limiter.
  await (await worker.mf.getD1Database('DB')).prepare(`UPDATE tenants SET plan = 'pro' WHERE id = ?`).bind(owner.tenantId).run();
  const api = (method: string, path: string, body?: unknown) => request(worker, method, path, token ?? owner.accessToken, body);
  const key = await api('POST', '/v1/api-keys', { name: 'fuzzer', role: 'admin' });
  token = key.body.key;
  fixtures.userId = owner.userId;
  fixtures.keyId = (await api('POST', '/v1/api-keys', { name: 'spare', role: 'viewer' })).body.id;
  fixtures.taskId = (await api('POST', '/v1/tasks', { title: 'fuzz target' })).body.id;
  const flow = await api('POST', '/v1/flows', {
    name: 'fuzz',
    definition: { nodes: [{ id: 'gate', type: 'approval', config: {} }], edges: [] },
  });
  fixtures.flowId = flow.body.id;
  fixtures.runId = (await api('POST', `/v1/flows/${flow.body.id}/runs`, { input: {} })).body.id;
  fixtures.invitationId = (await api('POST', '/v1/invitations', { email: 'fuzz-invitee@example.com', role: 'member' })).body.id;
  const hook = await api('POST', '/v1/webhooks', { url: 'https://example.com/hook', eventTypes: ['task.created'] });
  if (hook.status === 201) fixtures.webhookId = hook.body.id;
  for (const [k, v] of Object.entries(fixtures)) if (typeof v !== 'string') delete fixtures[k];
}, 120_000);
afterAll(() => worker?.dispose());

interface Case {
  kind: 'valid' | 'invalid';
  path: string;
  query: string;
  body: unknown;
  hasBody: boolean;
}

function sample<T>(arb: fc.Arbitrary<T>, seed: number): T {
  return fc.sample(arb, { seed, numRuns: 1 })[0]!;
}

/** One generated request for `method path` (`seed` makes it reproducible). */
function makeCase(path: string, op: Json, kind: Case['kind'], seed: number): Case {
  const params: Json[] = (op.parameters ?? []).filter((p: Json) => !p.$ref);
  let s = seed;
  const concrete = path.replace(/\{(\w+)\}/g, (_m, name: string) => {
    const p = params.find((x) => x.in === 'path' && x.name === name);
    if (kind === 'valid' && fixtures[name] && s % 4 !== 0) return fixtures[name]!;
    const v = kind === 'valid' && p ? sample(validArb(p.schema ?? {}, doc.components), s++) : sample(fc.string({ maxLength: 80 }), s++);
    return encodeURIComponent(String(v)) || 'x';
  });
  const q = new URLSearchParams();
  const queryParams = params.filter((x) => x.in === 'query' && x.name !== 'access_token');
  const schema = op.requestBody?.content?.['application/json']?.schema;
  // An invalid case breaks one thing (a query parameter or the body) and keeps the rest valid, so it gets past validation of the others.
  const slots = queryParams.length + (schema ? 1 : 0);
  const broken = kind === 'invalid' && slots > 0 ? sample(fc.integer({ min: 0, max: slots - 1 }), s++) : -1;
  for (const [j, p] of queryParams.entries()) {
    if (j !== broken && !p.required && sample(fc.boolean(), s++)) continue;
    const v =
      j !== broken
        ? sample(validArb(p.schema ?? {}, doc.components), s++)
        : sample(fc.oneof(fc.string({ maxLength: 60 }), fc.integer(), fc.constant('%'.repeat(60)), fc.constant('-1')), s++);
    q.set(p.name, typeof v === 'string' ? v : JSON.stringify(v));
  }
  const body = schema
    ? sample(
        broken === queryParams.length || broken === -1
          ? (kind === 'valid' ? validArb : invalidArb)(schema, doc.components)
          : validArb(schema, doc.components),
        s++,
      )
    : undefined;
  return { kind, path: concrete, query: q.toString(), body, hasBody: schema !== undefined };
}

async function send(method: string, c: Case): Promise<{ status: number; body: unknown; contentType: string }> {
  const headers: Record<string, string> = { 'cf-connecting-ip': `10.${(Math.random() * 255) | 0}.${(Math.random() * 255) | 0}.1` };
  if (!c.path.startsWith('/v1/auth/')) headers.authorization = `Bearer ${token}`;
  if (c.hasBody) headers['content-type'] = 'application/json';
  const res = await worker.fetch(`${c.path}${c.query ? `?${c.query}` : ''}`, {
    method: method.toUpperCase(),
    headers,
    body: c.hasBody ? JSON.stringify(c.body) : undefined,
    signal: AbortSignal.timeout(20_000),
  });
  const contentType = res.headers.get('content-type') ?? '';
  if (contentType.startsWith('text/event-stream')) {
    await res.body?.cancel();
    return { status: res.status, body: undefined, contentType };
  }
  const text = await res.text();
  let body: unknown = text;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    // not JSON: checked below only when JSON was documented
  }
  return { status: res.status, body, contentType };
}

describe('fuzzing every operation from /openapi.json', () => {
  it('no 5xx; every status documented; every JSON answer matches its documented schema', { timeout: BUDGET_MS + 60_000 }, async () => {
    const ops = Object.entries(doc.paths).flatMap(([path, item]) =>
      METHODS.filter((m) => item[m]).map((m) => ({ path, method: m, op: item[m] as Json })),
    );
    // Deletions last, so the fixtures they remove serve every other operation first.
    ops.sort((a, b) => Number(a.method === 'delete') - Number(b.method === 'delete'));
    const started = Date.now();
    const failures: string[] = [];
    const exercised = new Set<string>();
    let sent = 0;
    const statuses: Record<string, number> = {};
    for (const [i, { path, method, op }] of ops.entries()) {
      for (let n = 0; n < RUNS * 2; n++) {
        if (Date.now() - started > BUDGET_MS) break;
        const kind = n % 2 === 0 ? 'valid' : 'invalid';
        const seed = SEED + i * 1000 + n;
        const c = makeCase(path, op, kind, seed);
        const name = `${method.toUpperCase()} ${path}`;
        const where = `${name} [${kind}, seed ${seed}] ${c.path}${c.query ? `?${c.query}` : ''} ${c.hasBody ? JSON.stringify(c.body)?.slice(0, 300) : ''}`;
        let res: Awaited<ReturnType<typeof send>>;
        try {
          res = await send(method, c);
        } catch (err) {
          failures.push(`${where} → request failed: ${(err as Error).message}`);
          continue;
        }
        sent++;
        statuses[res.status] = (statuses[res.status] ?? 0) + 1;
        exercised.add(name);
        if (res.status >= 500) failures.push(`${where} → ${res.status} ${JSON.stringify(res.body)?.slice(0, 300)}`);
        else if (!isDocumented(doc, method, path, res.status)) failures.push(`${where} → undocumented status ${res.status}`);
        else if (res.contentType.includes('json')) {
          const schema = responseSchema(doc, method, path, res.status);
          const errors = schema ? schemaErrors(doc, schema, res.body) : [];
          if (errors.length > 0) {
            const first = errors.slice(-3).map((e) => `${e.instanceLocation}: ${e.error}`);
            failures.push(`${where} → ${res.status} breaks its schema: ${first.join('; ')}`);
          }
        }
      }
    }
    console.log(
      `openapi fuzz: ${sent} requests over ${exercised.size}/${ops.length} operations in ${Date.now() - started} ms (seed ${SEED}); statuses ${JSON.stringify(statuses)}`,
    );
    expect(failures, `seed ${SEED}`).toEqual([]);
    expect(exercised.size).toBe(ops.length);
  });
});
