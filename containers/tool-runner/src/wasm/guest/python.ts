/**
 * One Python invocation on Pyodide, in its own process (started by the runner's
 * warm pool, src/wasm/pool.ts): load the interpreter and the bootstrap, say
 * ready, then wait for exactly one job, run it, answer and exit.
 *
 *   node --permission … python.ts <pyodide package dir> [--snapshot=<file> | --make-snapshot]
 *
 * Pyodide's own start-up (Python's initialisation, the standard library's
 * imports) takes seconds; a memory snapshot of a freshly loaded interpreter,
 * made once per runner start by this script with --make-snapshot (written to
 * fd 3, before any tool code exists), cuts that to well under a second.
 */
import { constants as fsConstants, readFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { FD, fetchBridge, lockDown, readJob, sendResult, signalReady, writeAll } from './channel.ts';
import { guestFetch } from './fetch.ts';

const TOOL_DIR = '/opt/edgecrew/tool';
/** Directories a tool may write to (its in-memory work area); everything else is made read-only. */
const WRITABLE = new Set(['/work', '/tmp']);

const [pyodideDir, option] = process.argv.slice(2);
if (!pyodideDir) throw new Error('usage: python.ts <pyodide package dir> [--snapshot=<file> | --make-snapshot]');
const makeSnapshot = option === '--make-snapshot';
const snapshotFile = option?.startsWith('--snapshot=') ? option.slice('--snapshot='.length) : null;
/** Modules the bootstrap imports: loaded before the snapshot (or before ready). */
const PRELOAD = 'import asyncio, importlib.util, inspect, json, os, sys, traceback';

// Pyodide's NODEFS reads fs flag constants through process.binding, which the permission model refuses.
(process as unknown as { binding: (name: string) => unknown }).binding = (name: string) => {
  if (name === 'constants') return { fs: fsConstants };
  throw new Error(`process.binding(${name}) is not available in the sandbox`);
};

const bridge = fetchBridge();
let network: 'none' | 'allow' = 'none';
// The `js` module Python sees: only this object, not the host's globals.
const jsGlobals = Object.freeze({ fetch: guestFetch(bridge, () => network) });

const { loadPyodide } = (await import(pathToFileURL(path.join(pyodideDir, 'pyodide.mjs')).href)) as typeof import('pyodide');
const write = (fd: number) => (bytes: Uint8Array) => {
  writeAll(fd, bytes);
  return bytes.length;
};
const py = await loadPyodide({
  indexURL: `${pyodideDir}/`,
  jsglobals: jsGlobals,
  env: { HOME: '/work', LANG: 'C.UTF-8', PATH: '/usr/local/bin:/usr/bin:/bin', TMPDIR: '/tmp' },
  stdout: (line) => writeAll(FD.stdout, `${line}\n`),
  stderr: (line) => writeAll(FD.stderr, `${line}\n`),
  ...(makeSnapshot ? { _makeSnapshot: true } : {}),
  ...(snapshotFile ? { _loadSnapshot: readFileSync(snapshotFile) } : {}),
});
if (makeSnapshot) {
  py.runPython(PRELOAD);
  writeAll(FD.result, py.makeMemorySnapshot());
  process.exit(0);
}
py.setStdout({ write: write(FD.stdout), isatty: false });
py.setStderr({ write: write(FD.stderr), isatty: false });
// stdin is empty, as for a tool that has consumed its input.
py.setStdin({ stdin: () => null });
// The bootstrap and what it imports load now, in the warm pool, not on the tool's clock.
py.runPython(PRELOAD);
py.runPython(readFileSync(new URL('./bootstrap.py', import.meta.url), 'utf8'), { filename: '/opt/edgecrew/bootstrap.py' });
const run = py.globals.get('run') as (input: string) => Promise<string | number>;
const FS = py.FS;
// Emscripten numbers errors its own way (its 28 is EINVAL): ask Pyodide, and refuse to start without it.
const ENOSPC = py.ERRNO_CODES.ENOSPC;
if (ENOSPC === undefined) throw new Error('Pyodide names no ENOSPC error code');
FS.mkdirTree(TOOL_DIR);
readOnly(FS, '/');
lockDown();

signalReady();
const job = readJob();
network = job.network;
// The tool's file goes into the read-only tree as the file system's owner would put it there.
FS.ignorePermissions = true;
FS.writeFile(`${TOOL_DIR}/main.py`, job.code);
FS.chmod(`${TOOL_DIR}/main.py`, 0o444);
FS.ignorePermissions = false;
limitWorkArea(FS, job.workDirBytes, ENOSPC);

const result = await run(JSON.stringify(job.input ?? null));
if (typeof result === 'number') process.exit(result);
sendResult(result);

type PyFS = typeof py.FS;

/** chmod a-w everything outside /work and /tmp (an in-memory file system either way, but writes fail as they would on a read-only one). */
function readOnly(fs: PyFS, dir: string): void {
  for (const name of fs.readdir(dir) as string[]) {
    if (name === '.' || name === '..') continue;
    const p = dir === '/' ? `/${name}` : `${dir}/${name}`;
    if (WRITABLE.has(p) || p === '/dev' || p === '/proc') continue;
    const mode = fs.stat(p).mode as number;
    if (fs.isDir(mode)) readOnly(fs, p);
    else if (fs.isFile(mode)) fs.chmod(p, 0o444);
  }
  fs.chmod(dir, 0o555);
}

/**
 * Caps the bytes files may grow by (TOOL_RUNNER_WORKDIR_BYTES, the tmpfs size in bubblewrap mode): past it
 * writes to files fail with ENOSPC. Only regular files count: stdout and stderr are devices here, capped
 * by the runner, and a tool that has filled its work area can still print (and report the error).
 */
function limitWorkArea(fs: PyFS, maxBytes: number, enospc: number): void {
  let used = 0;
  const original = fs.write.bind(fs);
  fs.write = ((
    stream: { node: { usedBytes?: number; mode: number } },
    buffer: Uint8Array,
    offset: number,
    length: number,
    position?: number,
    canOwn?: boolean,
  ) => {
    if (!fs.isFile(stream.node.mode)) return original(stream, buffer, offset, length, position, canOwn);
    const before = stream.node.usedBytes ?? 0;
    const end = (position ?? (stream as unknown as { position: number }).position ?? before) + length;
    const growth = Math.max(0, end - before);
    if (used + growth > maxBytes) throw new fs.ErrnoError(enospc);
    used += growth;
    return original(stream, buffer, offset, length, position, canOwn);
  }) as PyFS['write'];
}
