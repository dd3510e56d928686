/**
 * The published contract: /openapi.json is valid OpenAPI 3.1, passes Redocly's linter, every error is
 * documented as problem+json, and it is ready for generated clients (operationIds, tags, Retry-After, SSE events).
 */
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import SwaggerParser from '@apidevtools/swagger-parser';
import { createConfig, lintFromString } from '@redocly/openapi-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROJECT_ROOT, type RunningWorker, startWorker } from '../support/node/worker';

type Ref = { $ref: string };
type Response = {
  description?: string;
  headers?: Record<string, Ref>;
  content?: Record<string, { schema?: Record<string, unknown>; 'x-sse-events'?: Record<string, Ref> }>;
};
type Responses = Record<string, Response>;
type Operation = {
  operationId?: string;
  tags?: string[];
  security?: Array<Record<string, string[]>>;
  parameters?: Array<Ref | { name: string }>;
  responses?: Responses;
};
type Doc = {
  openapi: string;
  tags?: Array<{ name: string }>;
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, unknown>; headers?: Record<string, unknown>; parameters?: Record<string, unknown> };
};

const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];
/** Error responses deliberately not problem+json, each with its reason. Keep this list short. */
const NON_PROBLEM_ERRORS: Record<string, string> = {
  'GET /health/ready 503': 'a readiness report: load balancers and operators read the per-check body',
};

/**
 * Redocly's rules we hold the document to, as errors. `recommended-strict` is the base; the rest are off
 * by default there. Turning one off needs a reason on its line.
 */
const LINT_RULES = {
  'operation-operationId': 'error',
  'operation-operationId-unique': 'error',
  'operation-operationId-url-safe': 'error',
  'operation-tag-defined': 'error',
  'operation-singular-tag': 'error',
  'operation-summary': 'error',
  'operation-2xx-response': 'error',
  'operation-4xx-response': 'error',
  'operation-4xx-problem-details-rfc7807': 'error',
  'tag-description': 'error',
  'no-server-example.com': 'error',
  'no-unused-components': 'error',
  'security-defined': 'error',
  'response-contains-header': { severity: 'error', names: { '429': ['Retry-After'], '503': ['Retry-After'] } },
  // A private service: there is no licence to state.
  'info-license': 'off',
  'info-license-strict': 'off',
} as const;

/** Single findings accepted, by rule and JSON pointer, each with its reason. Keep this list short. */
const LINT_EXCEPTIONS: Record<string, string> = {
  'operation-2xx-response #/paths/~1v1~1runs~1{runId}~1ws/get/responses': 'a WebSocket upgrade succeeds with 101',
  'operation-2xx-response #/paths/~1v1~1sync~1ws/get/responses': 'a WebSocket upgrade succeeds with 101',
  'operation-2xx-response #/paths/~1v1~1chat~1{chatId}~1ws/get/responses': 'a WebSocket upgrade succeeds with 101',
};

/** `tasks.create`, `runs.events`, `webhooks.listDeliveries`: `<resource>.<verb>`, both camelCase. */
const OPERATION_ID = /^[a-z][A-Za-z]*\.[a-z][A-Za-z]*$/;
const RETRY_AFTER = { $ref: '#/components/headers/RetryAfter' };

let worker: RunningWorker;
let doc: Doc;
let source: string;

beforeAll(async () => {
  worker = await startWorker();
  const res = await worker.fetch('/openapi.json');
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^application\/json/);
  source = await res.text();
  doc = JSON.parse(source) as Doc;
});
afterAll(() => worker?.dispose());

function operations(): Array<{ name: string; method: string; op: Operation }> {
  return Object.entries(doc.paths).flatMap(([path, item]) =>
    Object.entries(item)
      .filter(([method]) => METHODS.includes(method))
      .map(([method, op]) => ({ name: `${method.toUpperCase()} ${path}`, method, op })),
  );
}

/** Every string literal naming a run event (`'run.started'`, `'node.failed'`) in the code that writes them. */
async function runEventTypesInSource(): Promise<string[]> {
  const found = new Set<string>();
  for (const dir of ['durable-objects/flow-run', 'src/flows', 'src/agents']) {
    const files = await readdir(path.join(PROJECT_ROOT, dir), { recursive: true });
    for (const file of files.filter((f) => f.endsWith('.ts'))) {
      const text = await readFile(path.join(PROJECT_ROOT, dir, file), 'utf8');
      for (const m of text.matchAll(/'((?:run|node)\.[a-z_]+)'/g)) found.add(m[1]!);
    }
  }
  return [...found].sort();
}

