#!/usr/bin/env node
/**
 * `npm start`: the whole system on this machine.
 *   1. `.dev.vars` with fresh local secrets (created once, never overwritten)
 *   2. D1 migrations applied to the local database, and the web console built when its sources changed
 *      (console/ → console/dist, served by the Worker at `/`; docs/console.md)
 *   3. the services below (wrangler dev → workerd with local D1, Durable Objects, Queues)
 *   4. wait for GET /health/ready
 *   5. the demo tenant seeded through the public API (scripts/seed.mjs), then a summary
 * Ctrl-C (SIGINT) or SIGTERM stops every service, including workerd.
 *
 * The tool runner: by default the runner as a local process, which picks its own
 * sandbox (bubblewrap where user namespaces work, WebAssembly otherwise; printed at
 * the end). With --containers (or EDGECREW_CONTAINERS=1) and a reachable Docker
 * engine, wrangler dev builds and runs the real tool-runner image instead, the
 * production path. Nothing optional (bubblewrap, Docker) is required to start.
 *
 * Options: PORT (default 8787), --no-seed, --containers, --help.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureConsoleBuilt } from './console-build.mjs';
import { ensureDevVars, parseDotenvKeys } from './lib/dev-vars.mjs';
import { logger, runToCompletion, startProcess, watchLauncher } from './lib/proc.mjs';
import { wranglerBin } from './lib/tools.mjs';
import { CREDENTIALS_PATH, seedDemo } from './seed.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const HOST = '127.0.0.1';
const READY_TIMEOUT_MS = 60_000;
const STOP_GRACE_MS = 10_000;
const log = logger('start');

const USAGE = `Usage: npm start [-- --no-seed] [-- --containers]

Runs Edgecrew locally: wrangler dev (workerd) with local D1, Durable Objects and Queues,
and the tool runner (sandbox chosen automatically: bubblewrap, else WebAssembly).
  PORT=8787      port to listen on (127.0.0.1)
  --no-seed      do not create/log in the demo tenant
  --containers   run the tool-runner image through wrangler's local containers
                 (needs a reachable Docker engine; same as EDGECREW_CONTAINERS=1)`;

// ---------------------------------------------------------------------------
// options
// ---------------------------------------------------------------------------
const argv = process.argv.slice(2);
if (argv.includes('--help') || argv.includes('-h')) {
  console.log(USAGE);
  process.exit(0);
}
const unknown = argv.filter((a) => !['--no-seed', '--containers'].includes(a));
if (unknown.length > 0) fail(`unknown option ${unknown.join(' ')}\n\n${USAGE}`);
const seed = !argv.includes('--no-seed');
const containersAsked = argv.includes('--containers') || process.env.EDGECREW_CONTAINERS === '1';
const port = Number(process.env.PORT || 8787);
if (!Number.isInteger(port) || port < 1 || port > 65535) fail(`PORT must be a port number, got ${JSON.stringify(process.env.PORT)}`);
const baseUrl = `http://${HOST}:${port}`;

// Node: the same binary runs wrangler, so it must be new enough for wrangler.
const nodeMajor = Number(process.versions.node.split('.')[0]);
if (nodeMajor < 22)
  fail(
    `Node ${process.versions.node} is too old for wrangler. Run \`npm start\` (it uses the project's pinned Node 24 from node_modules).`,
  );

let WRANGLER;
try {
  WRANGLER = wranglerBin();
} catch {
  fail('wrangler is not installed. Run `npm install` first.');
}
const wrangler = (...args) => ({ command: process.execPath, args: [WRANGLER, ...args], cwd: ROOT });

// ---------------------------------------------------------------------------
// services: one entry each; `ready` (optional) is polled before seeding
// ---------------------------------------------------------------------------
/** Whether a Docker engine answers (`docker info`); the reason when not. */
function dockerEngine() {
  const r = spawnSync(process.env.WRANGLER_DOCKER_BIN || 'docker', ['info', '--format', '{{.ServerVersion}}'], {
    encoding: 'utf8',
    timeout: 15_000,
  });
  if (r.error) return { ok: false, reason: r.error.code === 'ENOENT' ? 'the docker CLI is not installed' : r.error.message };
  if (r.status !== 0) return { ok: false, reason: (r.stderr || r.stdout).trim().split('\n').pop() || `docker info exited ${r.status}` };
  return { ok: true, version: r.stdout.trim() };
}

