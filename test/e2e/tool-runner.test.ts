// The tool runner as shipped (containers/tool-runner/src/main.ts), driven over HTTP from Node:
// authentication, the protocol, both runtimes, limits on concurrency and body size — in each
// isolation mode, which must keep the same contract.
import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  invokeRunner,
  RUNNER_ENTRY,
  type RunningToolRunner,
  sandboxModes,
  signHeaders,
  startToolRunner,
} from '../support/node/tool-runner';
import { eventually } from '../support/shared/time';

const SECRET = 'e2e-runner-secret-0123456789abcdef0123456789';

const JS_HELLO = 'export async function main(input) { console.log("hello log"); return { greeting: `Hello, ${input.name}!` }; }';
const PY_HELLO = 'def main(input):\n    print("hello log")\n    return {"greeting": f"Hello, {input[\'name\']}!"}\n';

for (const { mode, skip } of sandboxModes()) {
  describe.skipIf(skip !== null)(`tool runner in ${mode} mode${skip ? ` (skipped: ${skip})` : ''}`, () => {
    let runner: RunningToolRunner;

    beforeAll(async () => {
      runner = await startToolRunner({ secret: SECRET, sandbox: mode, env: { TOOL_RUNNER_CONCURRENCY: '2' } });
    });
    afterAll(async () => {
      await runner?.stop();
    });

    async function post(body: string, headers: Record<string, string>, path = '/v1/invocations') {
      const res = await fetch(runner.url + path, { method: 'POST', body, headers });
      return { status: res.status, body: (await res.json()) as Record<string, unknown> };
    }

    describe('tool runner: protocol', () => {
      it('runs a JavaScript tool: output, stdout excerpt, duration', async () => {
        const { status, body } = await invokeRunner(runner, { runtime: 'node', code: JS_HELLO, input: { name: 'JS' } });
        expect(status).toBe(200);
        expect(body).toMatchObject({ sandbox: mode, ok: true, output: { greeting: 'Hello, JS!' }, stdout: 'hello log\n', stderr: '' });
        expect(body.durationMs).toBeGreaterThan(0);
        expect(body.outputBytes).toBe(JSON.stringify({ greeting: 'Hello, JS!' }).length);
      });

      it('runs a Python tool', async () => {
        const { status, body } = await invokeRunner(runner, { runtime: 'python3', code: PY_HELLO, input: { name: 'Py' } });
        expect(status).toBe(200);
        expect(body).toMatchObject({ ok: true, output: { greeting: 'Hello, Py!' }, stdout: 'hello log\n' });
      });

      it('reports an exception as exit_nonzero with the message and the traceback in stderr', async () => {
        const { body } = await invokeRunner(runner, { runtime: 'python3', code: 'def main(input):\n    raise ValueError("bad things")\n' });
        expect(body).toMatchObject({ ok: false, error: { type: 'exit_nonzero', message: 'ValueError: bad things' } });
        expect(body.stderr).toContain('Traceback');
      });

      it('reports a non-JSON result or a missing main as typed errors', async () => {
        const nan = await invokeRunner(runner, { runtime: 'python3', code: 'def main(input):\n    return float("nan")\n' });
        expect(nan.body.error).toMatchObject({ type: 'invalid_output' });
        const noMain = await invokeRunner(runner, { runtime: 'node', code: 'export const x = 1;' });
        expect(noMain.body.error).toMatchObject({ type: 'exit_nonzero' });
        expect(noMain.body.error.message).toContain('main(input)');
        const exited = await invokeRunner(runner, { runtime: 'node', code: 'export function main() { process.exit(0); }' });
        expect(exited.body.error).toMatchObject({ type: 'invalid_output' });
        const code3 = await invokeRunner(runner, { runtime: 'python3', code: 'import sys\ndef main(input):\n    sys.exit(3)\n' });
        expect(code3.body.error).toMatchObject({ type: 'exit_nonzero' });
        expect(code3.body.error.message).toContain('code 3');
      });

      it("reports a runaway recursion as exit_nonzero with the engine's error (the sandbox itself survives it)", async () => {
        const js = await invokeRunner(runner, {
          runtime: 'node',
          code: 'function f() { return f() + 1; }\nexport function main() { return f(); }',
        });
        expect(js.body.error).toMatchObject({
          type: 'exit_nonzero',
          message: expect.stringMatching(/RangeError: Maximum call stack size exceeded|InternalError: stack overflow/),
        });
        const py = await invokeRunner(runner, {
          runtime: 'python3',
          code: 'def f():\n    return f() + 1\ndef main(input):\n    return f()\n',
        });
        expect(py.body.error).toMatchObject({ type: 'exit_nonzero', message: expect.stringContaining('RecursionError') });
      });

      it('refuses a malformed invocation with 400', async () => {
        const { status, body } = await invokeRunner(runner, { runtime: 'ruby' as 'node', code: '', timeoutMs: 999_999 });
        expect(status).toBe(400);
        expect((body.errors as string[]).join(' ')).toMatch(/runtime.*code.*timeoutMs/s);
      });
    });

    describe('tool runner: authentication', () => {
      const body = JSON.stringify({
        id: 'a',
        runtime: 'node',
        code: JS_HELLO,
        input: { name: 'x' },
        timeoutMs: 2000,
        memoryMb: 64,
        network: { mode: 'none' },
      });

      it('refuses unsigned, wrongly signed, stale and future requests with 401', async () => {
        expect((await post(body, { 'content-type': 'application/json' })).status).toBe(401);
        expect((await post(body, signHeaders('another-secret-0123456789abcdef0123456789', 'POST', '/v1/invocations', body))).status).toBe(
          401,
        );
        expect((await post(body, signHeaders(SECRET, 'POST', '/v1/invocations', body, Date.now() - 6 * 60_000))).status).toBe(401);
        expect((await post(body, signHeaders(SECRET, 'POST', '/v1/invocations', body, Date.now() + 6 * 60_000))).status).toBe(401);
        // Signed for another path or another body.
        expect((await post(body, signHeaders(SECRET, 'POST', '/v1/other', body))).status).toBe(401);
        expect((await post(body.replace('"x"', '"y"'), signHeaders(SECRET, 'POST', '/v1/invocations', body))).status).toBe(401);
      });

      it('accepts a signed request once; a replay is refused', async () => {
        const headers = signHeaders(SECRET, 'POST', '/v1/invocations', body);
        expect((await post(body, headers)).status).toBe(200);
        const replay = await post(body, headers);
        expect(replay.status).toBe(401);
        expect(replay.body).toEqual({ error: 'unauthorized' });
      });

      it('answers /health without secrets and 404/405 elsewhere', async () => {
        const health = await fetch(`${runner.url}/health`);
        expect(await health.json()).toMatchObject({ status: 'ok', sandbox: mode, capacity: 2 });
        expect((await fetch(`${runner.url}/nope`)).status).toBe(404);
        expect((await fetch(`${runner.url}/v1/invocations`)).status).toBe(405);
      });

      it('refuses a body over the limit with 413 before reading it all', async () => {
        const big = JSON.stringify({ pad: 'x'.repeat(3 * 1024 * 1024) });
        const res = await fetch(`${runner.url}/v1/invocations`, {
          method: 'POST',
          body: big,
          headers: signHeaders(SECRET, 'POST', '/v1/invocations', big),
        });
        expect(res.status).toBe(413);
      });

      it('refuses a streamed (chunked) body that grows past the limit with 413, not a reset', async () => {
        const chunk = new TextEncoder().encode('x'.repeat(256 * 1024));
        let sent = 0;
        const body = new ReadableStream<Uint8Array>({
          pull(controller) {
            if (sent++ < 12) controller.enqueue(chunk);
            else controller.close();
          },
        });
        const res = await fetch(`${runner.url}/v1/invocations`, {
          method: 'POST',
          body,
          duplex: 'half',
          headers: signHeaders(SECRET, 'POST', '/v1/invocations', ''),
        } as RequestInit);
        expect(res.headers.get('content-length')).not.toBeNull();
        expect(res.status).toBe(413);
        expect(await res.json()).toEqual({ error: 'payload_too_large' });
      });
    });

    describe('tool runner: concurrency', () => {
      it('answers 503 with Retry-After beyond its limit and recovers', async () => {
        const slow = 'import time\ndef main(input):\n    time.sleep(1.5)\n    return "done"\n';
        const busy = [invokeRunner(runner, { runtime: 'python3', code: slow }), invokeRunner(runner, { runtime: 'python3', code: slow })];
        await new Promise((r) => setTimeout(r, 400));
        const refused = await invokeRunner(runner, { runtime: 'node', code: JS_HELLO, input: { name: 'x' } });
        expect(refused.status).toBe(503);
        expect(refused.headers.get('retry-after')).toBe('1');
        for (const r of await Promise.all(busy)) expect(r.body).toMatchObject({ ok: true, output: 'done' });
        const after = await invokeRunner(runner, { runtime: 'node', code: JS_HELLO, input: { name: 'x' } });
        expect(after.body).toMatchObject({ ok: true });
      });

      it("one tenant's burst takes only its share of the sandboxes: past it tenant_busy, another tenant still runs", async () => {
        const health = async () => (await (await fetch(`${runner.url}/health`)).json()) as Record<string, number>;
        expect(await health()).toMatchObject({ capacity: 2, tenantCapacity: 1 });
        // Tenant A's first invocation spins until its timeout, holding its one share meanwhile.
        const spinning = invokeRunner(runner, {
          tenant: 'tnt_a',
          runtime: 'node',
          code: 'export function main() { for (;;) {} }',
          timeoutMs: 4_000,
        });
        await eventually(
          async () => {
            const h = await health();
            return h.active === 1 && h.tenantsActive === 1 ? true : undefined;
          },
          { what: "tenant A's invocation to hold a sandbox" },
        );
        const burst = await Promise.all(
          [1, 2, 3].map(() => invokeRunner(runner, { tenant: 'tnt_a', runtime: 'node', code: JS_HELLO, input: { name: 'a' } })),
        );
        for (const r of burst) {
          expect(r.status).toBe(503);
          expect(r.body).toEqual({ error: 'tenant_busy', capacity: 1 });
          expect(r.headers.get('retry-after')).toBe('1');
        }
        // A sandbox is still free, and it is tenant B's.
        const other = await invokeRunner(runner, { tenant: 'tnt_b', runtime: 'node', code: JS_HELLO, input: { name: 'b' } });
        expect(other.status).toBe(200);
        expect(other.body).toMatchObject({ ok: true, output: { greeting: 'Hello, b!' } });
        expect((await spinning).body).toMatchObject({ ok: false, error: { type: 'timeout' } });
        // Tenant A's share is back once its invocation ended.
        const again = await invokeRunner(runner, { tenant: 'tnt_a', runtime: 'node', code: JS_HELLO, input: { name: 'a' } });
        expect(again.body).toMatchObject({ ok: true, output: { greeting: 'Hello, a!' } });
        expect(await health()).toMatchObject({ active: 0, tenantsActive: 0 });
      });
    });
  });
}