describe('GET /openapi.json', () => {
  it('is a valid OpenAPI 3.1 document', async () => {
    expect(doc.openapi).toBe('3.1.0');
    // validate() dereferences in place; give it a copy so later checks see the $refs as served.
    await expect(SwaggerParser.validate(structuredClone(doc) as never)).resolves.toBeTruthy();
  });

  it('documents the platform routes', () => {
    for (const path of ['/health', '/health/live', '/health/ready']) expect(doc.paths[path]?.get, path).toBeDefined();
  });

  it('gives every operation responses, including problem+json errors', () => {
    const ops = operations();
    expect(ops.length).toBeGreaterThan(0);
    for (const { name, op } of ops) {
      const responses = Object.entries(op.responses ?? {});
      expect(responses.length, `${name} has no responses`).toBeGreaterThan(0);
      // WebSocket endpoints succeed with 101 Switching Protocols.
      expect(
        responses.some(([s]) => /^2\d\d$/.test(s) || s === '101'),
        `${name} documents no success response`,
      ).toBe(true);
      const errors = responses.filter(([s]) => /^[45]\d\d$/.test(s) || s === 'default');
      expect(errors.length, `${name} documents no error response`).toBeGreaterThan(0);
      expect(
        errors.some(([, r]) => r.content?.['application/problem+json'] !== undefined),
        `${name} documents no problem+json error`,
      ).toBe(true);
      for (const [status, response] of errors) {
        if (NON_PROBLEM_ERRORS[`${name} ${status}`]) continue;
        expect(Object.keys(response.content ?? {}), `${name} ${status}`).toEqual(['application/problem+json']);
      }
    }
  });

  it('describes errors with the RFC 9457 Problem schema', async () => {
    const resolved = (await SwaggerParser.dereference(structuredClone(doc) as never)) as unknown as Doc;
    for (const [path, item] of Object.entries(resolved.paths)) {
      for (const [method, op] of Object.entries(item)) {
        if (!METHODS.includes(method)) continue;
        for (const [status, response] of Object.entries(op.responses ?? {})) {
          const schema = response.content?.['application/problem+json']?.schema as { required?: string[] } | undefined;
          if (!schema) continue;
          expect(schema.required, `${method} ${path} ${status}`).toEqual(expect.arrayContaining(['type', 'title', 'status', 'detail']));
        }
      }
    }
  });
});

describe('OpenAPI for generated clients', () => {
  it('passes Redocly lint with the operationId, tag and response rules as errors', async () => {
    const config = await createConfig({ extends: ['recommended-strict'], rules: LINT_RULES });
    const problems = await lintFromString({ source, absoluteRef: 'openapi.json', config });
    const findings = problems
      .map((p) => `${p.ruleId} ${p.location[0]?.pointer ?? ''}: ${p.message}`)
      .filter((f) => !LINT_EXCEPTIONS[f.slice(0, f.indexOf(': '))]);
    expect(findings).toEqual([]);
  });

  it('gives every operation a unique `<resource>.<verb>` operationId and one declared tag', () => {
    const declared = new Set((doc.tags ?? []).map((t) => t.name));
    const seen = new Map<string, string>();
    for (const { name, op } of operations()) {
      expect(op.operationId, `${name} has no operationId`).toMatch(OPERATION_ID);
      const id = op.operationId!;
      expect(seen.get(id), `${name} reuses operationId ${id}`).toBeUndefined();
      seen.set(id, name);
      expect(op.tags, `${name} tags`).toHaveLength(1);
      expect(declared.has(op.tags![0]!), `${name} tag ${op.tags![0]} is not declared`).toBe(true);
    }
  });

  it('documents Retry-After on every 429 and 503, and on the in-flight 409 of every authenticated POST', () => {
    expect(doc.components.headers?.RetryAfter).toBeDefined();
    for (const { name, method, op } of operations()) {
      for (const [status, response] of Object.entries(op.responses ?? {})) {
        if (status === '429' || status === '503') expect(response.headers?.['Retry-After'], `${name} ${status}`).toEqual(RETRY_AFTER);
      }
      if (method !== 'post') continue;
      expect(op.parameters, `${name} Idempotency-Key`).toContainEqual({ $ref: '#/components/parameters/IdempotencyKey' });
      if (!op.security?.some((s) => 'bearerAuth' in s)) continue;
      expect(op.responses?.['409']?.headers?.['Retry-After'], `${name} 409`).toEqual(RETRY_AFTER);
      expect(op.responses?.['409']?.description, `${name} 409`).toMatch(/Idempotency-Key/);
    }
  });

  it('documents the events of every SSE response, each with a schema', () => {
    const streams = operations().flatMap(({ name, op }) =>
      Object.entries(op.responses ?? {}).flatMap(([status, r]) => {
        const media = r.content?.['text/event-stream'];
        return media ? [{ name: `${name} ${status}`, media }] : [];
      }),
    );
    expect(streams.map((s) => s.name)).toContain('GET /v1/runs/{runId}/events 200');
    for (const { name, media } of streams) {
      expect(media.schema, name).toBeDefined();
      const events = Object.entries(media['x-sse-events'] ?? {});
      expect(events.length, `${name} lists no x-sse-events`).toBeGreaterThan(0);
      for (const [event, ref] of events) {
        const component = ref.$ref.replace('#/components/schemas/', '');
        expect(doc.components.schemas[component], `${name} ${event} → ${ref.$ref}`).toBeDefined();
      }
    }
  });

  it('lists exactly the run event types the FlowRun object writes', async () => {
    const media = doc.paths['/v1/runs/{runId}/events']?.get?.responses?.['200']?.content?.['text/event-stream'];
    expect(Object.keys(media?.['x-sse-events'] ?? {}).sort()).toEqual(await runEventTypesInSource());
  });
});

describe('GET /docs', () => {
  it('serves the HTML API reference pointing at /openapi.json', async () => {
    const res = await worker.fetch('/docs');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    const html = await res.text();
    expect(html).toMatch(/<html/i);
    expect(html).toContain('/openapi.json');
    // Its own policy, not the API's `default-src 'none'`: a browser must be allowed to run the reference's script.
    expect(res.headers.get('content-security-policy')).toContain('script-src');
    expect(res.headers.get('content-security-policy')).toContain('https://cdn.jsdelivr.net');
  });
});
