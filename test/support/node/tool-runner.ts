/**
 * Starts the real tool runner (containers/tool-runner/src/main.ts, the image's
 * entrypoint) as a child process for tests, `npm start` and benchmarks, and
 * signs requests to it the way the Worker does.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../../../containers/tool-runner/src/config.ts';
import { probeBwrap } from '../../../containers/tool-runner/src/mode.ts';

export const RUNNER_ENTRY = fileURLToPath(new URL('../../../containers/tool-runner/src/main.ts', import.meta.url));

export type SandboxMode = 'bwrap' | 'wasm';

/**
 * The isolation modes to test, each with why it cannot run on this machine (null when it can).
 * bubblewrap needs user namespaces and the bwrap/prlimit/python3 executables; wasm needs nothing.
 */
export function sandboxModes(): { mode: SandboxMode; skip: string | null }[] {
  const cfg = loadConfig({ ...process.env, TOOL_RUNNER_SECRET: 'probe-only-0123456789abcdef0123456789' });
  return [
    { mode: 'bwrap', skip: probeBwrap(cfg) },
    { mode: 'wasm', skip: null },
  ];
}

export interface RunningToolRunner {
  url: string;
  /** The isolation mode the runner reported at start. */
  sandbox: SandboxMode;
  port: number;
  secret: string;
  /** Everything the runner printed (JSON log lines and stderr). */
  readonly output: string[];
  readonly process: ChildProcess;
  stop(): Promise<void>;
}

export interface StartToolRunnerOptions {
  secret: string;
  /** 0 (default) picks a free port. */
  port?: number;
  /** Extra TOOL_RUNNER_* variables (concurrency, caps, …). */
  env?: Record<string, string>;
  /** Echo the runner's output to this process's stderr. */
  echo?: boolean;
  /** TOOL_SANDBOX for the runner (default: its own choice). */
  sandbox?: SandboxMode;
  /** In wasm mode, resolve only once every runtime's warm pool is full (default true). */
  warm?: boolean;
}

export async function startToolRunner(options: StartToolRunnerOptions): Promise<RunningToolRunner> {
  const output: string[] = [];
  // process.execPath: the Node running the tests is the pinned Node 24 (npm scripts put it on PATH).
  const child = spawn(process.execPath, [RUNNER_ENTRY], {
    env: {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      TOOL_RUNNER_SECRET: options.secret,
      TOOL_RUNNER_HOST: '127.0.0.1',
      TOOL_RUNNER_PORT: String(options.port ?? 0),
      ...(options.sandbox ? { TOOL_SANDBOX: options.sandbox } : {}),
      ...options.env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`tool runner did not start within 15 s:\n${output.join('')}`)), 15_000);
    const onLine = (chunk: Buffer) => {
      const text = chunk.toString('utf8');
      output.push(text);
      if (options.echo) process.stderr.write(`[tool-runner] ${text}`);
      const m = /"msg":"listening".*?"port":(\d+)/.exec(text);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    };
    child.stdout!.on('data', onLine);
    child.stderr!.on('data', onLine);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`tool runner exited (${code}) before listening:\n${output.join('')}`));
    });
  });
  const exited = new Promise<void>((resolve) => (child.exitCode !== null ? resolve() : child.once('exit', () => resolve())));
  const url = `http://127.0.0.1:${port}`;
  const sandbox = (/"msg":"sandbox","mode":"(\w+)"/.exec(output.join(''))?.[1] ?? 'bwrap') as SandboxMode;
  if (sandbox === 'wasm' && options.warm !== false) await waitWarm(url);
  return {
    url,
    sandbox,
    port,
    secret: options.secret,
    output,
    process: child,
    async stop() {
      if (child.exitCode === null) child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** Polls the runner's /health until every runtime's warm pool is full (Pyodide loads take seconds). */
export async function waitWarm(url: string, timeoutMs = 180_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown = null;
  while (Date.now() < deadline) {
    const health = (await (await fetch(`${url}/health`)).json()) as { pool?: Record<string, { idle: number; starting: number }> };
    last = health;
    const pools = Object.values(health.pool ?? {});
    if (pools.length > 0 && pools.every((p) => p.starting === 0 && p.idle > 0)) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`the runner's warm pool did not fill within ${timeoutMs / 1000} s: ${JSON.stringify(last)}`);
}

/** Headers signing `body` for `method path` (the runner's HMAC scheme, see containers/tool-runner/src/auth.ts). */
export function signHeaders(secret: string, method: string, path: string, body: string, timestamp = Date.now()): Record<string, string> {
  const ts = String(timestamp);
  const signature = createHmac('sha256', secret).update(`${ts}.${method.toUpperCase()}.${path}.`).update(body).digest('hex');
  return { 'x-edgecrew-timestamp': ts, 'x-edgecrew-signature': signature, 'content-type': 'application/json' };
}

export interface InvocationBody {
  id?: string;
  /** The tenant invoking (the runner caps each tenant's share of its sandboxes); none by default. */
  tenant?: string;
  runtime: 'node' | 'python3';
  code: string;
  input?: unknown;
  timeoutMs?: number;
  memoryMb?: number;
  network?: { mode: 'none' } | { mode: 'allow'; hosts: string[] };
}

let seq = 0;
/** POST /v1/invocations, signed; returns the status and parsed body. */
export async function invokeRunner(
  runner: { url: string; secret: string },
  body: InvocationBody,
): Promise<{ status: number; body: any; headers: Headers }> {
  seq += 1;
  const text = JSON.stringify({ id: `t${seq}`, input: {}, timeoutMs: 5_000, memoryMb: 128, network: { mode: 'none' }, ...body });
  const res = await fetch(`${runner.url}/v1/invocations`, {
    method: 'POST',
    body: text,
    headers: signHeaders(runner.secret, 'POST', '/v1/invocations', text),
  });
  const raw = await res.text();
  let parsed: unknown = raw;
  try {
    parsed = JSON.parse(raw);
  } catch {
    // keep the text
  }
  return { status: res.status, body: parsed, headers: res.headers };
}
