// Network allow-lists, in each isolation mode. bubblewrap: a sandbox keeps its own empty network
// namespace; the only way out is the runner's egress proxy (bound in as a unix socket). wasm: a
// guest has no sockets at all; its fetch() is carried out by the runner through the same proxy.
// Either way the proxy enforces the tool's allow-list. The target is a local HTTP server; the
// runner is told to allow loopback targets for that.
import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { invokeRunner, type RunningToolRunner, sandboxModes, startToolRunner } from '../support/node/tool-runner';

const SECRET = 'e2e-egress-secret-0123456789abcdef0123456789';
let target: Server;
let port: number;
const seen: string[] = [];

beforeAll(async () => {
  target = createServer((req, res) => {
    seen.push(`${req.method} ${req.url}`);
    res.writeHead(200, { 'content-type': 'text/plain' }).end(`pong ${req.url}`);
  });
  await new Promise<void>((r) => target.listen(0, '127.0.0.1', r));
  port = (target.address() as { port: number }).port;
});
afterAll(async () => {
  await new Promise((r) => target?.close(r));
});

// wasm mode: no sockets in Pyodide; the tool uses the fetch the sandbox provides.
const PY_FETCH = [
  'from js import fetch',
  'async def main(input):',
  '    try:',
  '        r = await fetch(input["url"])',
  '        return {"status": r.status, "body": await r.text()}',
  '    except Exception as err:',
  '        return {"error": f"{type(err).__name__}: {err}"}',
].join('\n');
const PY_GET = [
  'import urllib.request',
  'def main(input):',
  '    try:',
  '        with urllib.request.urlopen(input["url"], timeout=5) as r:',
  '            return {"status": r.status, "body": r.read().decode()}',
  '    except Exception as err:',
  '        return {"error": f"{type(err).__name__}: {err}"}',
].join('\n');
const JS_GET = [
  'export async function main(input) {',
  '  try {',
  '    const res = await fetch(input.url);',
  '    return { status: res.status, body: await res.text() };',
  '  } catch (err) {',
  '    return { error: String(err.cause ?? err) };',
  '  }',
  '}',
].join('\n');
const PY_CONNECT = [
  'import http.client',
  'def main(input):',
  '    conn = http.client.HTTPConnection("127.0.0.1", 3128, timeout=5)',
  '    conn.set_tunnel("127.0.0.1", input["port"])',
  '    conn.request("GET", "/tunnel")',
  '    r = conn.getresponse()',
  '    return {"status": r.status, "body": r.read().decode()}',
].join('\n');
const PY_DIRECT = [
  'import socket',
  'def main(input):',
  '    try:',
  '        socket.create_connection(("127.0.0.1", input["port"]), timeout=2).close()',
  '        return "connected"',
  '    except OSError as err:',
  '        return type(err).__name__',
].join('\n');

for (const { mode, skip } of sandboxModes()) {
  describe.skipIf(skip !== null)(`egress through the allow-list proxy: ${mode}${skip ? ` (skipped: ${skip})` : ''}`, () => {
    let runner: RunningToolRunner;
    let strict: RunningToolRunner;
    const PY = mode === 'bwrap' ? PY_GET : PY_FETCH;
    beforeAll(async () => {
      [runner, strict] = await Promise.all([
        startToolRunner({ secret: SECRET, sandbox: mode, env: { TOOL_RUNNER_EGRESS_ALLOW_PRIVATE: '1', TOOL_RUNNER_WASM_POOL: '1' } }),
        startToolRunner({ secret: SECRET, sandbox: mode, env: { TOOL_RUNNER_WASM_POOL: '1' } }),
      ]);
    });
    afterAll(async () => {
      await Promise.all([runner?.stop(), strict?.stop()]);
    });

    const allow = () => ({ mode: 'allow' as const, hosts: [`127.0.0.1:${port}`] });

    it(`Python (${mode === 'bwrap' ? 'urllib' : 'fetch'}) reaches an allowed host through the proxy`, async () => {
      const { body } = await invokeRunner(runner, {
        runtime: 'python3',
        code: PY,
        input: { url: `http://127.0.0.1:${port}/py` },
        network: allow(),
      });
      expect(body.output).toEqual({ status: 200, body: 'pong /py' });
      expect(seen).toContain('GET /py');
    });

    it('JavaScript (fetch) reaches an allowed host through the proxy', async () => {
      const { body } = await invokeRunner(runner, {
        runtime: 'node',
        code: JS_GET,
        input: { url: `http://127.0.0.1:${port}/js` },
        network: allow(),
      });
      expect(body.output).toEqual({ status: 200, body: 'pong /js' });
    });

    // wasm tools have no sockets to open a tunnel with; their https fetches are tunnelled by the runner.
    it.skipIf(mode === 'wasm')('CONNECT tunnels work for allowed hosts (what HTTPS uses)', async () => {
      const { body } = await invokeRunner(runner, { runtime: 'python3', code: PY_CONNECT, input: { port }, network: allow() });
      expect(body.output).toEqual({ status: 200, body: 'pong /tunnel' });
    });

    it('a host outside the allow-list gets 403 from the proxy and never reaches the target', async () => {
      const before = seen.length;
      const { body } = await invokeRunner(runner, {
        runtime: 'python3',
        code: PY,
        input: { url: `http://127.0.0.1:${port}/denied` },
        network: { mode: 'allow', hosts: ['api.example.com'] },
      });
      expect(JSON.stringify(body.output)).toMatch(/403/);
      const wrongPort = await invokeRunner(runner, {
        runtime: 'node',
        code: JS_GET,
        input: { url: `http://127.0.0.1:${port}/denied` },
        network: { mode: 'allow', hosts: ['127.0.0.1'] },
      });
      // undici reports a refused CONNECT as a cancelled request rather than a status.
      expect(wrongPort.body.output.status === 403 || typeof wrongPort.body.output.error === 'string').toBe(true);
      expect(seen.length).toBe(before);
    });

    it('bypassing the proxy finds no route: the allow-list sandbox still has only its own loopback', async () => {
      const { body } = await invokeRunner(runner, { runtime: 'python3', code: PY_DIRECT, input: { port }, network: allow() });
      // bubblewrap: only the sandbox's own loopback; wasm: no sockets at all.
      expect(body.output).toBe(mode === 'bwrap' ? 'ConnectionRefusedError' : 'OSError');
    });

    it('by default the proxy refuses loopback and private addresses even when allow-listed', async () => {
      const before = seen.length;
      const { body } = await invokeRunner(strict, {
        runtime: 'python3',
        code: PY,
        input: { url: `http://localhost:${port}/private` },
        network: { mode: 'allow', hosts: [`localhost:${port}`] },
      });
      expect(JSON.stringify(body.output)).toMatch(/403/);
      expect(seen.length).toBe(before);
    });
  });
}