describe('tool runner: choosing the sandbox', () => {
  /** Runs the runner until it listens or exits; returns what it printed and how it ended. */
  function start(env: Record<string, string>): Promise<{ code: number | null; output: string }> {
    return new Promise((resolve) => {
      const child = spawn(process.execPath, [RUNNER_ENTRY], {
        env: {
          PATH: process.env.PATH ?? '/usr/bin:/bin',
          TOOL_RUNNER_SECRET: SECRET,
          TOOL_RUNNER_PORT: '0',
          TOOL_RUNNER_WASM_POOL: '0',
          ...env,
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let output = '';
      const onData = (c: Buffer) => {
        output += c.toString('utf8');
        if (output.includes('"msg":"listening"')) child.kill('SIGTERM');
      };
      child.stdout.on('data', onData);
      child.stderr.on('data', onData);
      child.once('exit', (code) => resolve({ code, output }));
    });
  }

  it('without bubblewrap it serves in wasm mode and says why', async () => {
    const { output } = await start({ TOOL_RUNNER_BWRAP: '/nonexistent/bwrap' });
    expect(output).toMatch(
      /"msg":"sandbox","mode":"wasm","reason":"bubblewrap is unavailable \(TOOL_RUNNER_BWRAP: \/nonexistent\/bwrap is not an executable file\)"/,
    );
    expect(output).toContain('"msg":"listening"');
  });

  it('TOOL_SANDBOX=bwrap without bubblewrap refuses to start, with a clear message', async () => {
    const { code, output } = await start({ TOOL_SANDBOX: 'bwrap', TOOL_RUNNER_BWRAP: '/nonexistent/bwrap' });
    expect(code).toBe(1);
    expect(output).toContain('tool-runner: TOOL_SANDBOX=bwrap, but TOOL_RUNNER_BWRAP: /nonexistent/bwrap is not an executable file');
  });

  it('TOOL_SANDBOX=wasm is honoured and a bad value is refused', async () => {
    expect((await start({ TOOL_SANDBOX: 'wasm' })).output).toContain('"mode":"wasm","reason":"TOOL_SANDBOX=wasm"');
    const bad = await start({ TOOL_SANDBOX: 'docker' });
    expect(bad.code).toBe(1);
    expect(bad.output).toContain('TOOL_SANDBOX must be one of auto, bwrap, wasm');
  });
});
