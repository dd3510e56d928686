/**
 * The tool runner's one start script: the container image's entrypoint, what
 * `npm start` runs beside the Worker, and what the tests start. Node >= 24 runs
 * this TypeScript directly (type stripping); there is no build step.
 *
 *   TOOL_RUNNER_SECRET=… node containers/tool-runner/src/main.ts
 *
 * Environment: see src/config.ts. Logs are JSON lines on stdout; the first ones,
 * `{"msg":"sandbox","mode":…}` and `{"msg":"listening","port":…}`, tell a parent
 * process the isolation mode and the port (useful with TOOL_RUNNER_PORT=0).
 */
import { ConfigError, loadConfig, type RunnerConfig } from './config.ts';
import { createIsolation } from './isolation.ts';
import { chooseMode } from './mode.ts';
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

// bubblewrap where it can create a sandbox here (probed), WebAssembly otherwise; TOOL_SANDBOX forces one.
const choice = chooseMode(config);
if (!choice.ok) {
  process.stderr.write(`tool-runner: ${choice.message}\n`);
  process.exit(1);
}
log('sandbox', { mode: choice.mode, reason: choice.reason });
const isolation = createIsolation(config, choice.mode, choice.reason, log);
// The secret stays in this process only: sandboxes get --clearenv / an empty environment.
delete process.env.TOOL_RUNNER_SECRET;

const runner = createRunner(config, isolation, log);
runner.server.listen(config.port, config.host, () => {
  const address = runner.server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  log('listening', { host: config.host, port, sandbox: choice.mode, concurrency: config.concurrency, uid: process.getuid?.() });
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
// Sandboxes die with us (--die-with-parent; wasm guests are killed here); a crash still kills them first.
process.on('exit', () => runner.killAll());
