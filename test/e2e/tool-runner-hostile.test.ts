// Hostile tools against the real runner, in each isolation mode (bubblewrap, WebAssembly).
// Each case runs beside a well-behaved invocation, which must succeed meanwhile; afterwards
// no sandbox process is left (in wasm mode: none but the warm pool's unused guests).
import { execFile } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { promisify } from 'node:util';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  type InvocationBody,
  invokeRunner,
  RUNNER_ENTRY,
  type RunningToolRunner,
  sandboxModes,
  startToolRunner,
} from '../support/node/tool-runner';

const SECRET = 'e2e-hostile-secret-0123456789abcdef0123456789';
const WORKDIR_BYTES = 16 * 1024 * 1024;

const WELL_BEHAVED: InvocationBody = {
  runtime: 'python3',
  code: 'def main(input):\n    return {"sum": input["a"] + input["b"]}\n',
  input: { a: 2, b: 3 },
};
const FORK_BOMB =
  'import os\ndef main(input):\n    while True:\n        try:\n            os.fork()\n        except OSError:\n            pass\n';
const PY_HOG = 'def main(input):\n    hog = []\n    while True:\n        hog.append(bytearray(8 * 1024 * 1024))\n';

for (const { mode, skip } of sandboxModes()) {
  describe.skipIf(skip !== null)(`hostile tools are contained: ${mode}${skip ? ` (skipped: ${skip})` : ''}`, () => {
    // A uid no other process uses, so leftovers are attributable (the runner is root here; sandboxes drop to it).
    const SANDBOX_UID = 60000 + Math.floor(Math.random() * 4000);
    let runner: RunningToolRunner;

    beforeAll(async () => {
      runner = await startToolRunner({
        secret: SECRET,
        sandbox: mode,
        env: {
          TOOL_RUNNER_CONCURRENCY: '8',
          TOOL_RUNNER_SANDBOX_UID: String(SANDBOX_UID),
          TOOL_RUNNER_SANDBOX_GID: String(SANDBOX_UID),
          TOOL_RUNNER_WORKDIR_BYTES: String(WORKDIR_BYTES),
          TOOL_RUNNER_WASM_POOL: '3',
        },
      });
      expect(runner.sandbox).toBe(mode);
    });
    afterAll(async () => {
      await runner?.stop();
    });

    async function sandboxProcesses(): Promise<string> {
      try {
        const { stdout } = await promisify(execFile)('ps', ['-u', String(SANDBOX_UID), '-o', 'pid=,stat=,comm=']);
        // Exited sandbox inits are reparented to PID 1 and reaped by it (tini in the image): zombies run nothing.
        // In wasm mode the pool's waiting guests (`edgecrew-warm`) have run nothing yet.
        return stdout
          .split('\n')
          .filter((l) => l.trim() && !/^\s*\d+\s+Z/.test(l) && !/\sedgecrew-warm\s*$/.test(l))
          .join('\n');
      } catch {
        return ''; // ps exits 1 when it finds none
      }
    }

    afterEach(async () => {
      // A guest killed a moment ago may still be on its way out.
      for (let i = 0; i < 50 && (await sandboxProcesses()) !== ''; i++) await new Promise((r) => setTimeout(r, 100));
      expect(await sandboxProcesses()).toBe('');
      expect(readdirSync(tmpdir()).filter((n) => n.startsWith('edgecrew-egress-'))).toEqual([]);
    });

    /** Runs `hostile` and, once it is under way, a well-behaved invocation that must succeed. */
    async function withNeighbour(hostile: InvocationBody) {
      const bad = invokeRunner(runner, hostile);
      await new Promise((r) => setTimeout(r, 300));
      const good = await invokeRunner(runner, WELL_BEHAVED);
      expect(good.status).toBe(200);
      expect(good.body).toMatchObject({ ok: true, output: { sum: 5 } });
      const result = await bad;
      expect(result.status).toBe(200);
      expect(result.body.sandbox).toBe(mode);
      return result.body;
    }

    it(`fork bomb → timeout (${mode === 'bwrap' ? 'RLIMIT_NPROC holds it' : 'wasm has no fork: it spins'}, the timer kills it)`, async () => {
      const body = await withNeighbour({ runtime: 'python3', code: FORK_BOMB, timeoutMs: 2_000 });
      expect(body.error).toMatchObject({ type: 'timeout' });
    });

    it('memory hog (Python) → memory_limit', async () => {
      const body = await withNeighbour({ runtime: 'python3', code: PY_HOG, memoryMb: 128 });
      expect(body.error).toMatchObject({ type: 'memory_limit' });
    });

    it('memory hog (JavaScript heap and buffers) → memory_limit', async () => {
      const heap = await withNeighbour({
        runtime: 'node',
        code: 'export function main() { const a = []; for (;;) a.push(new Array(1e6).fill(1.5)); }',
        memoryMb: 96,
      });
      expect(heap.error).toMatchObject({ type: 'memory_limit' });
      const buffers = await invokeRunner(runner, {
        runtime: 'node',
        code: 'export function main() { const a = []; for (;;) a.push(new Uint8Array(64 * 1024 * 1024).fill(1)); }',
        memoryMb: 96,
      });
      expect(buffers.body.error).toMatchObject({ type: 'memory_limit' });
    });

    it('infinite loop → timeout at the wall clock', async () => {
      const started = Date.now();
      const body = await withNeighbour({ runtime: 'node', code: 'export function main() { for (;;) {} }', timeoutMs: 1_500 });
      expect(body.error).toMatchObject({ type: 'timeout' });
      expect(Date.now() - started).toBeLessThan(8_000);
    });

    it('busy CPU on every thread it can start → timeout', async () => {
      const code =
        mode === 'bwrap'
          ? [
              "import { Worker } from 'node:worker_threads';",
              'export function main() {',
              "  for (let i = 0; i < 4; i++) new Worker('for (;;) {}', { eval: true });",
              '  return new Promise(() => {});',
              '}',
            ].join('\n')
          : // No threads in wasm: starting one fails, so the tool spins on its own.
            [
              'import threading',
              'def spin():',
              '    while True:',
              '        sum(range(1000))',
              'def main(input):',
              '    for _ in range(4):',
              '        try:',
              '            threading.Thread(target=spin).start()',
              '        except RuntimeError:',
              '            pass',
              '    spin()',
            ].join('\n');
      const body = await withNeighbour({ runtime: mode === 'bwrap' ? 'node' : 'python3', code, timeoutMs: 3_000 });
      expect(body.error).toMatchObject({ type: 'timeout' });
    });

    it("cannot read the runner's files, environment or other processes", async () => {
      const code = [
        'import os',
        'def main(input):',
        '    seen = {"env": dict(os.environ), "pids": sorted(int(p) for p in os.listdir("/proc") if p.isdigit())}',
        '    for path in input["paths"]:',
        '        try:',
        '            with open(path) as f:',
        '                seen[path] = f.read()',
        '        except Exception as err:',
        '            seen[path] = type(err).__name__',
        '    seen["root"] = sorted(os.listdir("/"))',
        '    return seen',
      ].join('\n');
      const hostPaths = [
        RUNNER_ENTRY,
        `/proc/${runner.process.pid}/environ`,
        '/etc/passwd',
        '/etc/shadow',
        '/root/.bashrc',
        `${process.cwd()}/package.json`,
      ];
      const body = await withNeighbour({ runtime: 'python3', code, input: { paths: [...hostPaths, '/proc/1/environ'] } });
      expect(body.ok).toBe(true);
      const out = body.output;
      expect(JSON.stringify(body)).not.toContain(SECRET);
      expect(Object.keys(out.env).sort()).toEqual(['HOME', 'LANG', 'PATH', 'PWD', 'TMPDIR']);
      for (const p of hostPaths) expect(out[p], p).toBe('FileNotFoundError');
      expect(out.pids.length).toBeLessThanOrEqual(3); // its own PID namespace (init, the tool, maybe prlimit's exec), or none at all
      if (mode === 'bwrap') {
        expect(out['/proc/1/environ']).toBe(''); // the sandbox's own init, with an empty environment
        expect(out.root).toEqual(['bin', 'dev', 'etc', 'lib', 'lib64', 'opt', 'proc', 'sbin', 'tmp', 'usr', 'work']);
      } else {
        expect(out['/proc/1/environ']).toBe('FileNotFoundError');
        // Pyodide's in-memory file system: its standard library under /lib, nothing of the host's.
        expect(out.root).toEqual(['dev', 'home', 'lib', 'opt', 'proc', 'tmp', 'work']);
      }
    });

    it('cannot write outside its work directory (read-only system, /work and /tmp writable)', async () => {
      const code = [
        'def main(input):',
        '    out = {}',
        '    for path in ["/usr/evil", "/evil", "/etc/evil", "/opt/edgecrew/tool/main.py", "/work/ok", "/tmp/ok"]:',
        '        try:',
        '            with open(path, "w") as f:',
        '                f.write("x")',
        '            out[path] = "written"',
        '        except OSError as err:',
        '            out[path] = err.strerror',
        '    return out',
      ].join('\n');
      const body = await withNeighbour({ runtime: 'python3', code });
      // bubblewrap: a read-only bind of the host's /usr; wasm: an in-memory tree made read-only outside /work and /tmp.
      const refused =
        mode === 'bwrap'
          ? { ro: 'Read-only file system', missing: 'Read-only file system' }
          : { ro: 'Permission denied', missing: 'No such file or directory' };
      expect(body.output).toEqual({
        '/usr/evil': refused.missing,
        '/evil': refused.ro,
        '/etc/evil': refused.missing,
        '/opt/edgecrew/tool/main.py': refused.ro,
        '/work/ok': 'written',
        '/tmp/ok': 'written',
      });
    });

    it('a file larger than the work directory allows → exit_nonzero (RLIMIT_FSIZE / tmpfs size / the wasm file system quota)', async () => {
      const code = 'def main(input):\n    with open("/work/big", "wb") as f:\n        while True:\n            f.write(b"x" * 1048576)\n';
      const body = await withNeighbour({ runtime: 'python3', code });
      expect(body.error.type).toBe('exit_nonzero');
      // Killed by SIGXFSZ, or (Python ignores that signal) the write's own error, as the tool saw it.
      expect(body.error.message).toMatch(/SIGXFSZ|No space left on device|File too large/);
    });

    it('a tool that fills its work area sees the error and can still print and return', async () => {
      const code = [
        'import errno',
        'def main(input):',
        '    n = 0',
        '    try:',
        '        with open("/work/big", "wb") as f:',
        '            while True:',
        '                f.write(b"x" * 1048576)',
        '                n += 1',
        '    except OSError as err:',
        '        print("full after", n, "MiB:", err.strerror)',
        '        return {"errno": errno.errorcode.get(err.errno), "mib": n}',
      ].join('\n');
      const body = await withNeighbour({ runtime: 'python3', code });
      expect(body.ok).toBe(true);
      expect(['ENOSPC', 'EFBIG']).toContain(body.output.errno);
      expect(body.output.mib).toBeGreaterThanOrEqual(8);
      expect(body.output.mib).toBeLessThanOrEqual(WORKDIR_BYTES / 1048576);
      expect(body.stdout).toMatch(/^full after \d+ MiB: (No space left on device|File too large)\n$/);
    });

    it('space a tool gives back (a file deleted, truncated, overwritten or replaced) can be written again', async () => {
      // 40 MiB written in all, never more than 2 MiB held, against a 16 MiB work area (as on a tmpfs).
      const code = [
        'import os',
        'def main(input):',
        '    mib = b"x" * 1048576',
        '    for i in range(10):',
        '        with open("/work/f", "wb") as f:',
        '            f.write(mib)',
        '    for i in range(10):',
        '        with open(f"/tmp/g{i}", "wb") as f:',
        '            f.write(mib)',
        '        os.remove(f"/tmp/g{i}")',
        '    for i in range(10):',
        '        with open("/work/f", "r+b") as f:',
        '            f.truncate(0)',
        '            f.write(mib)',
        '    for i in range(10):',
        '        with open("/work/h", "wb") as f:',
        '            f.write(mib)',
        '        os.replace("/work/h", "/work/f")',
        '    try:',
        '        with open("/work/sparse", "wb") as f:',
        '            f.truncate(64 * 1048576)',
        '        extended = "yes"',
        '    except OSError as err:',
        '        extended = err.strerror',
        '    return {"size": os.path.getsize("/work/f"), "extended": extended}',
      ].join('\n');
      const body = await withNeighbour({ runtime: 'python3', code });
      expect(body.error).toBeUndefined();
      expect(body.output.size).toBe(1048576);
      // Extending a file past the area is refused too: RLIMIT_FSIZE (bubblewrap), the cap (wasm, whose
      // file system would allocate the bytes).
      expect(body.output.extended).toBe(mode === 'bwrap' ? 'File too large' : 'No space left on device');
    });

    it('an exception outside Exception (a BaseException of its own) → exit_nonzero naming it, stderr short', async () => {
      const code = 'class Escape(BaseException):\n    pass\ndef main(input):\n    raise Escape("out of reach")\n';
      const body = await withNeighbour({ runtime: 'python3', code });
      expect(body.error.type).toBe('exit_nonzero');
      expect(body.error.message).toMatch(/Escape: out of reach$/);
      // wasm: the guest reports an error that escapes it in a few lines, not Node's default report with
      // the throwing source line (Pyodide's minified 1.2 MB first line, past the stderr cap).
      expect(body.stderrBytes).toBeLessThan(8 * 1024);
    });

    it("cannot open a network connection when network is 'none' (not even to the runner on loopback)", async () => {
      const code = [
        'import socket',
        'def main(input):',
        '    out = {}',
        '    for host, port in [("1.1.1.1", 80), ("127.0.0.1", input["runnerPort"]), ("example.com", 443)]:',
        '        try:',
        '            socket.create_connection((host, port), timeout=2).close()',
        '            out[host] = "connected"',
        '        except OSError as err:',
        '            out[host] = type(err).__name__',
        '    return out',
      ].join('\n');
      const body = await withNeighbour({ runtime: 'python3', code, input: { runnerPort: runner.port } });
      expect(Object.values(body.output)).not.toContain('connected');
      if (mode === 'bwrap')
        expect(body.output).toEqual({ '1.1.1.1': 'OSError', '127.0.0.1': 'ConnectionRefusedError', 'example.com': 'gaierror' });
      const js = await invokeRunner(runner, {
        runtime: 'node',
        code: 'export async function main(input) { try { await fetch(`http://127.0.0.1:${input.port}/health`); return "connected"; } catch (err) { return String(err); } }',
        input: { port: runner.port },
      });
      expect(js.body.output).toMatch(/fetch failed/);
    });

    it('printing gigabytes → invalid_output as soon as the cap is passed', async () => {
      const started = Date.now();
      const body = await withNeighbour({
        runtime: 'python3',
        code: 'import sys\ndef main(input):\n    while True:\n        sys.stdout.write("x" * 65536)\n',
        timeoutMs: 30_000,
      });
      expect(body.error).toMatchObject({ type: 'invalid_output' });
      expect(body.error.message).toContain('stdout');
      expect(body.stdout.length).toBeLessThan(16 * 1024);
      expect(Date.now() - started).toBeLessThan(10_000);
    });

    it('8 MiB printed before returning → invalid_output every time (the cap does not depend on timing)', async () => {
      const tries = await Promise.all(
        Array.from({ length: 5 }, () =>
          invokeRunner(runner, { runtime: 'node', code: 'export function main() { console.log("x".repeat(8 * 1024 * 1024)); return 1; }' }),
        ),
      );
      for (const t of tries) expect(t.body.error).toMatchObject({ type: 'invalid_output' });
    });

    it('a result over the size cap → invalid_output', async () => {
      const body = await invokeRunner(runner, { runtime: 'node', code: 'export function main() { return "x".repeat(2 * 1024 * 1024); }' });
      expect(body.body.error).toMatchObject({ type: 'invalid_output' });
    });

    it('a tool that never reads stdin (1.5 MB of input pending) → timeout, the runner is not stuck', async () => {
      const code = 'import time\ntime.sleep(3600)\ndef main(input):\n    return 1\n';
      const body = await withNeighbour({ runtime: 'python3', code, input: { pad: 'x'.repeat(1_500_000) }, timeoutMs: 1_500 });
      expect(body.error).toMatchObject({ type: 'timeout' });
    });

    if (mode === 'wasm') {
      it("cannot reach the host's JavaScript from Python (no process, no require, no eval)", async () => {
        const code = [
          'def attempt(f):',
          '    try:',
          '        return repr(f())',
          '    except BaseException as err:',
          '        return "refused: " + type(err).__name__',
          'def main(input):',
          '    import js',
          '    out = {}',
          '    out["js.process"] = attempt(lambda: js.process)',
          '    out["js.require"] = attempt(lambda: js.require)',
          '    out["run_js"] = attempt(lambda: __import__("pyodide.code", fromlist=["run_js"]).run_js("process.pid"))',
          '    out["Function"] = attempt(lambda: js.fetch.constructor("return process")())',
          '    out["pyodide_js"] = attempt(lambda: __import__("pyodide_js")._module.constructor.constructor("return process")())',
          '    return out',
        ].join('\n');
        const body = await withNeighbour({ runtime: 'python3', code });
        for (const [k, v] of Object.entries(body.output as Record<string, string>)) expect(v, k).toMatch(/^refused: /);
      });

      it('cannot reach the host from JavaScript (QuickJS has no Node APIs; the host door is gone)', async () => {
        const code = [
          'export async function main() {',
          '  const out = { require: typeof require, host: typeof globalThis.__host, buffer: typeof Buffer, binding: typeof process.binding };',
          "  try { await import('node:fs'); out.import = 'loaded'; } catch (err) { out.import = 'refused'; }",
          "  try { out.eval = String(new Function('return typeof process.binding')()); } catch (err) { out.eval = 'refused'; }",
          '  return out;',
          '}',
        ].join('\n');
        const body = await invokeRunner(runner, { runtime: 'node', code });
        expect(body.body.output).toEqual({
          require: 'undefined',
          host: 'undefined',
          buffer: 'undefined',
          binding: 'undefined',
          import: 'refused',
          eval: 'undefined',
        });
      });
    }

    it('all of the above at once still leave the runner serving', async () => {
      const hostile: InvocationBody[] = [
        { runtime: 'python3', code: FORK_BOMB, timeoutMs: 2_000 },
        { runtime: 'node', code: 'export function main() { for (;;) {} }', timeoutMs: 2_000 },
        { runtime: 'python3', code: PY_HOG },
      ];
      const bad = hostile.map((h) => invokeRunner(runner, h));
      await new Promise((r) => setTimeout(r, 300));
      const good = await Promise.all([
        invokeRunner(runner, WELL_BEHAVED),
        invokeRunner(runner, { runtime: 'node', code: 'export const main = (i) => i.a * i.b;', input: { a: 6, b: 7 } }),
      ]);
      expect(good.map((g) => g.body.output)).toEqual([{ sum: 5 }, 42]);
      expect((await Promise.all(bad)).map((b) => b.body.error?.type)).toEqual(['timeout', 'timeout', 'memory_limit']);
    });
  });
}
