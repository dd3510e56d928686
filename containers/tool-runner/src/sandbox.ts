/**
 * One invocation in one bubblewrap sandbox, supervised: fresh user, PID, mount,
 * IPC, UTS and network namespaces; read-only /usr; empty size-capped tmpfs for
 * /work and /tmp; no runner files or environment; rlimits via prlimit; a
 * wall-clock timer that kills the whole tree; caps on every pipe.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { chmod, chown, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { Capture, RunCaptures } from './capture.ts';
import type { RunnerConfig } from './config.ts';
import { type EgressProxy, startEgressProxy } from './egress-proxy.ts';
import { processTree, watchMemory } from './memory-watch.ts';
import type { InvocationRequest, InvocationResult, Runtime } from './protocol.ts';

/** Start-up allowance on top of the tool's timeout (interpreter boot is not the tool's time). */
export const STARTUP_GRACE_MS = 500;
/**
 * RLIMIT_AS headroom over `memoryMb`, a per-process backstop behind the PSS watch
 * (memory-watch.ts). V8 reserves ~1.2 GB of address space per isolate before
 * running any code (each worker thread another ~1 GB), none of it memory in use.
 * Python maps little beyond what it uses, so its limit stays close and a hog
 * gets a clean MemoryError.
 */
const NODE_ADDRESS_SPACE_MB = 8192;
const PYTHON_ADDRESS_SPACE_MB = 128;
/**
 * How long after the sandbox is gone its pipes may take to deliver what was
 * written before the end. The outcome waits for end-of-file on every pipe it
 * judges (a cap passed in the last bytes must count), never for a fixed pause:
 * a pause that ran out under load once let 8 MiB of output pass as `ok`.
 */
const PIPE_EOF_TIMEOUT_MS = 5_000;
const TEARDOWN_TIMEOUT_MS = 5_000;
const SANDBOX_NICE = 10;

// Child file descriptors (see `stdio` below).
const FD = { result: 3, bootstrap: 4, code: 5, status: 6 } as const;
const SANDBOX_ROOT = '/opt/edgecrew';
const EGRESS_SOCKET = '/run/edgecrew/egress.sock';
const PROXY_URL = 'http://127.0.0.1:3128';

export interface Bootstraps {
  node: Buffer;
  python3: Buffer;
}

const ENTRY: Record<Runtime, { bootstrap: string; tool: string }> = {
  node: { bootstrap: `${SANDBOX_ROOT}/bootstrap.mjs`, tool: `${SANDBOX_ROOT}/tool/main.mjs` },
  python3: { bootstrap: `${SANDBOX_ROOT}/bootstrap.py`, tool: `${SANDBOX_ROOT}/tool/main.py` },
};

/** The full bwrap argv for one invocation. Pure, so tests can read it. */
export function bwrapArgs(cfg: RunnerConfig, req: InvocationRequest, egressSocket: string | null): string[] {
  const { bootstrap, tool } = ENTRY[req.runtime];
  const allowNet = egressSocket !== null;
  const cpuSeconds = Math.ceil(req.timeoutMs / 1000) + 1;
  const asMb = req.memoryMb + (req.runtime === 'node' ? NODE_ADDRESS_SPACE_MB : PYTHON_ADDRESS_SPACE_MB);
  const env: Record<string, string> = { PATH: '/usr/local/bin:/usr/bin:/bin', HOME: '/work', TMPDIR: '/tmp', LANG: 'C.UTF-8' };
  if (allowNet) {
    Object.assign(env, {
      HTTP_PROXY: PROXY_URL,
      HTTPS_PROXY: PROXY_URL,
      http_proxy: PROXY_URL,
      https_proxy: PROXY_URL,
      EDGECREW_EGRESS_SOCKET: EGRESS_SOCKET,
    });
  }
  const runtime =
    req.runtime === 'node'
      ? [`${SANDBOX_ROOT}/bin/node`, `--max-old-space-size=${req.memoryMb}`, ...(allowNet ? ['--use-env-proxy'] : []), bootstrap]
      : [cfg.python, '-I', '-B', '-u', bootstrap];
  return [
    '--unshare-all', // user, ipc, pid, net, uts, cgroup
    '--die-with-parent',
    '--new-session',
    '--cap-drop',
    'ALL',
    '--clearenv',
    ...Object.entries(env).flatMap(([k, v]) => ['--setenv', k, v]),
    '--uid',
    '1000',
    '--gid',
    '1000',
    '--hostname',
    'sandbox',
    '--json-status-fd',
    String(FD.status),
    '--ro-bind',
    '/usr',
    '/usr',
    ...mergedUsr(),
    '--ro-bind-try',
    '/etc/ssl',
    '/etc/ssl',
    '--ro-bind-try',
    '/etc/ca-certificates',
    '/etc/ca-certificates',
    '--proc',
    '/proc',
    '--dev',
    '/dev',
    '--size',
    String(cfg.workDirBytes),
    '--tmpfs',
    '/tmp',
    '--size',
    String(cfg.workDirBytes),
    '--tmpfs',
    '/work',
    '--ro-bind',
    cfg.node,
    `${SANDBOX_ROOT}/bin/node`,
    '--ro-bind-data',
    String(FD.bootstrap),
    bootstrap,
    '--ro-bind-data',
    String(FD.code),
    tool,
    ...(allowNet ? ['--bind', egressSocket, EGRESS_SOCKET] : []),
    '--remount-ro',
    '/',
    '--chdir',
    '/work',
    '--',
    cfg.prlimit,
    `--cpu=${cpuSeconds}:${cpuSeconds + 1}`,
    `--as=${asMb * 1024 * 1024}`,
    `--nproc=${cfg.maxProcesses}`,
    `--fsize=${cfg.workDirBytes}`,
    '--nofile=256',
    '--core=0',
    '--',
    ...runtime,
  ];
}

