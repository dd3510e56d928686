// Hostile tools through the API, against the real runner: each ends with its typed error while a
// well-behaved tool keeps working meanwhile, and nothing of the platform leaks into the sandbox.
// (The full hostile matrix runs directly against the runner in test/e2e/tool-runner-hostile.test.ts.)
import { describe, expect, inject, it } from 'vitest';
import { sleep } from '../../support/shared/time';
import { expectJson } from '../../support/workers/http';
import { signup } from '../../support/workers/tenants';
import { createTool, invoke, JS_HELLO } from './_support';

const OPEN = { inputSchema: true, outputSchema: null };

describe('hostile tools through the API', () => {
  it('fork bomb, infinite loop, memory hog and a flood of output are contained while a hello tool runs', async () => {
    const t = await signup('hostile-api');
    const hello = await createTool(t, { runtime: 'node', code: JS_HELLO });
    const hostile = await Promise.all([
      createTool(t, {
        ...OPEN,
        code: 'import os\ndef main(input):\n    while True:\n        try:\n            os.fork()\n        except OSError:\n            pass\n',
        timeoutMs: 1_000,
      }),
      createTool(t, { ...OPEN, runtime: 'node', code: 'export function main() { for (;;) {} }', timeoutMs: 1_000 }),
      createTool(t, {
        ...OPEN,
        runtime: 'node',
        code: 'export function main() { const a = []; for (;;) a.push(new Array(1e6).fill(1.5)); }',
        memoryMb: 64,
      }),
      createTool(t, { ...OPEN, code: 'import sys\ndef main(input):\n    while True:\n        sys.stdout.write("x" * 65536)\n' }),
    ]);
    const running = hostile.map(async (tool) => expectJson(await invoke(t, tool.id, { input: null }), 200));
    await sleep(300); // let the hostile ones start first
    const ok = await expectJson(await invoke(t, hello.id, { input: { name: 'neighbour' } }), 200);
    expect(ok).toMatchObject({ ok: true, output: { greeting: 'Hello, neighbour!' } });
    const results = await Promise.all(running);
    expect(results.map((r) => r.error?.type)).toEqual(['timeout', 'timeout', 'memory_limit', 'invalid_output']);
    expect(results[3]!.stdout.length).toBeLessThan(16 * 1024);
  });

  it("sees neither the Worker's nor the runner's secrets, files or network", async () => {
    const t = await signup('hostile-secrets');
    const code = [
      'import os, socket',
      'def main(input):',
      '    out = {"env": dict(os.environ), "root": sorted(os.listdir("/"))}',
      '    for path in ["/proc/1/environ", "/work/main/.dev.vars", "/etc/passwd"]:',
      '        try:',
      '            out[path] = open(path).read()',
      '        except OSError as err:',
      '            out[path] = type(err).__name__',
      '    try:',
      '        socket.create_connection(("127.0.0.1", 8787), timeout=1)',
      '        out["net"] = "connected"',
      '    except OSError as err:',
      '        out["net"] = type(err).__name__',
      '    return out',
    ].join('\n');
    const tool = await createTool(t, { ...OPEN, code });
    const res = await expectJson(await invoke(t, tool.id, { input: null }), 200);
    const text = JSON.stringify(res);
    for (const secret of ['test-tool-runner-secret', 'test-pepper', 'TOKEN_PEPPER', 'TOOL_RUNNER', 'JWT_PRIVATE_KEYS'])
      expect(text).not.toContain(secret);
    expect(Object.keys(res.output.env).sort()).toEqual(['HOME', 'LANG', 'PATH', 'PWD', 'TMPDIR']);
    // bubblewrap: the sandbox's own init (empty environment) and loopback; wasm: no /proc entries and no sockets at all.
    const bwrap = inject('toolRunnerSandbox') === 'bwrap';
    expect(res.output).toMatchObject({
      '/proc/1/environ': bwrap ? '' : 'FileNotFoundError',
      '/work/main/.dev.vars': 'FileNotFoundError',
      '/etc/passwd': 'FileNotFoundError',
      net: bwrap ? 'ConnectionRefusedError' : 'OSError',
    });
  });
});
