// Invoking tools through the API against the real tool runner (started by the test global setup):
// both runtimes, input/output validation, pinned versions, the invocation log, the flow entry point.
import { env } from 'cloudflare:workers';
import { describe, expect, inject, it } from 'vitest';
import { loadConfig } from '../../../src/config';
import { getDb } from '../../../src/db/client';
import { invokeForApi, invokeTool, toolDeps } from '../../../src/tools/invoke';
import { runnerTransport } from '../../../src/tools/runner-client';
import { call, expectJson } from '../../support/workers/http';
import { signup } from '../../support/workers/tenants';
import { createTool, invoke, JS_HELLO, PY_HELLO } from './_support';

describe('invoking tools', () => {
  it('runs a Python tool and a JavaScript tool: output, stdout excerpt, duration', async () => {
    const t = await signup('inv-hello');
    const py = await createTool(t);
    const js = await createTool(t, { runtime: 'node', code: JS_HELLO });
    const a = await expectJson(await invoke(t, py.id, { input: { name: 'Py' } }), 200);
    expect(a).toMatchObject({
      ok: true,
      sandbox: inject('toolRunnerSandbox'),
      toolId: py.id,
      version: 1,
      output: { greeting: 'Hello, Py!' },
      stdout: 'hello from python\n',
      stderr: '',
    });
    expect(a.invocationId).toMatch(/^inv_/);
    expect(a.durationMs).toBeGreaterThan(0);
    const b = await expectJson(await invoke(t, js.id, { input: { name: 'JS' } }), 200);
    expect(b).toMatchObject({ ok: true, output: { greeting: 'Hello, JS!' }, stdout: 'hello from js\n' });
  });

  it('invalid input → 422 with the field paths, and the tool does not run', async () => {
    const t = await signup('inv-input');
    const tool = await createTool(t);
    const problem = await expectJson(await invoke(t, tool.id, { input: { name: '', extra: 1 } }), 422);
    expect(problem.code).toBe('validation_failed');
    expect(problem.errors.map((e: { path: string }) => e.path).sort()).toEqual(['input.extra', 'input.name']);
    expect(problem.errors.find((e: { path: string }) => e.path === 'input.name')).toMatchObject({ in: 'body', pointer: '/input/name' });
    const missing = await expectJson(await invoke(t, tool.id, { input: {} }), 422);
    expect(missing.errors).toEqual([expect.objectContaining({ path: 'input.name', message: 'Required' })]);
    await expectJson(await invoke(t, tool.id, {}), 422); // no input at all
    await expectJson(await invoke(t, tool.id, { input: { name: 'x' }, version: 0 }), 422);
    const log = await expectJson(await call(`/v1/tools/${tool.id}/invocations`, { token: t.accessToken }), 200);
    expect(log.data.map((r: { outcome: string }) => r.outcome)).toEqual(['invalid_input', 'invalid_input']);
  });

  it('output that breaks the outputSchema → ok:false invalid_output with paths', async () => {
    const t = await signup('inv-output');
    const tool = await createTool(t, { code: 'def main(input):\n    return {"greeting": 42}\n' });
    const res = await expectJson(await invoke(t, tool.id, { input: { name: 'x' } }), 200);
    expect(res).toMatchObject({ ok: false, error: { type: 'invalid_output', errors: [{ path: 'output.greeting' }] } });
  });

  it('a pinned version keeps running the code it was saved with', async () => {
    const t = await signup('inv-pin');
    const tool = await createTool(t);
    await expectJson(
      await call(`/v1/tools/${tool.id}`, { method: 'PATCH', token: t.accessToken, body: { code: PY_HELLO.replace('Hello', 'Howdy') } }),
      200,
    );
    expect((await expectJson(await invoke(t, tool.id, { input: { name: 'A' } }), 200)).output).toEqual({ greeting: 'Howdy, A!' });
    const pinned = await expectJson(await invoke(t, tool.id, { input: { name: 'A' }, version: 1 }), 200);
    expect(pinned).toMatchObject({ version: 1, output: { greeting: 'Hello, A!' } });
    await expectJson(await invoke(t, tool.id, { input: { name: 'A' }, version: 9 }), 404);
  });

  it('typed errors from the sandbox reach the caller: timeout, exit_nonzero, memory_limit', async () => {
    const t = await signup('inv-errors');
    const open = { inputSchema: true, outputSchema: null };
    const loop = await createTool(t, { ...open, runtime: 'node', code: 'export function main() { for (;;) {} }', timeoutMs: 500 });
    const raise = await createTool(t, { ...open, code: 'def main(input):\n    raise RuntimeError("boom")\n' });
    const hog = await createTool(t, {
      ...open,
      code: 'def main(input):\n    a = []\n    while True:\n        a.append(bytearray(8 << 20))\n',
      memoryMb: 64,
    });
    const [l, r, h] = await Promise.all([loop, raise, hog].map(async (tool) => expectJson(await invoke(t, tool.id, { input: null }), 200)));
    expect(l).toMatchObject({ ok: false, error: { type: 'timeout' } });
    expect(r).toMatchObject({ ok: false, error: { type: 'exit_nonzero', message: 'RuntimeError: boom' } });
    expect(r!.stderr).toContain('Traceback');
    expect(h).toMatchObject({ ok: false, error: { type: 'memory_limit' } });
  });

  it('an allow-listed host is reachable through the egress proxy; any other is not', async () => {
    const t = await signup('inv-net');
    const target = new URL(inject('fakeSentryUrl'));
    // wasm mode has no sockets: the same outcomes through the fetch its sandbox provides.
    const code =
      inject('toolRunnerSandbox') === 'bwrap'
        ? [
            'import urllib.request',
            'def main(input):',
            '    try:',
            '        with urllib.request.urlopen(input["url"], timeout=5) as r:',
            '            return {"status": r.status}',
            '    except Exception as err:',
            '        return {"error": type(err).__name__}',
          ].join('\n')
        : [
            'from js import fetch',
            'async def main(input):',
            '    try:',
            '        r = await fetch(input["url"])',
            '    except Exception:',
            '        return {"error": "URLError"}',
            '    return {"status": r.status} if r.status < 400 else {"error": "HTTPError"}',
          ].join('\n');
    const url = `${target.origin}/__received`;
    const allowed = await createTool(t, { code, inputSchema: true, outputSchema: null, network: { allow: [target.host] } });
    const denied = await createTool(t, { code, inputSchema: true, outputSchema: null, network: { allow: ['api.example.com'] } });
    const none = await createTool(t, { code, inputSchema: true, outputSchema: null });
    expect((await expectJson(await invoke(t, allowed.id, { input: { url } }), 200)).output).toEqual({ status: 200 });
    expect((await expectJson(await invoke(t, denied.id, { input: { url } }), 200)).output).toEqual({ error: 'HTTPError' }); // the proxy's 403
    expect((await expectJson(await invoke(t, none.id, { input: { url } }), 200)).output).toEqual({ error: 'URLError' }); // no route at all
  });

  it('records every invocation (outcome, duration, bytes, sandbox) in the log', async () => {
    const t = await signup('inv-log');
    const tool = await createTool(t);
    await expectJson(await invoke(t, tool.id, { input: { name: 'one' } }), 200);
    await expectJson(await invoke(t, tool.id, { input: { name: 7 } }), 422);
    const log = await expectJson(await call(`/v1/tools/${tool.id}/invocations`, { token: t.accessToken }), 200);
    expect(log.data).toHaveLength(2);
    expect(log.data[1]).toMatchObject({
      toolId: tool.id,
      version: 1,
      source: 'api',
      outcome: 'ok',
      inputBytes: JSON.stringify({ name: 'one' }).length,
      outputBytes: JSON.stringify({ greeting: 'Hello, one!' }).length,
      logBytes: 18,
      sandbox: inject('toolRunnerSandbox'),
    });
    expect(log.data[1].durationMs).toBeGreaterThan(0);
    // The tool never ran: no sandbox to name.
    expect(log.data[0]).toMatchObject({ outcome: 'invalid_input', outputBytes: 0, sandbox: null });
  });

  it('invokeTool (the flow engine entry) runs latest or a pinned version and never crosses tenants', async () => {
    const a = await signup('inv-flow-a');
    const b = await signup('inv-flow-b');
    const tool = await createTool(a, { runtime: 'node', code: JS_HELLO });
    const deps = toolDeps(env, loadConfig(env));
    const ok = await invokeTool(deps, a.tenantId, tool.id, 'latest', { name: 'Flow' });
    expect(ok).toMatchObject({ ok: true, output: { greeting: 'Hello, Flow!' }, version: 1 });
    const bad = await invokeTool(deps, a.tenantId, tool.id, 1, { nope: true });
    expect(bad).toMatchObject({ ok: false, error: { type: 'invalid_input', errors: expect.any(Array) } });
    await expect(invokeTool(deps, b.tenantId, tool.id, 'latest', { name: 'x' })).rejects.toMatchObject({ code: 'not_found' });
    const rows = await getDb(env.DB).query.toolInvocations.findMany({ where: (r, { eq }) => eq(r.toolId, tool.id) });
    expect(rows.map((r) => r.source)).toEqual(['flow', 'flow']);
  });

  it('a runner that cannot be reached → 503 with Retry-After (the tool did not run)', async () => {
    const t = await signup('inv-down');
    const tool = await createTool(t);
    const deps = { ...toolDeps(env, loadConfig(env), 'api'), transport: async () => Promise.reject(new Error('connection refused')) };
    const result = await invokeTool(deps, t.tenantId, tool.id, 'latest', { name: 'x' });
    expect(result).toMatchObject({ ok: false, retryable: true, error: { type: 'sandbox_error' } });
    const busy = { ...deps, transport: async () => new Response('{"error":"busy"}', { status: 503, headers: { 'retry-after': '2' } }) };
    expect(await invokeTool(busy, t.tenantId, tool.id, 'latest', { name: 'x' })).toMatchObject({
      ok: false,
      retryable: true,
      retryAfterS: 2,
    });
    // What POST /invoke answers then: a 503 problem with Retry-After, not a tool result.
    await expect(invokeForApi(busy, t.tenantId, tool.id, { input: { name: 'x' } })).rejects.toMatchObject({
      code: 'service_unavailable',
      status: 503,
      headers: { 'Retry-After': '2' },
    });
  });

  it("names the tenant to the runner (which caps each tenant's share of sandboxes) and passes on its tenant_busy as retryable", async () => {
    const t = await signup('inv-tenant');
    const tool = await createTool(t, { runtime: 'node', code: JS_HELLO });
    const config = loadConfig(env);
    const real = runnerTransport(config, env)!;
    const sent: Array<Record<string, unknown>> = [];
    const spy = {
      ...toolDeps(env, config, 'api'),
      transport: async (req: Request) => {
        sent.push(await req.clone().json());
        return real(req);
      },
    };
    expect(await invokeTool(spy, t.tenantId, tool.id, 'latest', { name: 'T' })).toMatchObject({
      ok: true,
      output: { greeting: 'Hello, T!' },
    });
    expect(sent).toHaveLength(1);
    expect(sent[0]).toMatchObject({ tenant: t.tenantId, runtime: 'node' });
    const share = {
      ...spy,
      transport: async () =>
        new Response('{"error":"tenant_busy","capacity":2}', {
          status: 503,
          headers: { 'retry-after': '1', 'content-type': 'application/json' },
        }),
    };
    expect(await invokeTool(share, t.tenantId, tool.id, 'latest', { name: 'x' })).toMatchObject({
      ok: false,
      retryable: true,
      retryAfterS: 1,
      error: { type: 'sandbox_error', message: expect.stringContaining('share') },
    });
  });
});