/** A trivial sandbox with the same namespaces, run once at start: fail fast where user namespaces are not allowed. */
export function selfTestArgs(): string[] {
  return [
    '--unshare-all',
    '--die-with-parent',
    '--clearenv',
    '--ro-bind',
    '/usr',
    '/usr',
    ...mergedUsr(),
    '--proc',
    '/proc',
    '--dev',
    '/dev',
    '--tmpfs',
    '/work',
    '--',
    '/usr/bin/true',
  ];
}

/** Debian is merged-/usr: /bin, /lib, /lib64, /sbin are symlinks into /usr. */
function mergedUsr(): string[] {
  return [
    ['usr/bin', '/bin'],
    ['usr/sbin', '/sbin'],
    ['usr/lib', '/lib'],
    ['usr/lib64', '/lib64'],
  ].flatMap(([target, link]) => ['--symlink', target!, link!]);
}

export async function prepareEgress(
  cfg: RunnerConfig,
  hosts: string[],
  asRoot: boolean,
): Promise<{ dir: string; socket: string; proxy: EgressProxy }> {
  const dir = await mkdtemp(path.join(tmpdir(), 'edgecrew-egress-'));
  const socket = path.join(dir, 'egress.sock');
  const { proxy } = await startEgressProxy(socket, hosts, { allowPrivate: cfg.egressAllowPrivate });
  // Only the sandbox's (host) user may reach this invocation's proxy.
  await chmod(socket, 0o600);
  if (asRoot) {
    await chown(dir, cfg.sandboxUid, cfg.sandboxGid);
    await chown(socket, cfg.sandboxUid, cfg.sandboxGid);
  }
  return { dir, socket, proxy };
}

