// The tenant's own tools as MCP tools (docs/mcp.md "The tenant's tools"): off by default, listed as
// tool_<name> with their input schema once the tenant sets settings.mcpExposeTools, invoked through
// the same verb as POST /v1/tools/{id}/invoke (a real tool runner, wasm mode), with the caller's role.
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api as request } from '../support/node/api';
import { DEFAULT_TEST_SECRETS } from '../support/node/secrets';
import { type RunningToolRunner, startToolRunner } from '../support/node/tool-runner';
import { type RunningWorker, startWorker } from '../support/node/worker';
import { signupWith } from '../support/shared/tenants';

type Json = Record<string, any>;

let runner: RunningToolRunner;
let worker: RunningWorker;
const clients: Client[] = [];
beforeAll(async () => {
  runner = await startToolRunner({
    secret: DEFAULT_TEST_SECRETS.TOOL_RUNNER_SECRET,
    sandbox: 'wasm',
    env: { TOOL_RUNNER_CONCURRENCY: '2' },
  });
  worker = await startWorker({ bindings: { TOOL_RUNNER_URL: runner.url } });
});
afterAll(async () => {
  await Promise.allSettled(clients.map((c) => c.close()));
  await worker?.dispose();
  await runner?.stop();
});

const api = (method: string, path: string, token: string | undefined, body?: unknown) => request(worker, method, path, token, body);

let ips = 0;
const signup = (tag: string) =>
  signupWith((path, init) => worker.fetch(path, init), `e2e-mcp-tools-${tag}`, { 'cf-connecting-ip': `10.19.${++ips}.1` });

async function connect(credential: string): Promise<Client> {
  const transport = new StreamableHTTPClientTransport(new URL('/mcp', worker.url), {
    requestInit: { headers: { authorization: `Bearer ${credential}` } },
  });
  const client = new Client({ name: 'edgecrew-e2e-tools', version: '1.0.0' });
  await client.connect(transport);
  clients.push(client);
  return client;
}

const GREET = 'export async function main(input) { return { greeting: `Hello, ${input.name}!` }; }';
const DOUBLE = 'export async function main(input) { return input * 2; }';

async function createTool(token: string, body: Json) {
  const res = await api('POST', '/v1/tools', token, { runtime: 'node', ...body });
  expect(res.status).toBe(201);
  return res.body as Json;
}

describe("the tenant's tools over MCP", () => {
  it('are listed and invoked only once the tenant opts in, through the invoke verb, with the caller role', async () => {
    const t = await signup('a');
    const greetSchema = {
      type: 'object',
      properties: { name: { type: 'string', minLength: 1 } },
      required: ['name'],
      additionalProperties: false,
    };
    const greet = await createTool(t.accessToken, {
      name: 'greet',
      description: 'Greets someone by name',
      code: GREET,
      inputSchema: greetSchema,
    });
    await createTool(t.accessToken, { name: 'double', code: DOUBLE, inputSchema: { type: 'number' } });
    const client = await connect(t.accessToken);

    // Off by default: not listed, and calling one is an unknown tool.
    const before = await client.listTools();
    expect(before.tools.some((x) => x.name.startsWith('tool_'))).toBe(false);
    await expect(client.callTool({ name: 'tool_greet', arguments: { name: 'Ada' } })).rejects.toThrow(/Unknown tool/);

    const patched = await api('PATCH', '/v1/tenant', t.accessToken, { settings: { mcpExposeTools: true } });
    expect(patched.status).toBe(200);
    expect(patched.body.settings.mcpExposeTools).toBe(true);

    const listed = (await client.listTools()).tools.filter((x) => x.name.startsWith('tool_'));
    expect(listed.map((x) => x.name).sort()).toEqual(['tool_double', 'tool_greet']);
    const greetTool = listed.find((x) => x.name === 'tool_greet')!;
    expect(greetTool).toMatchObject({ title: 'greet', description: 'Greets someone by name', inputSchema: greetSchema });
    expect(greetTool.annotations).toMatchObject({ readOnlyHint: false, destructiveHint: true, openWorldHint: true });
    // A non-object input schema is wrapped as { input }.
    const doubleTool = listed.find((x) => x.name === 'tool_double')!;
    expect(doubleTool.inputSchema).toMatchObject({ type: 'object', properties: { input: { type: 'number' } }, required: ['input'] });

    const res = (await client.callTool({ name: 'tool_greet', arguments: { name: 'Ada' } })) as Json;
    expect(res.isError).toBeFalsy();
    expect(res.structuredContent).toMatchObject({ ok: true, output: { greeting: 'Hello, Ada!' } });
    const doubled = (await client.callTool({ name: 'tool_double', arguments: { input: 21 } })) as Json;
    expect(doubled.structuredContent).toMatchObject({ ok: true, output: 42 });

    // The tool's own schema is enforced as over HTTP: 422 with field paths.
    const invalid = (await client.callTool({ name: 'tool_greet', arguments: { name: '' } })) as Json;
    expect(invalid.isError).toBe(true);
    expect(JSON.parse(invalid.content[0].text)).toMatchObject({ status: 422 });

    // The same invocation record as POST /v1/tools/{id}/invoke.
    const invocations = await api('GET', `/v1/tools/${greet.id}/invocations`, t.accessToken);
    expect(invocations.status).toBe(200);
    expect(invocations.body.data.length).toBeGreaterThanOrEqual(1);

    // A read-only key sees the tools listed but may not invoke them (data:write), as over HTTP.
    const key = await api('POST', '/v1/api-keys', t.accessToken, { name: 'reader', role: 'viewer' });
    expect(key.status).toBe(201);
    const reader = await connect(key.body.key);
    expect((await reader.listTools()).tools.map((x) => x.name)).toContain('tool_greet');
    const refused = (await reader.callTool({ name: 'tool_greet', arguments: { name: 'Ada' } })) as Json;
    expect(refused.isError).toBe(true);
    expect(JSON.parse(refused.content[0].text)).toMatchObject({ status: 403 });

    // Another tenant never sees them, even opted in.
    const other = await signup('b');
    expect((await api('PATCH', '/v1/tenant', other.accessToken, { settings: { mcpExposeTools: true } })).status).toBe(200);
    const otherClient = await connect(other.accessToken);
    expect((await otherClient.listTools()).tools.some((x) => x.name.startsWith('tool_'))).toBe(false);
    await expect(otherClient.callTool({ name: 'tool_greet', arguments: { name: 'Ada' } })).rejects.toThrow(/Unknown tool/);
  });
});
