/**
 * Runner configuration, read once from the environment at start. Anything
 * invalid stops the process with a message naming the variable.
 */
import { accessSync, constants, realpathSync } from 'node:fs';

export interface RunnerConfig {
  host: string;
  port: number;
  /** Shared with the Worker; signs every request (HMAC-SHA256). */
  secret: string;
  /** Invocations running at once; beyond it the runner answers 503. */
  concurrency: number;
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
  const path = env[name] || fallback;
  try {
    accessSync(path, constants.X_OK);
    // Bound into sandboxes by real path: a symlink's target may live outside what is bound.
    return realpathSync(path);
  } catch {
    throw new ConfigError(`${name}: ${path} is not an executable file`);
  }
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): RunnerConfig {
  const secret = env.TOOL_RUNNER_SECRET ?? '';
  if (secret.length < 32) throw new ConfigError('TOOL_RUNNER_SECRET must be set to at least 32 characters');
  return {
    host: env.TOOL_RUNNER_HOST || '127.0.0.1',
    port: int(env, 'TOOL_RUNNER_PORT', 8080, 0, 65535),
    secret,
    concurrency: int(env, 'TOOL_RUNNER_CONCURRENCY', 4, 1, 256),
    maxBodyBytes: int(env, 'TOOL_RUNNER_MAX_BODY_BYTES', 2 * 1024 * 1024, 1024, 64 * 1024 * 1024),
    maxOutputBytes: int(env, 'TOOL_RUNNER_MAX_OUTPUT_BYTES', 1024 * 1024, 1024, 64 * 1024 * 1024),
    maxLogBytes: int(env, 'TOOL_RUNNER_MAX_LOG_BYTES', 1024 * 1024, 1024, 64 * 1024 * 1024),
    excerptBytes: int(env, 'TOOL_RUNNER_EXCERPT_BYTES', 8 * 1024, 0, 1024 * 1024),
    workDirBytes: int(env, 'TOOL_RUNNER_WORKDIR_BYTES', 64 * 1024 * 1024, 1024 * 1024, 4 * 1024 * 1024 * 1024),
    maxProcesses: int(env, 'TOOL_RUNNER_MAX_PROCESSES', 64, 16, 4096),
    bwrap: executable(env, 'TOOL_RUNNER_BWRAP', '/usr/bin/bwrap'),
    prlimit: executable(env, 'TOOL_RUNNER_PRLIMIT', '/usr/bin/prlimit'),
    node: executable(env, 'TOOL_RUNNER_NODE', process.execPath),
    python: executable(env, 'TOOL_RUNNER_PYTHON', '/usr/bin/python3'),
    sandboxUid: int(env, 'TOOL_RUNNER_SANDBOX_UID', 65534, 1, 2 ** 31 - 1),
    sandboxGid: int(env, 'TOOL_RUNNER_SANDBOX_GID', 65534, 1, 2 ** 31 - 1),
    egressAllowPrivate: env.TOOL_RUNNER_EGRESS_ALLOW_PRIVATE === '1',
  };
}
