/**
 * The open-files limit for scripts that hold thousands of sockets (`npm run bench`'s sync suite
 * opens 1,000 WebSockets per side). Many machines start shells with a soft limit of 1,024 and a
 * much higher hard limit; Node cannot call setrlimit, so `raiseFdLimit` runs the script again
 * under `sh -c 'ulimit -S -n N; exec …'`, which any user may do up to the hard limit.
 */
import { spawnSync } from 'node:child_process';
import { constants } from 'node:os';

const MARK = 'EDGECREW_FD_LIMIT_RAISED';

/** The shell's open-files limit: a number, Infinity for "unlimited", null when it cannot be read. */
export function fdLimit(which = '-S') {
  const r = spawnSync('sh', ['-c', `ulimit ${which} -n`], { encoding: 'utf8', timeout: 5_000 });
  const out = r.stdout?.trim();
  if (r.status !== 0 || !out) return null;
  if (out === 'unlimited') return Infinity;
  const n = Number(out);
  return Number.isFinite(n) ? n : null;
}

/**
 * Makes the soft limit at least `wanted` (or the hard limit, when that is lower): when it is
 * lower, runs this same script again with the raised limit and exits with its status, so this
 * returns only in a process that has the limit, or when it cannot be raised (the caller then
 * works within what it has, as before).
 */
export function raiseFdLimit(wanted) {
  if (process.platform === 'win32' || process.env[MARK]) return;
  const soft = fdLimit('-S');
  if (soft === null || soft >= wanted) return;
  const target = Math.min(wanted, fdLimit('-H') ?? soft);
  if (target <= soft) return;
  // A failed `ulimit` (macOS caps it below an "unlimited" hard limit) still runs the script.
  const r = spawnSync(
    'sh',
    ['-c', `ulimit -S -n ${target} 2>/dev/null; exec "$0" "$@"`, process.execPath, ...process.execArgv, ...process.argv.slice(1)],
    { stdio: 'inherit', env: { ...process.env, [MARK]: '1' } },
  );
  if (r.error) return;
  process.exit(r.status ?? 128 + (constants.signals[r.signal] ?? 0));
}
