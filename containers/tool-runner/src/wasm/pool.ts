/**
 * Warm pool: per runtime, a few guest processes that have loaded their
 * interpreter (Pyodide takes seconds) and wait for a job. Each is used for
 * exactly one invocation and then dies; taking one starts its replacement in
 * the background. Isolation stays per invocation; only the load is hidden.
 */
import type { ChildProcess } from 'node:child_process';
import type { Readable } from 'node:stream';
import type { Runtime } from '../protocol.ts';
import { RUNTIMES } from '../protocol.ts';

/** A guest process that said ready, with what it printed while loading (for diagnostics). */
export interface WarmGuest {
  child: ChildProcess;
  runtime: Runtime;
  /** ms from spawn to ready */
  loadMs: number;
}

interface Starting {
  child: ChildProcess;
  ready: Promise<WarmGuest>;
}

export interface PoolStats {
  idle: number;
  starting: number;
  /** Load time of the most recent guest, ms (null before the first). */
  lastLoadMs: number | null;
}

const START_TIMEOUT_MS = 120_000;

export class WarmPool {
  readonly #spawn: (runtime: Runtime) => ChildProcess;
  readonly #size: number;
  readonly #idle = new Map<Runtime, WarmGuest[]>();
  readonly #starting = new Map<Runtime, Starting[]>();
  readonly #lastLoad = new Map<Runtime, number>();
  #closed = false;

  constructor(spawn: (runtime: Runtime) => ChildProcess, size: number) {
    this.#spawn = spawn;
    this.#size = size;
    for (const r of RUNTIMES) {
      this.#idle.set(r, []);
      this.#starting.set(r, []);
    }
  }

  /** Starts filling one runtime's pool (or every runtime's). */
  fill(runtime?: Runtime): void {
    for (const r of runtime ? [runtime] : RUNTIMES) this.#replenish(r);
  }

  /** A ready, never-used guest: an idle one, else the first of those starting, else a new one. */
  async take(runtime: Runtime): Promise<WarmGuest> {
    const idle = this.#idle.get(runtime)!;
    const guest = idle.shift();
    if (guest) {
      this.#replenish(runtime);
      return guest;
    }
    const starting = this.#starting.get(runtime)!;
    const next = starting.shift() ?? this.#start(runtime, false);
    this.#replenish(runtime);
    return next.ready;
  }

  stats(): Record<Runtime, PoolStats> {
    const out = {} as Record<Runtime, PoolStats>;
    for (const r of RUNTIMES)
      out[r] = { idle: this.#idle.get(r)!.length, starting: this.#starting.get(r)!.length, lastLoadMs: this.#lastLoad.get(r) ?? null };
    return out;
  }

  /** Kills every idle and starting guest; nothing new is started. */
  close(): void {
    this.#closed = true;
    for (const r of RUNTIMES) {
      for (const g of this.#idle.get(r)!) kill(g.child);
      for (const s of this.#starting.get(r)!) kill(s.child);
      this.#idle.set(r, []);
      this.#starting.set(r, []);
    }
  }

  #replenish(runtime: Runtime): void {
    if (this.#closed) return;
    const count = () => this.#idle.get(runtime)!.length + this.#starting.get(runtime)!.length;
    while (count() < this.#size) this.#starting.get(runtime)!.push(this.#start(runtime, true));
  }

  /** Spawns a guest; `pooled` ones move to the idle list when ready (unless taken while starting). */
  #start(runtime: Runtime, pooled: boolean): Starting {
    const started = performance.now();
    const child = this.#spawn(runtime);
    const stdio = child.stdio as unknown as Readable[];
    const early: Buffer[] = [];
    const keep = (chunk: Buffer) => {
      if (early.reduce((n, b) => n + b.length, 0) < 16 * 1024) early.push(chunk);
    };
    stdio[1]?.on('data', keep);
    stdio[2]?.on('data', keep);
    for (const s of stdio) s?.on('error', () => undefined);
    const entry: Starting = {
      child,
      ready: new Promise<WarmGuest>((resolve, reject) => {
        const timer = setTimeout(() => fail(`did not load within ${START_TIMEOUT_MS / 1000} s`), START_TIMEOUT_MS);
        const fail = (why: string) => {
          clearTimeout(timer);
          kill(child);
          this.#forget(runtime, child);
          reject(
            new Error(
              `the ${runtime} interpreter ${why}${early.length ? `: ${Buffer.concat(early).toString('utf8').trim().slice(-800)}` : ''}`,
            ),
          );
        };
        child.once('error', (err) => fail(`could not be started (${err.message})`));
        child.once('exit', (code, signal) => fail(`exited while loading (${signal ?? `code ${code}`})`));
        stdio[6]?.once('data', () => {
          clearTimeout(timer);
          child.removeAllListeners('exit');
          child.removeAllListeners('error');
          stdio[1]?.off('data', keep);
          stdio[2]?.off('data', keep);
          const loadMs = Math.round(performance.now() - started);
          this.#lastLoad.set(runtime, loadMs);
          const guest: WarmGuest = { child, runtime, loadMs };
          if (pooled && this.#removeStarting(runtime, child)) {
            if (this.#closed) return void kill(child);
            this.#idle.get(runtime)!.push(guest);
            // An idle guest that dies (killed from outside, out of memory) leaves the pool and is replaced.
            child.once('exit', () => {
              const idle = this.#idle.get(runtime)!;
              const i = idle.indexOf(guest);
              if (i >= 0) {
                idle.splice(i, 1);
                this.#replenish(runtime);
              }
            });
          }
          resolve(guest);
        });
      }),
    };
    // A pooled guest that fails to load is dropped and retried later by the next take(); do not crash on it.
    if (pooled) entry.ready.catch(() => undefined);
    return entry;
  }

  #removeStarting(runtime: Runtime, child: ChildProcess): boolean {
    const list = this.#starting.get(runtime)!;
    const i = list.findIndex((s) => s.child === child);
    if (i < 0) return false;
    list.splice(i, 1);
    return true;
  }

  #forget(runtime: Runtime, child: ChildProcess): void {
    this.#removeStarting(runtime, child);
    const idle = this.#idle.get(runtime)!;
    const i = idle.findIndex((g) => g.child === child);
    if (i >= 0) idle.splice(i, 1);
  }
}

function kill(child: ChildProcess): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, 'SIGKILL');
  } catch {
    child.kill('SIGKILL');
  }
}