// The tool runner (containers/tool-runner), the same start script the container image runs; its
// port and secret come from .dev.vars (TOOL_RUNNER_URL, TOOL_RUNNER_SECRET), filled in by main().
const toolRunner = {
  name: 'tool-runner',
  command: process.execPath,
  args: [resolve(ROOT, 'containers', 'tool-runner', 'src', 'main.ts')],
  cwd: ROOT,
  env: {},
};
const api = {
  name: 'api',
  // --enable-containers=false: the [[containers]] entry is production's runner; locally it is the process above.
  // --minify=false: wrangler.toml minifies what is deployed; locally the Worker's logged stacks stay readable.
  ...wrangler(
    'dev',
    '--port',
    String(port),
    '--ip',
    HOST,
    '--local',
    '--show-interactive-dev-session=false',
    '--enable-containers=false',
    '--minify=false',
  ),
  ready: `${baseUrl}/health/ready`,
};
const SERVICES = [toolRunner, api];
/** 'process' (the runner beside wrangler dev) or 'container' (wrangler's local containers run the image). */
let runnerHost = 'process';

/** --containers: the real image through wrangler's local containers, when a Docker engine answers; otherwise say why and run the process. */
function chooseRunnerHost() {
  if (!containersAsked) return;
  const docker = dockerEngine();
  if (!docker.ok) {
    log.error(`--containers: no Docker engine is reachable (${docker.reason}).`);
    log.error('Running the tool runner as a local process instead. Start Docker (or point DOCKER_HOST at one) to use local containers.');
    return;
  }
  log.info(
    `--containers: Docker ${docker.version} answers; wrangler dev builds and runs containers/tool-runner (the first build takes a while).`,
  );
  runnerHost = 'container';
  SERVICES.splice(SERVICES.indexOf(toolRunner), 1);
  // The Worker reaches the container through the TOOL_RUNNER binding once TOOL_RUNNER_URL is empty (src/tools/runner-client.ts).
  api.args = api.args.map((a) => (a === '--enable-containers=false' ? '--enable-containers' : a)).concat(['--var', 'TOOL_RUNNER_URL:']);
}

