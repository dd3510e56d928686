/**
 * The tool runner's one start script: the container image's entrypoint, what
 * `npm start` runs beside the Worker, and what the tests start. Node >= 24 runs
 * this TypeScript directly (type stripping); there is no build step.
 *
 *   TOOL_RUNNER_SECRET=… node containers/tool-runner/src/main.ts
 *
 * Environment: see src/config.ts. Logs are JSON lines on stdout; the first one,
 * `{"msg":"listening","port":…}`, tells a parent process the port (useful with
 * TOOL_RUNNER_PORT=0).
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { ConfigError, loadConfig, type RunnerConfig } from './config.ts';
import { selfTestArgs } from './sandbox.ts';
import { createRunner } from './server.ts';

const major = Number(process.versions.node.split('.')[0]);
if (major < 24) {
  process.stderr.write(`tool-runner: Node ${process.versions.node} is too old; it needs Node 24+ (type stripping).\n`);
  process.exit(1);
}

function log(msg: string, fields: Record<string, unknown> = {}): void {
  process.stdout.write(`${JSON.stringify({ time: new Date().toISOString(), msg, ...fields })}\n`);
}

let config: RunnerConfig;
try {
  config = loadConfig();
} catch (err) {
  if (!(err instanceof ConfigError)) throw err;
  process.stderr.write(`tool-runner: ${err.message}\n`);
  process.exit(1);
}

// Refuse to serve if the kernel or the container's seccomp profile forbids the namespaces we rely on.
const asRoot = process.getuid?.() === 0;
const probe = spawnSync(config.bwrap, selfTestArgs(), {
  env: {},
  timeout: 10_000,
  encoding: 'utf8',
  ...(asRoot ? { uid: config.sandboxUid, gid: config.sandboxGid } : {}),
});
if (probe.status !== 0) {
  process.stderr.write(
    `tool-runner: bubblewrap cannot create a sandbox here (exit ${probe.status ?? probe.signal}): ${(probe.stderr || probe.error?.message || '').trim()}\n` +
      'Unprivileged user namespaces must be allowed (sysctl kernel.unprivileged_userns_clone=1 / user.max_user_namespaces > 0, no seccomp filter on clone/unshare).\n',
  );
  process.exit(1);
}

const bootstraps = {
  node: readFileSync(new URL('../bootstrap/node.mjs', import.meta.url)),
  python3: readFileSync(new URL('../bootstrap/python.py', import.meta.url)),
};
// The secret stays in this process only: sandboxes get --clearenv and bwrap an empty env.
delete process.env.TOOL_RUNNER_SECRET;

const runner = createRunner(config, bootstraps, log);
runner.server.listen(config.port, config.host, () => {
  const address = runner.server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  log('listening', { host: config.host, port, concurrency: config.concurrency, uid: process.getuid?.() });
});

let stopping = false;
function stop(signal: string): void {
  if (stopping) return;
  stopping = true;
  log('stopping', { signal, active: runner.active() });
  runner.killAll();
  runner.server.close(() => process.exit(0));
  runner.server.closeAllConnections();
  setTimeout(() => process.exit(0), 2_000).unref();
}
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, () => stop(signal));
// Sandboxes die with us (--die-with-parent); a crash still kills them first.
process.on('exit', () => runner.killAll());
