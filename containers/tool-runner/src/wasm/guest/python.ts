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
/** open()'s append flag, in Emscripten's numbering (Linux's too). */
const O_APPEND = 0o2000;

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

/** The parts of Emscripten's FS the work-area cap wraps (Pyodide's typings leave some out). */
interface FileNode {
  mode: number;
  usedBytes?: number;
}
interface CappedFS {
  write(stream: WriteStream, buffer: Uint8Array, offset: number, length: number, position?: number, canOwn?: boolean): number;
  doTruncate(stream: unknown, node: FileNode, len: number): void;
  unlink(path: string): void;
  rename(oldPath: string, newPath: string): void;
  lookupPath(path: string, opts: { follow: boolean }): { node: FileNode };
  isFile(mode: number): boolean;
}
interface WriteStream {
  node: FileNode;
  position?: number;
  flags: number;
}
/**
 * Caps what the work area holds (TOOL_RUNNER_WORKDIR_BYTES, the tmpfs size in bubblewrap mode): the
 * sizes of the files written in this invocation, in /work and /tmp together. A write that would take
 * it past the cap fails with ENOSPC; deleting, truncating or replacing a file gives its bytes back, as
 * on a tmpfs. Only regular files count: stdout and stderr are devices here, capped by the runner, so
 * a tool that has filled its work area can still print (and report the error).
 */
function limitWorkArea(pyfs: PyFS, maxBytes: number, enospc: number): void {
  const fs = pyfs as unknown as CappedFS & { ErrnoError: new (errno: number) => Error };
  /** Each file's size as last counted; `used` is their sum. Files from before the job are not counted (/work and /tmp start empty). */
  const counted = new Map<FileNode, number>();
  let used = 0;
  const recount = (node: FileNode) => {
    const size = node.usedBytes ?? 0;
    used += size - (counted.get(node) ?? 0);
    counted.set(node, size);
  };
  const release = (node: FileNode | null) => {
    if (node === null || !counted.has(node)) return;
    used -= counted.get(node)!;
    counted.delete(node);
  };
  const nodeAt = (path: string): FileNode | null => {
    try {
      const { node } = fs.lookupPath(path, { follow: false });
      return fs.isFile(node.mode) ? node : null;
    } catch {
      return null;
    }
  };

  const write = fs.write.bind(fs);
  fs.write = (stream, buffer, offset, length, position, canOwn) => {
    const node = stream.node;
    if (!fs.isFile(node.mode)) return write(stream, buffer, offset, length, position, canOwn);
    const size = node.usedBytes ?? 0;
    // An appending stream writes at the end whatever its position says.
    const start = position ?? (stream.flags & O_APPEND ? size : (stream.position ?? size));
    const grows = Math.max(size, start + length) - (counted.get(node) ?? 0);
    if (grows > 0 && used + grows > maxBytes) throw new fs.ErrnoError(enospc);
    const written = write(stream, buffer, offset, length, position, canOwn);
    recount(node);
    return written;
  };
  // Every truncation (truncate, ftruncate, open with O_TRUNC) ends here; one that extends a file
  // allocates the bytes (MEMFS keeps no holes), so it is capped like a write.
  const doTruncate = fs.doTruncate.bind(fs);
  fs.doTruncate = (stream, node, len) => {
    if (fs.isFile(node.mode)) {
      const grows = len - (counted.get(node) ?? 0);
      if (grows > 0 && used + grows > maxBytes) throw new fs.ErrnoError(enospc);
    }
    doTruncate(stream, node, len);
    if (fs.isFile(node.mode)) recount(node);
  };
  const unlink = fs.unlink.bind(fs);
  fs.unlink = (path) => {
    const node = nodeAt(path);
    unlink(path);
    release(node);
  };
  // A rename over an existing file deletes that file.
  const rename = fs.rename.bind(fs);
  fs.rename = (oldPath, newPath) => {
    const replaced = nodeAt(newPath);
    const moved = nodeAt(oldPath);
    rename(oldPath, newPath);
    if (replaced !== moved) release(replaced);
  };
}
