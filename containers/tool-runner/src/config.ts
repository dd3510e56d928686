/**
 * Runner configuration, read once from the environment at start. Anything
 * invalid stops the process with a message naming the variable. Executables
 * only the bubblewrap mode needs (bwrap, prlimit, python3) are not required:
 * their absence is recorded in `unavailable` and decides the sandbox mode.
 */
import { accessSync, constants, realpathSync } from 'node:fs';

export const SANDBOX_MODES = ['bwrap', 'wasm'] as const;
export type SandboxMode = (typeof SANDBOX_MODES)[number];

export interface RunnerConfig {
  /** TOOL_SANDBOX: a forced mode, or `auto` (bubblewrap when it can create a sandbox here, otherwise wasm). */
  sandbox: SandboxMode | 'auto';
  /** Pre-started, never-used interpreters kept per runtime in wasm mode (hides Pyodide's start-up). */
  wasmPoolSize: number;
  host: string;
  port: number;
  /** Shared with the Worker; signs every request (HMAC-SHA256). */
  secret: string;
  /** Invocations running at once; beyond it the runner answers 503. */
  concurrency: number;
  /**
   * Invocations one tenant (the request's `tenant`) may run at once, so one tenant's burst never takes every
   * sandbox; beyond it that tenant gets 503 `tenant_busy`. Default: half of `concurrency` (at least 1).
   */
  tenantConcurrency: number;
  /** Largest request body accepted, bytes. */
  maxBodyBytes: number;
  /** Largest result (`main`'s JSON) accepted from a tool, bytes. */
  maxOutputBytes: number;
  /** Bytes of stdout and of stderr a tool may write before it is killed. */
  maxLogBytes: number;
  /** Bytes of stdout/stderr returned as excerpts. */
  excerptBytes: number;
  /** Size of each sandbox's /work and /tmp tmpfs, bytes. */
  workDirBytes: number;
  /** Processes/threads a sandbox may have (RLIMIT_NPROC inside its user namespace). */
  maxProcesses: number;
  bwrap: string;
  prlimit: string;
  node: string;
  python: string;
  /** Host uid/gid sandboxes run as when the runner is root (never root itself). */
  sandboxUid: number;
  sandboxGid: number;
  /** Tests only: let the egress proxy reach loopback/private addresses. */
  egressAllowPrivate: boolean;
  /** Why bubblewrap mode cannot run here, one message per missing executable (empty when all exist). */
  unavailable: string[];
}

export class ConfigError extends Error {}

function int(env: NodeJS.ProcessEnv, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const v = Number(raw);
  if (!Number.isInteger(v) || v < min || v > max)
    throw new ConfigError(`${name} must be an integer in [${min}, ${max}], got ${JSON.stringify(raw)}`);
  return v;
}

function executable(env: NodeJS.ProcessEnv, name: string, fallback: string): string {
  const found = optionalExecutable(env, name, fallback);
  if (found.error) throw new ConfigError(found.error);
  return found.path;
}

/** The executable's real path, or the configured path and why it cannot be used. */
function optionalExecutable(env: NodeJS.ProcessEnv, name: string, fallback: string): { path: string; error: string | null } {
  const path = env[name] || fallback;
  try {
    accessSync(path, constants.X_OK);
    // Bound into sandboxes by real path: a symlink's target may live outside what is bound.
    return { path: realpathSync(path), error: null };
  } catch {
    return { path, error: `${name}: ${path} is not an executable file` };
  }
}

function sandboxMode(env: NodeJS.ProcessEnv): SandboxMode | 'auto' {
  const raw = env.TOOL_SANDBOX || 'auto';
  if (raw === 'auto' || (SANDBOX_MODES as readonly string[]).includes(raw)) return raw as SandboxMode | 'auto';
  throw new ConfigError(`TOOL_SANDBOX must be one of auto, ${SANDBOX_MODES.join(', ')}; got ${JSON.stringify(raw)}`);
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): RunnerConfig {
  const secret = env.TOOL_RUNNER_SECRET ?? '';
  const concurrency = int(env, 'TOOL_RUNNER_CONCURRENCY', 4, 1, 256);
  if (secret.length < 32) throw new ConfigError('TOOL_RUNNER_SECRET must be set to at least 32 characters');
  const bwrap = optionalExecutable(env, 'TOOL_RUNNER_BWRAP', '/usr/bin/bwrap');
  const prlimit = optionalExecutable(env, 'TOOL_RUNNER_PRLIMIT', '/usr/bin/prlimit');
  const python = optionalExecutable(env, 'TOOL_RUNNER_PYTHON', '/usr/bin/python3');
  return {
    sandbox: sandboxMode(env),
    wasmPoolSize: int(env, 'TOOL_RUNNER_WASM_POOL', 2, 0, 64),
    host: env.TOOL_RUNNER_HOST || '127.0.0.1',
    port: int(env, 'TOOL_RUNNER_PORT', 8080, 0, 65535),
    secret,
    concurrency,
    tenantConcurrency: Math.min(concurrency, int(env, 'TOOL_RUNNER_TENANT_CONCURRENCY', Math.max(1, Math.ceil(concurrency / 2)), 1, 256)),
    maxBodyBytes: int(env, 'TOOL_RUNNER_MAX_BODY_BYTES', 2 * 1024 * 1024, 1024, 64 * 1024 * 1024),
    maxOutputBytes: int(env, 'TOOL_RUNNER_MAX_OUTPUT_BYTES', 1024 * 1024, 1024, 64 * 1024 * 1024),
    maxLogBytes: int(env, 'TOOL_RUNNER_MAX_LOG_BYTES', 1024 * 1024, 1024, 64 * 1024 * 1024),
    excerptBytes: int(env, 'TOOL_RUNNER_EXCERPT_BYTES', 8 * 1024, 0, 1024 * 1024),
    workDirBytes: int(env, 'TOOL_RUNNER_WORKDIR_BYTES', 64 * 1024 * 1024, 1024 * 1024, 4 * 1024 * 1024 * 1024),
    maxProcesses: int(env, 'TOOL_RUNNER_MAX_PROCESSES', 64, 16, 4096),
    bwrap: bwrap.path,
    prlimit: prlimit.path,
    node: executable(env, 'TOOL_RUNNER_NODE', process.execPath),
    python: python.path,
    sandboxUid: int(env, 'TOOL_RUNNER_SANDBOX_UID', 65534, 1, 2 ** 31 - 1),
    sandboxGid: int(env, 'TOOL_RUNNER_SANDBOX_GID', 65534, 1, 2 ** 31 - 1),
    egressAllowPrivate: env.TOOL_RUNNER_EGRESS_ALLOW_PRIVATE === '1',
    unavailable: [bwrap.error, prlimit.error, python.error].filter((e): e is string => e !== null),
  };
}
