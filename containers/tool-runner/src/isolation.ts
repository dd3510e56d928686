/** Builds the chosen isolation mode behind the one interface server.ts uses. */
import { readFileSync } from 'node:fs';
import type { RunnerConfig, SandboxMode } from './config.ts';
import { runInSandbox } from './sandbox.ts';
import type { Isolation } from './server.ts';
import { prepareGuestFiles } from './wasm/guest-files.ts';
import { guestEntries, spawnGuest } from './wasm/guest-process.ts';
import { WarmPool } from './wasm/pool.ts';
import { makePythonSnapshot } from './wasm/snapshot.ts';
import { runInWasm } from './wasm/supervisor.ts';

/** `reason` (why this mode was chosen) is reported on /health beside the mode. */
export function createIsolation(
  cfg: RunnerConfig,
  mode: SandboxMode,
  reason: string,
  log: (msg: string, fields?: Record<string, unknown>) => void,
): Isolation {
  if (mode === 'bwrap') {
    const bootstraps = {
      node: readFileSync(new URL('../bootstrap/node.mjs', import.meta.url)),
      python3: readFileSync(new URL('../bootstrap/python.py', import.meta.url)),
    };
    return {
      mode,
      run: (req, running) => runInSandbox(cfg, bootstraps, req, running),
      health: () => ({ sandboxReason: reason }),
      close: () => undefined,
    };
  }
  const entries = guestEntries(prepareGuestFiles());
  let snapshot: string | null = null;
  const pool = new WarmPool((runtime) => spawnGuest(cfg, runtime, entries, { snapshot }), cfg.wasmPoolSize);
  pool.fill('node');
  // Python guests start from a memory snapshot once it exists; until then (or if it cannot be made) from scratch.
  makePythonSnapshot(cfg, entries)
    .then((file) => {
      snapshot = file;
      log('pyodide snapshot', { file });
    })
    .catch((err: Error) => log('pyodide snapshot failed; Python guests load from scratch', { message: err.message }))
    .finally(() => pool.fill('python3'));
  return {
    mode,
    run: (req, running) => runInWasm(cfg, pool, req, running),
    health: () => ({ sandboxReason: reason, pool: pool.stats() }),
    close: () => pool.close(),
  };
}
