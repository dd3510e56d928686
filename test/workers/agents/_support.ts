/**
 * Agent tests: a scripted fake OpenAI-compatible provider (test/support/node/fake-openai.ts, scripted
 * replies with tool calls), flows with one agent node, and driving their runs.
 */
import { inject } from 'vitest';
import { call, expectJson } from '../../support/workers/http';
import type { TestTenant } from '../../support/workers/tenants';
import { events, type Json, ofType, type RunEvent, settled } from '../flows/_engine-kit';

export { events, ofType, type RunEvent, settled };

const FAKE_URL = inject('fakeOpenAiUrl');
export const MODELS = { fast: { model: 'fake-gpt-mini', inputCostPer1M: 150, outputCostPer1M: 600 } };

/** A reply of the scripted fake (see fake-openai.ts). */
export interface Reply {
  text?: string;
  toolCalls?: Array<{ id?: string; name: string; arguments?: unknown }>;
  step?: string;
  barrier?: string;
  parties?: number;
}

export function newTag(): string {
  return `a${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}`;
}

/** Scripts the replies of `{tag}/@{name}` and registers it as the tenant's provider `name`. */
export async function scriptedProvider(t: TestTenant, tag: string, name: string, replies: Reply[]): Promise<void> {
  const put = await fetch(`${FAKE_URL}/__script/${tag}/${name}`, { method: 'PUT', body: JSON.stringify({ replies }) });
  if (put.status !== 204) throw new Error(`script: ${put.status}`);
  const body = {
    name,
    kind: 'openai',
    baseUrl: `${FAKE_URL}/t/${tag}/@${name}/v1`,
    apiKey: 'sk-test-0123456789abcdefWXYZ',
    models: MODELS,
  };
  await expectJson(await call('/v1/llm/providers', { token: t.accessToken, body }), 201);
}

export interface Received {
  script: string;
  step: string;
  body: Json;
  headers: Record<string, string | undefined>;
}

/** What the fake received under `tag`, optionally only from one provider's script. */
export async function received(tag: string, name?: string): Promise<Received[]> {
  const all = (await (await fetch(`${FAKE_URL}/__requests/${tag}`)).json()) as Received[];
  return name === undefined ? all : all.filter((r) => r.script === `@${name}`);
}

export async function createAgent(t: TestTenant, body: Json): Promise<Json> {
  return expectJson(await call('/v1/agents', { token: t.accessToken, body: { name: 'agent', ...body } }), 201);
}

/** A flow whose one node is an agent node with `config`. */
export async function agentFlow(t: TestTenant, config: Json, extra: Json = {}): Promise<string> {
  const definition = { nodes: [{ id: 'agent', type: 'agent', config, ...extra }] };
  return (await expectJson(await call('/v1/flows', { token: t.accessToken, body: { name: 'agent flow', definition } }), 201)).id;
}

export async function startRun(t: TestTenant, flowId: string, input: Json = {}): Promise<Json> {
  return expectJson(await call(`/v1/flows/${flowId}/runs`, { token: t.accessToken, body: { input } }), 201);
}

export async function getRun(t: TestTenant, runId: string): Promise<Json> {
  return expectJson(await call(`/v1/runs/${runId}`, { token: t.accessToken }));
}

/** Drives the run's alarms until it reaches one of `statuses`. */
export async function runUntil(t: TestTenant, runId: string, statuses: string[] = ['succeeded', 'failed', 'cancelled']): Promise<Json> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const run = await settled(t, runId);
    if (statuses.includes(run.status)) return run;
    if (Date.now() > deadline)
      throw new Error(`run ${runId} is ${run.status}: ${JSON.stringify(run.nodes.map((n: Json) => [n.id, n.status, n.error?.message]))}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export async function signal(t: TestTenant, runId: string, payload: unknown, node = 'agent'): Promise<Response> {
  return call(`/v1/runs/${runId}/signal`, { token: t.accessToken, body: { node, payload } });
}

export async function tasks(t: TestTenant): Promise<Json[]> {
  return (await expectJson(await call('/v1/tasks?limit=100', { token: t.accessToken }))).data;
}

/** An inline agent on the scripted provider `name`. */
export function inline(name: string, tools: Json[], extra: Json = {}): Json {
  return { name: 'Helper', role: 'Keeps tasks', instructions: 'Use the tools.', providers: [name], model: 'fast', tools, ...extra };
}