/** Runs one invocation to completion; never throws (failures are typed results). */
export async function runInSandbox(
  cfg: RunnerConfig,
  bootstraps: Bootstraps,
  req: InvocationRequest,
  running: Set<() => void>,
): Promise<InvocationResult> {
  const started = performance.now();
  const asRoot = process.getuid?.() === 0;
  let egress: Awaited<ReturnType<typeof prepareEgress>> | null = null;
  try {
    if (req.network.mode === 'allow') egress = await prepareEgress(cfg, req.network.hosts, asRoot);
  } catch (err) {
    return {
      ok: false,
      error: { type: 'sandbox_error', message: `egress proxy: ${(err as Error).message}` },
      durationMs: 0,
      stdout: '',
      stderr: '',
      stdoutBytes: 0,
      stderrBytes: 0,
    };
  }

  // nice 10: tools yield the CPU to the runner itself (and anything else on the machine) under contention.
  const child = spawn('/usr/bin/nice', ['-n', String(SANDBOX_NICE), cfg.bwrap, ...bwrapArgs(cfg, req, egress?.socket ?? null)], {
    stdio: ['pipe', 'pipe', 'pipe', 'pipe', 'pipe', 'pipe', 'pipe'],
    // No runner environment reaches bwrap either (the sandbox gets --clearenv on top).
    env: {},
    // Own process group, so a kill reaches bwrap and everything it started.
    detached: true,
    ...(asRoot ? { uid: cfg.sandboxUid, gid: cfg.sandboxGid } : {}),
  });
  const pipes = child.stdio as unknown as [Writable, Readable, Readable, Readable, Writable, Writable, Readable];

  let timedOut = false;
  let memoryExceeded = false;
  let spawnError: string | null = null;
  // Every process seen under bwrap when it was killed: the sandbox's PID-namespace init is among them.
  const killed = new Set<number>();
  let exited = false;
  const kill = () => {
    // After the exit the pid may be reused by an unrelated process: never signal it then.
    if (child.pid === undefined || exited) return;
    // The tool runs in its own session (--new-session), so the process group alone does not reach it:
    // kill the whole tree; the namespace's init dying takes every remaining process in it along.
    for (const pid of [...processTree(child.pid)].reverse()) {
      killed.add(pid);
      signal(pid);
    }
    signal(-child.pid);
  };
  running.add(kill);
  const captures = new RunCaptures({ stdout: pipes[1], stderr: pipes[2], result: pipes[FD.result] }, cfg, kill);
  const status = new Capture(pipes[FD.status], 4096, 1 << 20, () => undefined);

  for (const p of pipes) p?.on('error', () => undefined);
  pipes[FD.bootstrap].end(bootstraps[req.runtime]);
  pipes[FD.code].end(req.code);
  // A tool that never reads stdin leaves this write pending; the kill ends it.
  pipes[0].end(JSON.stringify(req.input ?? null));

  const timer = setTimeout(() => {
    if (exited) return;
    timedOut = true;
    kill();
  }, req.timeoutMs + STARTUP_GRACE_MS);
  const memory =
    child.pid === undefined
      ? null
      : watchMemory(child.pid, req.memoryMb * 1024 * 1024, () => {
          if (exited) return;
          memoryExceeded = true;
          kill();
        });

  const exitCode = await new Promise<number | null>((resolve) => {
    child.once('error', (err) => {
      spawnError = err.message;
      resolve(null);
    });
    child.once('exit', (code, signal) => {
      exited = true;
      memory?.stop();
      resolve(code ?? (signal ? 128 + (signalNumber(signal) ?? 0) : null));
    });
  });
  clearTimeout(timer);
  memory?.stop();
  running.delete(kill);
  // Answer only once the tree is really gone: bwrap can exit while the sandbox's init is still tearing
  // its PID namespace down (a fork bomb takes a moment), so wait for that init and anything we killed.
  const init = Number(/"child-pid":\s*(\d+)/.exec(status.buffer().toString('utf8'))?.[1]);
  const pending = [...killed, ...(Number.isInteger(init) && init > 0 ? [init] : [])];
  if (pending.length > 0) await waitGone(pending, TEARDOWN_TIMEOUT_MS);
  // With every writer gone the pipes reach end-of-file once drained: judge only then.
  await waitForPipes([pipes[1], pipes[2], pipes[FD.result], pipes[FD.status]]);
  for (const p of pipes) p?.destroy();
  if (egress) {
    await egress.proxy.close();
    await rm(egress.dir, { recursive: true, force: true });
  }

  return captures.settle(
    {
      timedOut,
      memoryExceeded,
      timeoutMs: req.timeoutMs,
      spawnError,
      sandboxStarted: status.buffer().includes('child-pid'),
      exitCode,
      memoryMb: req.memoryMb,
    },
    cfg,
    started,
  );
}

function signal(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // already gone
  }
}

/** True while `pid` exists and is not a zombie. */
function alive(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z/s.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

async function waitGone(pids: number[], timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (pids.some(alive) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
}

/** Resolves once every stream has ended (or was destroyed), or after `timeoutMs`. */
export function waitForPipes(streams: Readable[], timeoutMs = PIPE_EOF_TIMEOUT_MS): Promise<void> {
  const open = streams.filter((s) => !s.readableEnded && !s.destroyed);
  if (open.length === 0) return Promise.resolve();
  return new Promise((resolve) => {
    let left = open.length;
    const timer = setTimeout(resolve, timeoutMs);
    const one = () => {
      if (--left === 0) {
        clearTimeout(timer);
        resolve();
      }
    };
    for (const s of open) {
      let counted = false;
      const once = () => {
        if (counted) return;
        counted = true;
        one();
      };
      s.once('end', once);
      s.once('close', once);
    }
  });
}

export function signalNumber(signal: NodeJS.Signals): number | undefined {
  return ({ SIGKILL: 9, SIGTERM: 15, SIGABRT: 6, SIGTRAP: 5, SIGSEGV: 11, SIGXCPU: 24, SIGXFSZ: 25 } as Record<string, number>)[signal];
}