/** Points the tool-runner service at .dev.vars' TOOL_RUNNER_URL and secret. */
function configureToolRunner() {
  const vars = parseDotenvKeys(readFileSync(resolve(ROOT, '.dev.vars'), 'utf8'));
  const value = (key) => (vars.get(key) ?? '').replace(/^(['"])(.*)\1$/, '$2');
  const url = new URL(value('TOOL_RUNNER_URL') || 'http://127.0.0.1:8790');
  toolRunner.env = { TOOL_RUNNER_SECRET: value('TOOL_RUNNER_SECRET'), TOOL_RUNNER_HOST: url.hostname, TOOL_RUNNER_PORT: url.port || '80' };
  toolRunner.ready = `${url.origin}/health`;
  return url;
}

// ---------------------------------------------------------------------------
// lifecycle
// ---------------------------------------------------------------------------
const running = new Set();
let stopping = false;
let lastSignalAt = 0;

function fail(message) {
  logger('start').error(`error: ${message}`);
  process.exit(1);
}

async function stopAll(signal = 'SIGINT') {
  await Promise.all([...running].map((p) => p.stop(signal, STOP_GRACE_MS)));
}

async function shutdown(code, signal = 'SIGINT') {
  if (stopping) return;
  stopping = true;
  if (running.size > 0) log.info('stopping…');
  await stopAll(signal);
  process.exit(code);
}

for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(sig, () => {
    const now = Date.now();
    // npm forwards the terminal's Ctrl-C too, so one keypress can arrive twice.
    if (stopping && now - lastSignalAt > 1500) {
      log.error('forced stop');
      for (const p of running) p.kill();
      process.exit(1);
    }
    lastSignalAt = now;
    void shutdown(0, sig === 'SIGHUP' ? 'SIGTERM' : sig);
  });
}
watchLauncher(() => {
  if (stopping) return;
  log.error('the process that started us is gone; stopping');
  void shutdown(0, 'SIGTERM');
});
process.on('exit', () => {
  for (const p of running) p.kill();
});

function track(proc) {
  running.add(proc);
  proc.exited.then(() => running.delete(proc));
  return proc;
}

function portFree(p) {
  return new Promise((ok) => {
    const srv = createServer();
    srv.once('error', () => ok(false));
    srv.listen(p, HOST, () => srv.close(() => ok(true)));
  });
}

async function waitReady(proc, url) {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  let last = 'no answer yet';
  while (Date.now() < deadline) {
    if (!proc.running) return { ok: false, reason: `${proc.name} exited before it was ready` };
    try {
      const res = await fetch(url, {
        signal: AbortSignal.timeout(Math.max(1000, Math.min(15_000, deadline - Date.now()))),
        headers: { 'cf-connecting-ip': HOST },
      });
      if (res.status === 200) return { ok: true };
      last = `${res.status} ${(await res.text()).slice(0, 300)}`;
    } catch (err) {
      last = err.cause?.code ?? err.message;
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  return { ok: false, reason: `GET ${url} did not answer 200 within ${READY_TIMEOUT_MS / 1000} s (last: ${last})` };
}

/** Open on the right so a long line (the curl example) wraps instead of breaking the frame. */
function box(title, rows) {
  const rule = '─'.repeat(Math.max(20, Math.min(78, Math.max(...rows.map((l) => l.length + 2))) - title.length - 3));
  return [`┌─ ${title} ${rule}`, ...rows.map((l) => (l ? `│ ${l}` : '│')), `└${'─'.repeat(title.length + rule.length + 3)}`].join('\n');
}

/** The sandbox the runner reports through the API's readiness check (works for the process and the container). */
async function runnerSandbox() {
  try {
    const res = await fetch(`${baseUrl}/health/ready`, { signal: AbortSignal.timeout(10_000), headers: { 'cf-connecting-ip': HOST } });
    const body = await res.json();
    let reason = null;
    if (runnerHost === 'process' && toolRunner.ready) {
      reason = (await (await fetch(toolRunner.ready, { signal: AbortSignal.timeout(5_000) })).json()).sandboxReason ?? null;
    }
    return { mode: body.checks?.toolRunner?.sandbox ?? null, reason };
  } catch {
    return { mode: null, reason: null };
  }
}

function summary(creds, sandbox) {
  const where = runnerHost === 'container' ? 'local container (wrangler dev, Docker)' : toolRunner.ready?.replace(/\/health$/, '');
  const mode = sandbox.mode === 'bwrap' ? 'bubblewrap' : sandbox.mode === 'wasm' ? 'WebAssembly (Pyodide, QuickJS)' : 'unknown';
  const rows = [
    `Console      ${baseUrl}/`,
    `API          ${baseUrl}/v1`,
    `Docs         ${baseUrl}/docs`,
    `OpenAPI      ${baseUrl}/openapi.json`,
    `Health       ${baseUrl}/health/ready`,
    `Tool runner  ${where}`,
    `Sandbox      ${mode}`,
    '',
  ];
  if (creds) {
    rows.push(
      `Demo login   ${creds.email} / ${creds.password}`,
      `Tenant       ${creds.tenantName} (${creds.tenantId})`,
      `API key      ${creds.apiKey}   (admin; ${creds.apiKeyCreated ? 'new' : 'reused'})`,
      `Saved in     ${CREDENTIALS_PATH.replace(`${ROOT}/`, '')}`,
      '',
      'Try it:',
      `  curl -H "Authorization: Bearer ${creds.apiKey}" ${baseUrl}/v1/me`,
      '',
    );
  } else {
    rows.push(`Demo tenant  not seeded${seed ? ' (see the warning above)' : ' (--no-seed)'}`, '');
  }
  rows.push('Stop         Ctrl-C');
  return box('Edgecrew is running locally', rows);
}

// ---------------------------------------------------------------------------
// main
// ---------------------------------------------------------------------------
async function main() {
  const vars = await ensureDevVars({ examplePath: resolve(ROOT, '.dev.vars.example'), devVarsPath: resolve(ROOT, '.dev.vars') });
  if (vars.created) log.info('created .dev.vars with fresh local secrets (mode 0600)');
  if (vars.appended.length > 0) log.info(`added ${vars.appended.join(', ')} to .dev.vars`);
  for (const key of vars.empty)
    log.error(`warning: ${key} is empty in .dev.vars; sign-in will fail. Delete that line and run npm start again to generate it.`);

  chooseRunnerHost();
  const runnerUrl = configureToolRunner();
  if (runnerHost === 'process' && !(await portFree(Number(runnerUrl.port))))
    fail(`port ${runnerUrl.port} for the tool runner (TOOL_RUNNER_URL in .dev.vars) is in use. Stop it or change TOOL_RUNNER_URL.`);
  if (!(await portFree(port)))
    fail(`port ${port} on ${HOST} is in use (another npm start?). Stop it or choose another: PORT=8788 npm start`);

  try {
    await ensureConsoleBuilt({ log: (m) => log.info(m) });
  } catch (err) {
    fail(err.message);
  }
  if (stopping) return;

  log.info('applying D1 migrations to the local database…');
  const migrate = await runToCompletion(
    { name: 'migrate', ...wrangler('d1', 'migrations', 'apply', 'DB', '--local'), env: { CI: 'true' } },
    track,
  );
  if (stopping) return;
  if (migrate !== 0) fail(`D1 migrations failed (exit ${migrate}); see the [migrate] output above.`);

  for (const spec of SERVICES) {
    const proc = track(startProcess(spec));
    proc.exited.then(({ code, signal }) => {
      if (stopping) return;
      log.error(`${proc.name} exited (${signal ?? `code ${code}`}); stopping everything`);
      void shutdown(code || 1);
    });
    spec.proc = proc;
  }

  for (const spec of SERVICES.filter((s) => s.ready)) {
    log.info(`waiting for ${spec.ready} …`);
    const ready = await waitReady(spec.proc, spec.ready);
    if (stopping) return;
    if (!ready.ok) {
      log.error(`error: ${ready.reason}`);
      return shutdown(1);
    }
  }

  const sandbox = await runnerSandbox();
  if (stopping) return;
  if (sandbox.mode) log.info(`tool sandbox: ${sandbox.mode}${sandbox.reason ? ` (${sandbox.reason})` : ''}`);
  else log.error("warning: could not read the tool runner's sandbox mode from /health/ready.");

  let creds;
  if (seed) {
    try {
      creds = await seedDemo({ baseUrl, log: (m) => log.info(`seed: ${m}`) });
    } catch (err) {
      if (stopping) return;
      log.error(`warning: could not seed the demo tenant: ${err.message}`);
      if (err.hint) log.error(err.hint);
      log.error('The API is still running.');
    }
  }
  if (stopping) return;
  process.stdout.write(`\n${summary(creds, sandbox)}\n\n`);
}

main().catch((err) => {
  log.error(err?.stack ?? String(err));
  void shutdown(1);
});
