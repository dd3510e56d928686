/**
 * Shared pieces of the llm suites: the provider routes on an app built by createApp() (so the whole
 * pipeline runs: auth, validation, problem+json), the fake OpenAI server (test/support/node/fake-openai.ts)
 * scripted through its base URL, and a fake ExecContext that records what a node streams and spends.
 */
import { createExecutionContext, waitOnExecutionContext } from 'cloudflare:test';
import { env } from 'cloudflare:workers';
import { expect, inject } from 'vitest';
import { createApp } from '../../../src/app';
import { loadConfig } from '../../../src/config';
import { type LlmConfig, llmNode } from '../../../src/flows/nodes/llm';
import type { ExecContext, NodeResult, Usage } from '../../../src/flows/nodes/types';
import { llmProviderRoutes } from '../../../src/routes/llm-providers';
import { freshIp } from '../../support/workers/http';
import { signup, type TestTenant } from '../../support/workers/tenants';

// Mounted here until src/app.ts mounts it; a second mount of the same routes is harmless (first match wins).
const app = createApp({ extend: (a) => a.route('/', llmProviderRoutes) });

export interface ApiOptions {
  method?: string;
  body?: unknown;
  token?: string;
  /** Bindings to run the app with (default: the test Worker's). */
  env?: Env;
}

export async function api(path: string, opts: ApiOptions = {}): Promise<Response> {
  const headers: Record<string, string> = { 'cf-connecting-ip': freshIp() };
  if (opts.token) headers.authorization = `Bearer ${opts.token}`;
  if (opts.body !== undefined) headers['content-type'] = 'application/json';
  const req = new Request(`https://api.test${path}`, {
    method: opts.method ?? (opts.body !== undefined ? 'POST' : 'GET'),
    headers,
    body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
  });
  const ctx = createExecutionContext();
  const res = await app.fetch(req, opts.env ?? env, ctx);
  await waitOnExecutionContext(ctx);
  return res;
}

export async function expectStatus(res: Response, status: number): Promise<Record<string, any>> {
  const text = await res.text();
  expect({ status: res.status, body: text.slice(0, 400) }).toMatchObject({ status });
  return text === '' ? {} : (JSON.parse(text) as Record<string, any>);
}

// ------------------------------------------------------------------------------------------------
// The fake OpenAI-compatible server
// ------------------------------------------------------------------------------------------------

export const FAKE_URL = inject('fakeOpenAiUrl');
export const FAKE_KEY = 'sk-test-0123456789abcdefWXYZ';

/** A tag unique to one test, so its requests (and per-script counters) are its own. */
export function newTag(): string {
  return `t${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}`;
}

/** Base URL whose requests follow `script` (see fake-openai.ts), e.g. '500' or '429s3,ok'. */
export function fakeBase(tag: string, script: string): string {
  return `${FAKE_URL}/t/${tag}/${encodeURIComponent(script)}/v1`;
}

export interface ReceivedChatRequest {
  script: string;
  step: string;
  headers: Record<string, string | undefined>;
  body: Record<string, any> | null;
}

export async function received(tag: string): Promise<ReceivedChatRequest[]> {
  return (await (await fetch(`${FAKE_URL}/__requests/${tag}`)).json()) as ReceivedChatRequest[];
}

export const MODELS = { fast: { model: 'fake-gpt-mini', inputCostPer1M: 150, outputCostPer1M: 600 } };

/** Registers an `openai` provider at the fake with `script`; returns the API's view. */
export async function addFakeProvider(
  t: TestTenant,
  name: string,
  tag: string,
  script: string,
  extra: Record<string, unknown> = {},
): Promise<Record<string, any>> {
  const body = { name, kind: 'openai', baseUrl: fakeBase(tag, script), apiKey: FAKE_KEY, models: MODELS, ...extra };
  return expectStatus(await api('/v1/llm/providers', { token: t.accessToken, body }), 201);
}

export async function seedTenant(tag = 'llm'): Promise<TestTenant> {
  return signup(tag);
}

// ------------------------------------------------------------------------------------------------
// A fake ExecContext: what the engine gives a node, recording deltas and usage
// ------------------------------------------------------------------------------------------------

export interface Recorded {
  ctx: ExecContext;
  deltas: Array<Record<string, unknown>>;
  usage: Usage[];
}

/** `{{ a.b }}` → the value at that dotted path of the scope (the real engine evaluates JSONata). */
function lookup(scope: unknown, expr: string): unknown {
  return expr
    .trim()
    .split('.')
    .reduce<unknown>((v, k) => (v && typeof v === 'object' ? (v as Record<string, unknown>)[k] : undefined), scope);
}

export function fakeCtx(tenantId: string, opts: { input?: unknown; signal?: AbortSignal; attempt?: number; env?: Env } = {}): Recorded {
  const deltas: Array<Record<string, unknown>> = [];
  const usage: Usage[] = [];
  const attempt = opts.attempt ?? 1;
  const runId = `run_${newTag()}`;
  const scope = {
    input: opts.input ?? {},
    nodes: {},
    vars: {},
    run: { id: runId, flowId: 'flw_test', flowVersion: 1, tenantId, attempt, nodeId: 'ask', startedAt: new Date().toISOString() },
  };
  const ctx: ExecContext = {
    runId,
    flowId: 'flw_test',
    tenantId,
    nodeId: 'ask',
    attempt,
    idempotencyKey: `${runId}:ask:${attempt}`,
    env: opts.env ?? env,
    config: loadConfig(env),
    scope,
    signal: opts.signal ?? new AbortController().signal,
    emitDelta: (d) => deltas.push(d as Record<string, unknown>),
    addUsage: (u) => usage.push(u),
    evaluate: async (e) => lookup(scope, e),
    render: async (t) => t.replace(/\{\{([^}]*)\}\}/g, (_, e: string) => String(lookup(scope, e) ?? '')),
    tenantSettings: {},
    initiator: null,
    steps: memorySteps(),
    childRuns: {
      start: async () => Promise.reject(new Error('no child runs outside a FlowRun')),
      get: () => undefined,
    },
  };
  return { ctx, deltas, usage };
}

/** Durable steps kept in memory (the FlowRun keeps them in its SQLite storage). */
function memorySteps(): ExecContext['steps'] {
  const done = new Map<string, unknown>();
  return {
    run: async (key, fn) => {
      if (done.has(key)) return done.get(key) as never;
      const value = await fn({ interrupted: false });
      done.set(key, value);
      return value;
    },
    get: (key) => done.get(key) as never,
    emit: () => {},
  };
}

/** Parses `config` like the engine does on save, then runs the node. */
export async function runLlm(config: Record<string, unknown>, rec: Recorded): Promise<NodeResult> {
  const parsed = llmNode.config.parse(config) as LlmConfig;
  return llmNode.run(parsed, rec.ctx);
}

/** Text the consumer of the delta stream ends up with (a reset discards what came before it). */
export function streamedText(deltas: Array<Record<string, unknown>>): string {
  let text = '';
  for (const d of deltas) {
    if (d.reset) text = '';
    else if (typeof d.text === 'string') text += d.text;
  }
  return text;
}

/** Runs `fn`, expecting it to reject, and returns the error. */
export async function rejection(fn: () => Promise<unknown>): Promise<any> {
  try {
    await fn();
  } catch (err) {
    return err;
  }
  throw new Error('expected a rejection');
}
