/**
 * How a wasm guest process is started: Node's permission model (reads only of
 * the guest's own directory and its interpreter's package; no writes, child
 * processes, worker threads, native addons or WASI), no code generation from
 * strings, an empty environment, the sandbox uid when the runner is root, and
 * nice 10 like bubblewrap sandboxes.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { RunnerConfig } from '../config.ts';
import type { Runtime } from '../protocol.ts';

/** The host side of a guest is small; its tool's memory is wasm linear memory, watched separately (memory-watch.ts). */
const GUEST_HEAP_MB = 256;
const SANDBOX_NICE = 10;
const GUEST_STACK_KB = 3900;

export interface GuestEntry {
  script: string;
  args: string[];
  /** Directories the guest may read (beside its own). */
  read: string[];
  /** The guest's own directory (guest-files.ts). */
  dir: string;
}

/**
 * Where this runner's wasm runtimes live (resolved like its own imports, so the root lockfile pins
 * them) and the guest scripts, from `guestDir` (prepareGuestFiles()).
 */
export function guestEntries(guestDir: string): Record<Runtime, GuestEntry> {
  const file = (specifier: string) => fileURLToPath(import.meta.resolve(specifier));
  const pyodide = path.dirname(file('pyodide'));
  const core = file('quickjs-emscripten-core');
  const variant = file('@jitl/quickjs-wasmfile-release-sync');
  const ffiTypes = file('@jitl/quickjs-ffi-types');
  const pkg = (entry: string) => path.dirname(path.dirname(entry)); // <pkg>/dist/index.mjs → <pkg>
  return {
    python3: { script: path.join(guestDir, 'python.mjs'), args: [pyodide], read: [pyodide], dir: guestDir },
    node: {
      script: path.join(guestDir, 'quickjs.mjs'),
      args: [core, variant],
      read: [pkg(core), pkg(variant), pkg(ffiTypes)],
      dir: guestDir,
    },
  };
}

export const GUEST_STDIO = ['pipe', 'pipe', 'pipe', 'pipe', 'pipe', 'pipe', 'pipe'] as const;

/**
 * Starts a guest. `snapshot` (Python only) is a Pyodide memory snapshot file to
 * start from; `makeSnapshot` starts the one guest that writes it instead.
 */
export function spawnGuest(
  cfg: RunnerConfig,
  runtime: Runtime,
  entries: Record<Runtime, GuestEntry>,
  opts: { snapshot?: string | null; makeSnapshot?: boolean } = {},
): ChildProcess {
  const entry = entries[runtime];
  const snapshot = runtime === 'python3' && opts.snapshot ? opts.snapshot : null;
  const extra = opts.makeSnapshot ? ['--make-snapshot'] : snapshot ? [`--snapshot=${snapshot}`] : [];
  const nodeArgs = [
    '--permission',
    ...[entry.dir, ...entry.read].map((dir) => `--allow-fs-read=${dir.endsWith(path.sep) ? dir : dir + path.sep}`),
    ...(snapshot ? [`--allow-fs-read=${snapshot}`] : []),
    '--disallow-code-generation-from-strings',
    `--max-old-space-size=${GUEST_HEAP_MB}`,
    // QuickJS's 1 MiB stack limit must trip before V8's own (~1 MB by default), which would crash the
    // guest instead of throwing inside the tool; the main thread's 8 MiB OS stack leaves room for this.
    `--stack-size=${GUEST_STACK_KB}`,
    '--no-warnings',
    entry.script,
    ...entry.args,
    ...extra,
  ];
  const nice = existsSync('/usr/bin/nice');
  const asRoot = process.getuid?.() === 0;
  return spawn(nice ? '/usr/bin/nice' : cfg.node, nice ? ['-n', String(SANDBOX_NICE), cfg.node, ...nodeArgs] : nodeArgs, {
    stdio: [...GUEST_STDIO],
    env: {},
    // Own process group: a kill reaches it whatever it does.
    detached: true,
    ...(asRoot ? { uid: cfg.sandboxUid, gid: cfg.sandboxGid } : {}),
  });
}
