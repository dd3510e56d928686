/** Shared fixtures for the tool suites: hello tools in both runtimes and a creator. */
import { call, expectJson } from '../../support/workers/http';
import type { TestTenant } from '../../support/workers/tenants';

export const PY_HELLO = [
  'def main(input):',
  '    print("hello from python")',
  '    return {"greeting": "Hello, " + input["name"] + "!"}',
  '',
].join('\n');
export const JS_HELLO = [
  'export async function main(input) {',
  "  console.log('hello from js');",
  '  return { greeting: `Hello, ${input.name}!` };',
  '}',
  '',
].join('\n');
export const NAME_SCHEMA = {
  type: 'object',
  properties: { name: { type: 'string', minLength: 1 } },
  required: ['name'],
  additionalProperties: false,
};
export const GREETING_SCHEMA = { type: 'object', properties: { greeting: { type: 'string' } }, required: ['greeting'] };

let seq = 0;
export function toolName(tag = 'tool'): string {
  seq += 1;
  return `${tag}-${Date.now().toString(36)}-${seq}`;
}

/** Registers a tool in `t` (a Python hello unless overridden) and returns its view. */
export async function createTool(t: TestTenant | string, overrides: Record<string, unknown> = {}): Promise<Record<string, any>> {
  const token = typeof t === 'string' ? t : t.accessToken;
  const res = await call('/v1/tools', {
    token,
    body: {
      name: toolName(),
      runtime: 'python3',
      code: PY_HELLO,
      inputSchema: NAME_SCHEMA,
      outputSchema: GREETING_SCHEMA,
      timeoutMs: 5_000,
      ...overrides,
    },
  });
  return expectJson(res, 201);
}

export async function invoke(t: TestTenant | string, toolId: string, payload: Record<string, unknown>): Promise<Response> {
  return call(`/v1/tools/${toolId}/invoke`, { token: typeof t === 'string' ? t : t.accessToken, body: payload });
}
