/**
 * Child processes for `npm start`: each runs in its own process group (so a stop
 * reaches grandchildren such as workerd), its output is prefixed line by line,
 * and stopping escalates from a polite signal to SIGKILL.
 */
import { execFileSync, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';

const GROUPS = process.platform !== 'win32';
const color = process.stdout.isTTY && !process.env.NO_COLOR;
const dim = (s) => (color ? `\x1b[2m${s}\x1b[0m` : s);
const COLORS = [36, 35, 33, 32, 34];

let width = 10; // fits "[migrate]"; grows for longer names
let nextColor = 0;

/** Line-prefixed logger, e.g. `[start] ...`. */
export function logger(name) {
  width = Math.max(width, name.length + 2);
  const code = COLORS[nextColor++ % COLORS.length];
  const tag = () => {
    const t = `[${name}]`.padEnd(width);
    return color ? `\x1b[${code}m${t}\x1b[0m` : t;
  };
  return {
    info: (msg) => {
      for (const l of String(msg).split('\n')) process.stdout.write(`${tag()} ${l}\n`);
    },
    error: (msg) => {
      for (const l of String(msg).split('\n')) process.stderr.write(`${tag()} ${l}\n`);
    },
    dim: (msg) => {
      for (const l of String(msg).split('\n')) process.stdout.write(`${tag()} ${dim(l)}\n`);
    },
  };
}

function pipeLines(stream, write) {
  if (!stream) return;
  createInterface({ input: stream, crlfDelay: Infinity }).on('line', (line) => {
    // Spinners redraw with \r; keep only the last frame of such a line.
    const last = line.split('\r').filter(Boolean).pop();
    if (last !== undefined) write(last);
  });
}

/** Sends `signal` to the child's whole process group (or just the child where groups do not exist). */
function signalTree(child, signal) {
  if (child.pid === undefined) return;
  try {
    if (GROUPS) process.kill(-child.pid, signal);
    else child.kill(signal);
  } catch (err) {
    if (err.code !== 'ESRCH') throw err;
  }
}

/**
 * Starts `{ name, command, args, env }`. Returns a handle with `exited`
 * (a promise of `{ code, signal }`) and `stop(signal, graceMs)`.
 */
export function startProcess({ name, command, args, env = {}, cwd }) {
  const log = logger(name);
  const child = spawn(command, args, {
    cwd,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: GROUPS, // own process group: we decide who gets signals, and reach grandchildren
  });
  pipeLines(child.stdout, log.info);
  pipeLines(child.stderr, log.error);

  let done = false;
  const exited = new Promise((resolve) => {
    child.once('error', (err) => {
      log.error(`failed to start: ${err.message}`);
      done = true;
      resolve({ code: 127, signal: null });
    });
    child.once('exit', (code, signal) => {
      done = true;
      // Sweep anything the child left behind in its group (e.g. an orphaned workerd).
      signalTree(child, 'SIGKILL');
      resolve({ code, signal });
    });
  });

  return {
    name,
    log,
    child,
    exited,
    get running() {
      return !done;
    },
    /** Polite signal to the group, SIGKILL after `graceMs`; resolves once the child has exited. */
    async stop(signal = 'SIGINT', graceMs = 10_000) {
      if (done) return exited;
      signalTree(child, signal);
      let timer;
      const forced = new Promise((resolve) => {
        timer = setTimeout(() => {
          log.error(`did not exit within ${graceMs / 1000} s; killing it`);
          signalTree(child, 'SIGKILL');
          resolve();
        }, graceMs);
      });
      await Promise.race([exited, forced]);
      clearTimeout(timer);
      return exited;
    },
    /** Synchronous last resort (for process 'exit'). */
    kill() {
      if (!done) signalTree(child, 'SIGKILL');
    },
  };
}

/** Runs a command to completion; resolves with its exit code. */
export async function runToCompletion(spec, track) {
  const proc = startProcess(spec);
  track?.(proc);
  const { code, signal } = await proc.exited;
  return code ?? (signal ? 128 : 1);
}

/**
 * Calls `onGone` once if whoever launched us goes away without signalling us:
 * our parent dies (we get re-parented), or, under `npm start` (npm → sh → node),
 * npm dies while the shell lingers. `kill <npm pid>` reaches only npm, and npm
 * does not pass the signal through `sh -c`, so without this the services would
 * keep running orphaned. (Ctrl-C in a terminal signals the whole group anyway.)
 */
export function watchLauncher(onGone, intervalMs = 1000) {
  if (process.platform === 'win32') return;
  const parent = process.ppid;
  let launcher;
  if (process.env.npm_lifecycle_event) {
    try {
      launcher = Number(execFileSync('ps', ['-o', 'ppid=', '-p', String(parent)], { encoding: 'utf8' }).trim());
    } catch {
      launcher = undefined;
    }
  }
  if (!Number.isInteger(launcher) || launcher <= 1) launcher = undefined;
  const timer = setInterval(() => {
    let gone = process.ppid !== parent;
    if (!gone && launcher !== undefined) {
      try {
        process.kill(launcher, 0);
      } catch (err) {
        gone = err.code === 'ESRCH';
      }
    }
    if (gone) {
      clearInterval(timer);
      onGone();
    }
  }, intervalMs);
  timer.unref();
}
